"""The ``minikafka_broker`` fixture, as the entry point registers it for any project."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import trio

from minikafka import Consumer, Producer
from minikafka.testing import running_broker

README = Path(__file__).parents[2] / "README.md"


def readme_pytest_example() -> str:
    section = README.read_text().split("## Testing your code against MiniKafka", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the README's pytest example is missing"
    return match.group(1)


def test_the_readme_example_passes_in_a_project_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "test_orders.py").write_text(readme_pytest_example())
    # no conftest and no -p option: the plugin is found through its entry point
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_orders.py"],
        cwd=tmp_path, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert b"1 passed" in result.stdout


def test_the_fixture_in_a_plain_test(minikafka_broker: str) -> None:
    assert re.fullmatch(r"127\.0\.0\.1:\d+", minikafka_broker)
    with Producer(minikafka_broker) as producer:
        assert producer.send("plain", b"x") == 1


async def test_the_fixture_in_a_trio_test(minikafka_broker: str) -> None:
    from minikafka.trio import Consumer as TrioConsumer
    from minikafka.trio import Producer as TrioProducer

    async with TrioProducer(minikafka_broker) as producer:
        assert await producer.send("trio", b"x") == 1  # a fresh broker for each test
    async with TrioConsumer(minikafka_broker, "trio") as consumer:
        assert [m.value for m in await consumer.poll(timeout=2)] == [b"x"]
    await trio.sleep(0)


def test_a_broker_starts_well_under_a_second() -> None:
    started = time.monotonic()
    with running_broker() as broker:
        ready = time.monotonic() - started
        with Consumer(broker.address, "t") as consumer:
            assert consumer.poll(timeout=0) == []
    assert ready < 0.5
