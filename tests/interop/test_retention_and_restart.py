"""Through real clients: retention removes old messages, numbering carries on, restarts keep data."""

from __future__ import annotations

import time
from pathlib import Path

from .daemon import Daemon
from .messages import MESSAGES, Message, check_received
from .test_confluent_kafka import consume as confluent_consume
from .test_confluent_kafka import produce as confluent_produce
from .test_kafka_python import consume, produce

RETENTION_S = 3


def test_retention_removes_old_messages_and_numbering_continues(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data", MINIKAFKA_RETENTIONTIME=f"{RETENTION_S}s").start()
    try:
        assert daemon.start_line.rstrip().endswith(f"retention {RETENTION_S}s")
        old = [Message(None, b"old %d" % n) for n in range(3)]
        assert produce(daemon.bootstrap, "expiring", old) == [1, 2, 3]
        time.sleep(RETENTION_S + 0.5)  # older than the retention, plus a retention pass
        new = [Message(None, b"new %d" % n) for n in range(2)]
        assert produce(daemon.bootstrap, "expiring", new) == [4, 5]
        check_received(consume(daemon.bootstrap, "expiring", 2), new, first_offset=4)
        assert "retention removed 3 messages" in daemon.log()
    finally:
        assert daemon.stop() == 0, daemon.log()


def test_everything_survives_a_graceful_restart(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data").start()
    try:
        assert confluent_produce(daemon.bootstrap, "kept", MESSAGES) == list(
            range(1, len(MESSAGES) + 1))
    finally:
        assert daemon.stop() == 0, daemon.log()
    assert "stopped" in daemon.log()
    daemon.start()  # same data directory, same port
    try:
        check_received(consume(daemon.bootstrap, "kept", len(MESSAGES)))
        more = [Message(b"after", b"restart")]
        assert produce(daemon.bootstrap, "kept", more) == [len(MESSAGES) + 1]
        check_received(confluent_consume(daemon.bootstrap, "kept", len(MESSAGES) + 1),
                       [*MESSAGES, *more])
    finally:
        assert daemon.stop() == 0, daemon.log()


def test_numbering_continues_after_eviction_across_a_restart(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path / "data", MINIKAFKA_RETENTIONTIME="1s").start()
    try:
        assert produce(daemon.bootstrap, "gone", [Message(None, b"a"), Message(None, b"b")]) == [
            1, 2]
        time.sleep(1.5)
    finally:
        assert daemon.stop() == 0, daemon.log()
    daemon.start()
    try:
        assert produce(daemon.bootstrap, "gone", [Message(None, b"c")]) == [3]
    finally:
        assert daemon.stop() == 0, daemon.log()
