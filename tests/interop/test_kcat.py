"""Debian's kcat (librdkafka 2.0) against the real broker: produce lines, consume, list metadata."""

from __future__ import annotations

import subprocess

import pytest

from minikafka.protocol.compression import Codec

from .daemon import Daemon, stored_batches

pytestmark = pytest.mark.kcat

TIMEOUT_S = 30


def kcat(daemon: Daemon, *arguments: str, stdin: bytes = b"") -> bytes:
    result = subprocess.run(["kcat", "-b", daemon.bootstrap, *arguments], input=stdin,
                            capture_output=True, timeout=TIMEOUT_S, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def test_produce_lines_and_consume_from_beginning(daemon: Daemon, topic: str) -> None:
    lines = [f"line {n}" for n in range(1, 101)]
    kcat(daemon, "-P", "-t", topic, "-z", "gzip", stdin="\n".join(lines).encode() + b"\n")
    output = kcat(daemon, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%o:%s\n")
    assert output.decode().splitlines() == [f"{n}:line {n}" for n in range(1, 101)]
    # librdkafka 2.0 compresses only when the broker advertises Produce from version 0.
    assert {header.compression for header in stored_batches(daemon, topic)} == {Codec.GZIP}


def test_keys_headers_and_empty_values(daemon: Daemon, topic: str) -> None:
    kcat(daemon, "-P", "-t", topic, "-K", ":", "-H", "origin=kcat", "-Z",
         stdin=b"k1:first\nk2:\nk3:third\n")
    output = kcat(daemon, "-C", "-t", topic, "-o", "beginning", "-e", "-Z",
                  "-f", "%o|%k|%S|%h\n")
    assert output.decode().splitlines() == [
        "1|k1|5|origin=kcat", "2|k2|-1|origin=kcat", "3|k3|5|origin=kcat"]


def test_metadata_listing(daemon: Daemon, topic: str) -> None:
    kcat(daemon, "-P", "-t", topic, stdin=b"x\n")
    listing = kcat(daemon, "-L").decode()
    assert f"broker 0 at {daemon.bootstrap} (controller)" in listing
    assert f'topic "{topic}" with 1 partitions:' in listing
    assert "partition 0, leader 0, replicas: 0, isrs: 0" in listing


def test_consumed_offsets_continue_where_the_log_is(daemon: Daemon, topic: str) -> None:
    kcat(daemon, "-P", "-t", topic, stdin=b"a\nb\n")
    kcat(daemon, "-P", "-t", topic, stdin=b"c\n")
    output = kcat(daemon, "-C", "-t", topic, "-o", "-1", "-e", "-f", "%o:%s\n")
    assert output.decode().splitlines() == ["3:c"]
