"""One consumer-group member in its own process, for the group interop tests.

    python group_member.py CLIENT BOOTSTRAP TOPIC GROUP SESSION_TIMEOUT_MS

CLIENT is kafka-python, confluent-kafka or aiokafka. The member subscribes
to TOPIC as a member of GROUP, reads from the earliest offset when the group
has committed nothing, and commits synchronously after each batch it reads.
It reports on stdout, one JSON object per line:

    {"assigned": [0, 1]}                          its assignment changed
    {"records": [[partition, offset, value], ...]} a batch it read, committed

A line "leave" on stdin makes it close its consumer (leaving the group, as
an application shutting down does) and exit 0; the tests kill it with
SIGKILL to simulate a crash.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import Any

POLL_S = 0.2
HEARTBEAT_MS = 1000


def report(**event: Any) -> None:
    print(json.dumps(event), flush=True)


def watch_stdin() -> threading.Event:
    leave = threading.Event()

    def read() -> None:
        for line in sys.stdin:
            if line.strip() == "leave":
                break
        leave.set()  # "leave", or the test closed our stdin

    threading.Thread(target=read, daemon=True).start()
    return leave


class Assignment:
    """Reports the assignment when it changes."""

    def __init__(self) -> None:
        self.current: list[int] | None = None

    def update(self, partitions: list[int]) -> None:
        partitions = sorted(partitions)
        if partitions != self.current:
            self.current = partitions
            report(assigned=partitions)


def run_kafka_python(bootstrap: str, topic: str, group: str, session_ms: int) -> None:
    from kafka import KafkaConsumer  # type: ignore[import-untyped]

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                             client_id="kafka-python-member", auto_offset_reset="earliest",
                             enable_auto_commit=False, session_timeout_ms=session_ms,
                             heartbeat_interval_ms=HEARTBEAT_MS, fetch_max_wait_ms=100)
    leave = watch_stdin()
    assignment = Assignment()
    while not leave.is_set():
        batches = consumer.poll(timeout_ms=int(POLL_S * 1000))
        assignment.update([tp.partition for tp in consumer.assignment()])
        records = [[r.partition, r.offset, r.value.decode()]
                   for batch in batches.values() for r in batch]
        if records:
            consumer.commit()
            report(records=records)
    consumer.close()


def run_confluent_kafka(bootstrap: str, topic: str, group: str, session_ms: int) -> None:
    from confluent_kafka import Consumer  # type: ignore[import-untyped]

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "client.id": "confluent-kafka-member", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "session.timeout.ms": session_ms,
                         "heartbeat.interval.ms": HEARTBEAT_MS, "fetch.wait.max.ms": 100})
    consumer.subscribe([topic])
    leave = watch_stdin()
    assignment = Assignment()
    while not leave.is_set():
        messages = consumer.consume(num_messages=500, timeout=POLL_S)
        assignment.update([tp.partition for tp in consumer.assignment()])
        records = []
        for message in messages:
            if message.error() is not None:
                print(f"consumer error: {message.error()}", file=sys.stderr, flush=True)
                continue
            records.append([message.partition(), message.offset(), (message.value() or b"").decode()])
        if records:
            consumer.commit(asynchronous=False)
            report(records=records)
    consumer.close()


async def run_aiokafka(bootstrap: str, topic: str, group: str, session_ms: int) -> None:
    from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                client_id="aiokafka-member", auto_offset_reset="earliest",
                                enable_auto_commit=False, session_timeout_ms=session_ms,
                                heartbeat_interval_ms=HEARTBEAT_MS, fetch_max_wait_ms=100)
    await consumer.start()
    leave = watch_stdin()
    assignment = Assignment()
    while not leave.is_set():
        batches = await consumer.getmany(timeout_ms=int(POLL_S * 1000))
        assignment.update([tp.partition for tp in consumer.assignment()])
        records = [[r.partition, r.offset, r.value.decode()]
                   for batch in batches.values() for r in batch]
        if records:
            await consumer.commit()
            report(records=records)
    await consumer.stop()


def main() -> None:
    client, bootstrap, topic, group, session_ms = sys.argv[1:]
    if client == "kafka-python":
        run_kafka_python(bootstrap, topic, group, int(session_ms))
    elif client == "confluent-kafka":
        run_confluent_kafka(bootstrap, topic, group, int(session_ms))
    elif client == "aiokafka":
        asyncio.run(run_aiokafka(bootstrap, topic, group, int(session_ms)))
    else:
        raise SystemExit(f"unknown client {client!r}")


if __name__ == "__main__":
    main()
