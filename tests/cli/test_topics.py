"""``minikafka topics``, run as users run it: a subprocess against a broker on a free port."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from minikafka.client._blocking import Producer
from minikafka.server.config import Config
from minikafka.testing import RunningBroker, running_broker


@pytest.fixture(scope="module")
def broker() -> Iterator[RunningBroker]:
    with running_broker(Config(default_partitions=2)) as running:
        yield running


def minikafka(*arguments: str, broker: RunningBroker | None = None) -> subprocess.CompletedProcess[str]:
    host = ["--host", broker.address] if broker is not None else []
    return subprocess.run([sys.executable, "-m", "minikafka", *arguments, *host],
                          capture_output=True, text=True, timeout=60, check=False)


def test_create_list_describe_delete(broker: RunningBroker) -> None:
    created = minikafka("topics", "create", "orders", "--partitions", "3",
                        "--config", "retention.ms=60000", broker=broker)
    assert (created.returncode, created.stdout, created.stderr) == (
        0, "created orders with 3 partitions\n", "")
    with Producer(broker.address) as producer:
        assert producer.send_many("orders", [b"a", b"b"]) == [1, 2]  # partition 0

    listed = minikafka("topics", "list", broker=broker)
    assert listed.returncode == 0
    assert "orders  3" in listed.stdout.splitlines()

    described = minikafka("topics", "describe", "orders", broker=broker)
    assert described.returncode == 0, described.stderr
    lines = described.stdout.splitlines()
    assert lines[0] == "topic orders: 3 partitions"
    rows = [line.split() for line in lines if line[:1].isdigit()]
    assert rows == [["0", "1", "3", "2"], ["1", "1", "1", "0"], ["2", "1", "1", "0"]]
    settings = {line.split()[0]: line.split()[1:] for line in lines
                if line.split() and "." in line.split()[0]}
    assert settings["retention.ms"] == ["60000", "topic"]
    assert settings["cleanup.policy"] == ["delete", "default"]

    deleted = minikafka("topics", "delete", "orders", broker=broker)
    assert (deleted.returncode, deleted.stdout) == (0, "deleted orders\n")
    assert "orders" not in minikafka("topics", "list", broker=broker).stdout


def test_without_a_count_topics_get_the_brokers_default(broker: RunningBroker) -> None:
    created = minikafka("topics", "create", "defaulted", broker=broker)
    assert created.stdout == "created defaulted with 2 partitions\n"


@pytest.mark.parametrize("arguments, status, message", [
    (["create", "taken"], 1, "cannot create taken: Topic 'taken' already exists."),
    (["create", "compacted", "-c", "cleanup.policy=compact"], 1, "MiniKafka has no log compaction"),
    (["create", "bad/name"], 2, "illegal characters"),  # refused before connecting
    (["create", "zero", "-p", "0"], 2, "--partitions must be at least 1"),
    (["create", "x", "-c", "novalue"], 2, "expected NAME=VALUE"),
    (["describe", "absent"], 1, "no topic absent"),
    (["delete", "absent"], 1, "cannot delete absent: no such topic"),
])
def test_mistakes_are_one_line_errors(broker: RunningBroker, arguments: list[str], status: int,
                                      message: str) -> None:
    if "taken" not in broker.server.storage.topics():
        broker.server.storage.create_topic("taken")
    result = minikafka("topics", *arguments, broker=broker)
    assert result.returncode == status
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_broker_is_reported() -> None:
    result = minikafka("topics", "list", "--host", "127.0.0.1:1", "--timeout", "0.3")
    assert result.returncode == 1
    assert result.stderr.startswith("minikafka topics: cannot reach the broker at 127.0.0.1:1")
