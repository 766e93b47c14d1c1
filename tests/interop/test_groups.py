"""Consumer groups through real clients: sharing partitions, taking over, resuming after a restart.

For kafka-python, confluent-kafka and aiokafka, group members run in their
own processes (``group_member.py``), so one can be killed with SIGKILL the
way a crash kills it. One test per client walks through the life of a group
on a two-partition topic:

1. two members get one partition each and together read every message once;
2. one leaves (closes its consumer): the other takes over both partitions;
3. a new member joins and is killed: the survivor takes over both partitions
   within the session timeout;
4. the broker restarts: a new member resumes right after the last committed
   message (committed offsets are in the data directory).

Members commit after every batch they read, and the test produces only while
the group is stable, so every message must be read exactly once over all
members. Then kcat consumes as a group (``-G``) and resumes from its
commits.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer  # type: ignore[import-untyped]

from .daemon import Daemon

SESSION_TIMEOUT_MS = 6000  # the smallest a broker accepts by default (Kafka's too)
WAIT_S = 30  # for a rebalance or messages to arrive, at most
MEMBER = Path(__file__).with_name("group_member.py")
CLIENTS = ["kafka-python", "confluent-kafka", "aiokafka"]

Record = tuple[int, int]  # (partition, offset)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A broker whose auto-created topics have two partitions (for kcat)."""
    root = tmp_path_factory.mktemp("groups") / "data"
    broker = Daemon(root, MINIKAFKA_LOG_LEVEL="info", MINIKAFKA_DEFAULT_PARTITIONS="2").start()
    yield broker
    if broker.process is not None:
        assert broker.stop() == 0, broker.log()
    log = broker.log()
    assert " WARNING " not in log and " ERROR " not in log and "Traceback" not in log, log


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Member:
    """A group member process and what it has reported."""

    def __init__(self, client: str, daemon: Daemon, topic: str, group: str, name: str) -> None:
        self.name = name
        self.log_path = daemon.root_dir.parent / f"member-{name}-{uuid.uuid4().hex[:6]}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(MEMBER), client, daemon.bootstrap, topic, group,
                 str(SESSION_TIMEOUT_MS)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        self.assigned: list[int] | None = None
        self.records: list[Record] = []
        self.values: dict[Record, str] = {}
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._events.put(json.loads(line))

    def pump(self) -> None:
        """Take in what the member reported since the last call."""
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            if "assigned" in event:
                self.assigned = event["assigned"]
            for partition, offset, value in event.get("records", []):
                self.records.append((partition, offset))
                self.values[(partition, offset)] = value

    def leave(self) -> None:
        """Ask it to close its consumer (it leaves the group) and exit."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"leave\n")
        self.process.stdin.close()
        assert self.process.wait(timeout=WAIT_S) == 0, self.stderr()
        self.pump()

    def kill(self) -> None:
        """SIGKILL: no LeaveGroup, no commit, nothing."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=WAIT_S)
        if self.process.stdin is not None:
            self.process.stdin.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stderr(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def wait_until(condition: Callable[[], bool], members: list[Member], what: str,
               timeout: float = WAIT_S) -> float:
    """Pump the members until ``condition`` holds; returns the seconds it took."""
    started = time.monotonic()
    while True:
        for member in members:
            member.pump()
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            state = {m.name: (m.assigned, len(m.records), m.process.poll()) for m in members}
            details = "\n".join(f"--- {m.name}:\n{m.stderr()}" for m in members)
            raise AssertionError(f"timed out waiting until {what}: {state}\n{details}")
        time.sleep(0.05)


def produce(daemon: Daemon, topic: str, label: str, count: int) -> dict[Record, str]:
    """``count`` messages spread evenly over partitions 0 and 1; {(partition, offset): value}."""
    producer = KafkaProducer(bootstrap_servers=daemon.bootstrap, max_block_ms=WAIT_S * 1000)
    try:
        futures = {f"{label}-{n}": producer.send(topic, f"{label}-{n}".encode(), partition=n % 2)
                   for n in range(count)}
        producer.flush(timeout=WAIT_S)
        sent = {}
        for value, future in futures.items():
            metadata = future.get(timeout=WAIT_S)
            sent[(metadata.partition, metadata.offset)] = value
        return sent
    finally:
        producer.close(timeout=WAIT_S)


def create_topic(client: str, daemon: Daemon, topic: str, partitions: int) -> None:
    """CreateTopics through the client's own admin API."""
    if client == "kafka-python":
        from kafka.admin import KafkaAdminClient, NewTopic  # type: ignore[import-untyped]

        admin = KafkaAdminClient(bootstrap_servers=daemon.bootstrap)
        try:
            admin.create_topics([NewTopic(topic, partitions, 1)])
        finally:
            admin.close()
    elif client == "confluent-kafka":
        from confluent_kafka.admin import AdminClient  # type: ignore[import-untyped]
        from confluent_kafka.admin import NewTopic as ConfluentTopic  # type: ignore[attr-defined]

        admin = AdminClient({"bootstrap.servers": daemon.bootstrap})  # alive until answered
        futures = admin.create_topics(
            [ConfluentTopic(topic, num_partitions=partitions, replication_factor=1)])
        futures[topic].result(timeout=WAIT_S)
    else:
        from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
        from aiokafka.admin import NewTopic as AioTopic

        async def create() -> None:
            admin = AIOKafkaAdminClient(bootstrap_servers=daemon.bootstrap)
            await admin.start()
            try:
                await admin.create_topics([AioTopic(topic, partitions, 1)])
            finally:
                await admin.close()

        asyncio.run(create())


def check_exactly_once(members: list[Member], sent: dict[Record, str]) -> None:
    read = [record for member in members for record in member.records]
    duplicates = {record for record in read if read.count(record) > 1}
    assert not duplicates, f"read more than once: {sorted(duplicates)}"
    assert set(read) == set(sent)
    for member in members:
        for record, value in member.values.items():
            assert value == sent[record]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_group_shares_partitions_takes_over_and_resumes(client: str, daemon: Daemon) -> None:
    topic, group = unique(f"groups-{client}"), unique(f"group-{client}")
    create_topic(client, daemon, topic, 2)
    members: list[Member] = []

    def start(name: str) -> Member:
        member = Member(client, daemon, topic, group, name)
        members.append(member)
        return member

    def read_everything(sent: dict[Record, str], *readers: Member) -> None:
        wait_until(lambda: {r for m in members for r in m.records} >= set(sent),
                   list(readers), f"{sorted(set(sent))} are read")

    try:
        # 1. Two members, one partition each; every message read once.
        first, second = start("first"), start("second")
        wait_until(lambda: sorted([first.assigned or [], second.assigned or []]) == [[0], [1]],
                   [first, second], "each member has one partition")
        sent = produce(daemon, topic, "shared", 20)
        read_everything(sent, first, second)
        assert {p for p, _ in first.records} == set(first.assigned or [])
        assert {p for p, _ in second.records} == set(second.assigned or [])
        check_exactly_once(members, sent)

        # 2. One leaves: the other takes over both partitions.
        second.leave()
        took = wait_until(lambda: first.assigned == [0, 1], [first], "the survivor has both")
        assert took < SESSION_TIMEOUT_MS / 1000
        sent |= produce(daemon, topic, "after-leave", 10)
        read_everything(sent, first)
        check_exactly_once(members, sent)

        # 3. A new member joins, then crashes: the survivor takes over within the session timeout.
        third = start("third")
        wait_until(lambda: sorted([first.assigned or [], third.assigned or []]) == [[0], [1]],
                   [first, third], "the newcomer has a partition")
        sent |= produce(daemon, topic, "before-crash", 10)
        read_everything(sent, first, third)
        third.kill()
        took = wait_until(lambda: first.assigned == [0, 1], [first], "the survivor has both")
        # Expiry after the session timeout, plus a heartbeat interval and the rebalance.
        assert took < SESSION_TIMEOUT_MS / 1000 + 4
        sent |= produce(daemon, topic, "after-crash", 10)
        read_everything(sent, first)
        check_exactly_once(members, sent)

        # 4. Committed offsets survive a broker restart.
        first.leave()
        assert daemon.stop() == 0, daemon.log()
        daemon.start()
        fresh = produce(daemon, topic, "after-restart", 10)
        resumed = start("resumed")
        wait_until(lambda: set(resumed.records) >= set(fresh), [resumed],
                   "the new member read the new messages")
        time.sleep(0.5)  # anything older would have come first: give it a moment anyway
        resumed.pump()
        assert sorted(resumed.records) == sorted(fresh), "resumed somewhere other than the commits"
        for partition in (0, 1):
            last_committed = max(offset for p, offset in sent if p == partition)
            assert min(offset for p, offset in fresh if p == partition) == last_committed + 1
        resumed.leave()
    finally:
        for member in members:
            member.stop()


KCAT = shutil.which("kcat")


@pytest.mark.kcat
def test_kcat_consumes_as_a_group_and_resumes_from_its_commits(daemon: Daemon) -> None:
    topic, group = unique("kcat-groups"), unique("kcat")

    def kcat(*arguments: str, stdin: bytes = b"") -> list[str]:
        assert KCAT is not None
        result = subprocess.run([KCAT, "-b", daemon.bootstrap, *arguments], input=stdin,
                                capture_output=True, timeout=WAIT_S, check=False,
                                env={**os.environ, "LC_ALL": "C"})
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result.stdout.decode().splitlines()

    def consume_as_group() -> list[str]:
        # -o would override the committed offsets; auto.offset.reset only applies without them.
        return kcat("-G", group, "-X", "auto.offset.reset=earliest", "-e", "-f", "%p %o %s\n",
                    topic)

    lines = [f"k{n}:v{n}" for n in range(20)]
    kcat("-P", "-t", topic, "-K", ":", stdin="\n".join(lines).encode() + b"\n")
    first = consume_as_group()
    assert sorted(line.split()[2] for line in first) == sorted(f"v{n}" for n in range(20))
    assert {line.split()[0] for line in first} == {"0", "1"}  # auto-created with 2 partitions
    kcat("-P", "-t", topic, "-K", ":", stdin=b"late:arrival\n")
    assert [line.split()[2] for line in consume_as_group()] == ["arrival"]
