"""``minikafka groups``, run as users run it, about a group of kafka-python consumers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, KafkaProducer  # type: ignore[import-untyped]

from minikafka.testing import RunningBroker, running_broker


@pytest.fixture(scope="module")
def broker() -> Iterator[RunningBroker]:
    with running_broker() as running:
        running.server.storage.create_topic("orders", 3)
        producer = KafkaProducer(bootstrap_servers=running.address)
        for n in range(9):
            producer.send("orders", b"order %d" % n, partition=n % 3)
        producer.close()
        yield running


def minikafka(broker: RunningBroker, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "minikafka", "groups", *arguments,
                           "--host", broker.address],
                          capture_output=True, text=True, timeout=60, check=False)


def rows(output: str, heading: str) -> list[list[str]]:
    """The rows of the table under the line starting with ``heading``."""
    lines = output.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(heading))
    found = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        found.append(line.split())
    return found


def test_list_describe_and_delete_a_group(broker: RunningBroker) -> None:
    consumer = KafkaConsumer("orders", bootstrap_servers=broker.address, group_id="billing",
                             client_id="billing-app", auto_offset_reset="earliest",
                             enable_auto_commit=False)
    try:
        read = 0
        while read < 5 or len(consumer.assignment()) < 3:
            read += sum(len(batch) for batch in consumer.poll(200, max_records=5).values())
        consumer.commit()
        positions = {tp.partition: consumer.position(tp) for tp in consumer.assignment()}

        listed = minikafka(broker, "list")
        assert listed.returncode == 0, listed.stderr
        assert rows(listed.stdout, "GROUP") == [["billing", "Stable", "1", "consumer"]]

        described = minikafka(broker, "describe", "billing")
        assert described.returncode == 0, described.stderr
        assert described.stdout.splitlines()[0] == (
            "group billing: Stable, 1 member, protocol consumer/range")
        ((member_id, client, host, assignment),) = rows(described.stdout, "MEMBER")
        assert (client, host, assignment) == ("billing-app", "/127.0.0.1", "orders[0,1,2]")
        offsets = rows(described.stdout, "TOPIC")
        assert offsets == [["orders", str(partition), str(positions[partition]), "4",
                            str(4 - positions[partition]), member_id] for partition in range(3)]
        assert sum(4 - positions[partition] for partition in range(3)) == 9 - read

        busy = minikafka(broker, "delete", "billing")
        assert (busy.returncode, busy.stderr) == (
            1, "minikafka groups: cannot delete billing: it still has members\n")
    finally:
        consumer.close()

    emptied = minikafka(broker, "describe", "billing")
    assert emptied.stdout.splitlines()[0] == "group billing: Empty, 0 members, protocol consumer"
    assert [row[-1] for row in rows(emptied.stdout, "TOPIC")] == ["-", "-", "-"]

    deleted = minikafka(broker, "delete", "billing")
    assert (deleted.returncode, deleted.stdout) == (0, "deleted billing\n")
    gone = minikafka(broker, "describe", "billing")
    assert (gone.returncode, gone.stderr) == (1, "minikafka groups: no group billing\n")


def test_deleting_an_unknown_group_fails(broker: RunningBroker) -> None:
    result = minikafka(broker, "delete", "never-was")
    assert (result.returncode, result.stderr) == (
        1, "minikafka groups: cannot delete never-was: no such group\n")
