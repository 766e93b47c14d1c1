"""``minikafka produce`` and ``minikafka consume`` as users run them: pipes, files, a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from minikafka import Consumer, Producer
from minikafka.testing import running_broker

Cli = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture(scope="module")
def broker_address() -> Iterator[str]:
    with running_broker() as broker:
        yield broker.address


@pytest.fixture
def topic() -> str:
    return f"cli-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def cli_env(broker_address: str) -> dict[str, str]:
    """The environment of a user whose MINIKAFKA_HOST names the test broker."""
    return {**os.environ, "MINIKAFKA_HOST": broker_address, "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def minikafka_cli(cli_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """Run ``minikafka ARGS...`` to completion (input on stdin), with a time limit."""

    def run(*args: str, input: bytes = b"", timeout: float = 30,
            **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "minikafka", *args], input=input,
                              capture_output=True, timeout=timeout,
                              env=kwargs.pop("env", cli_env), **kwargs)

    return run


def test_piped_lines_become_messages_and_consume_prints_them(minikafka_cli: Cli,
                                                             topic: str) -> None:
    lines = b"".join(b"line %d\n" % i for i in range(1, 501))
    produced = minikafka_cli("produce", "-t", topic, input=lines + b"\nlast line, no newline")
    assert produced.returncode == 0, produced.stderr
    assert produced.stdout.decode().startswith(
        f"501 messages sent to {topic} (numbers 1 to 501) in ")
    assert produced.stderr == b""

    consumed = minikafka_cli("consume", "-t", topic, "--exit")
    assert consumed.returncode == 0, consumed.stderr
    rows = [line.split("\t") for line in consumed.stdout.decode().splitlines()]
    assert [(int(number), value) for number, _, value in rows] == [
        *((i, f"line {i}") for i in range(1, 501)), (501, "last line, no newline")]
    assert rows[0][1].endswith("+00:00")  # ISO 8601 time, UTC


def test_key_separator_and_json_lines(minikafka_cli: Cli, topic: str) -> None:
    produced = minikafka_cli("produce", "-t", topic, "--key-separator", "=",
                             input=b"colour=blue\nno key here\nshape=round=ish\n")
    assert produced.returncode == 0, produced.stderr
    consumed = minikafka_cli("consume", "-t", topic, "--exit", "--format", "json", "--from", "2")
    records = [json.loads(line) for line in consumed.stdout.splitlines()]
    assert [(r["number"], r["key"], r["value"]) for r in records] == [
        (2, None, "no key here"), (3, "shape", "round=ish")]
    assert records[0]["topic"] == topic and records[0]["headers"] == {}


def test_raw_format_round_trips_bytes(minikafka_cli: Cli, topic: str, tmp_path: Path) -> None:
    source = tmp_path / "input.txt"
    source.write_bytes(b"caf\xc3\xa9\n\xff\xfe binary\n")
    produced = minikafka_cli("produce", "-t", topic, "--file", str(source))
    assert produced.returncode == 0, produced.stderr
    consumed = minikafka_cli("consume", "-t", topic, "--exit", "--format", "raw")
    assert consumed.stdout == source.read_bytes()
    as_json = minikafka_cli("consume", "-t", topic, "--exit", "--format", "json", "--from", "2")
    assert json.loads(as_json.stdout)["value_base64"] == "//4gYmluYXJ5"


def test_from_latest_with_exit_prints_nothing(minikafka_cli: Cli, topic: str,
                                              broker_address: str) -> None:
    Producer(broker_address).send(topic, b"old")
    consumed = minikafka_cli("consume", "-t", topic, "--from", "latest", "--exit")
    assert (consumed.returncode, consumed.stdout, consumed.stderr) == (0, b"", b"")


def test_host_option_and_host_without_a_name(minikafka_cli: Cli, topic: str,
                                             broker_address: str) -> None:
    port = broker_address.rsplit(":", 1)[1]
    env = {**os.environ, "MINIKAFKA_HOST": f":{port}"}  # the broker's "every interface" form
    assert minikafka_cli("produce", "-t", topic, input=b"x\n", env=env).returncode == 0
    consumed = minikafka_cli("consume", "-t", topic, "--exit", "--host", broker_address,
                             env={**os.environ, "MINIKAFKA_HOST": "127.0.0.1:1"})
    assert consumed.stdout.endswith(b"\tx\n")


@pytest.mark.parametrize("command", [["produce"], ["consume", "--exit"]])
def test_unreachable_broker_is_one_line_and_status_1(minikafka_cli: Cli, topic: str,
                                                     command: list[str]) -> None:
    result = minikafka_cli(*command, "-t", topic, "--host", "127.0.0.1:1", "--timeout", "0.2",
                           input=b"hello\n")
    assert result.returncode == 1
    assert result.stderr.decode() == (f"minikafka {command[0]}: cannot reach the broker at "
                                      "127.0.0.1:1 ([Errno 111] Connection refused)\n")


def test_bad_arguments_are_reported(minikafka_cli: Cli, topic: str) -> None:
    result = minikafka_cli("consume", "-t", topic, "--from", "yesterday")
    assert result.returncode == 2
    assert b"expected a message number, earliest or latest" in result.stderr
    result = minikafka_cli("produce", "-t", topic, "--file", "/nonexistent/file")
    assert (result.returncode, result.stderr) == (
        1, b"minikafka produce: cannot read /nonexistent/file: No such file or directory\n")


def test_streaming_produce_sends_lines_before_the_input_ends(cli_env: dict[str, str],
                                                             topic: str,
                                                             broker_address: str) -> None:
    process = subprocess.Popen([sys.executable, "-m", "minikafka", "produce", "-t", topic],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=cli_env)
    assert process.stdin is not None
    try:
        process.stdin.write(b"early 1\nearly 2\n")
        process.stdin.flush()
        with Consumer(broker_address, topic) as consumer:
            received: list[bytes] = []
            deadline = time.monotonic() + 10
            while len(received) < 2 and time.monotonic() < deadline:
                received += [m.value for m in consumer.poll(timeout=0.5)]
        assert received == [b"early 1", b"early 2"]  # the pipe is still open
        process.stdin.write(b"late\n")
        process.stdin.close()
        assert process.wait(10) == 0
    finally:
        process.kill()
        process.wait()
    assert process.stdout is not None and process.stdout.read().startswith(b"3 messages sent")


def test_consume_follows_new_messages_and_ctrl_c_exits_quietly(
        cli_env: dict[str, str], topic: str, broker_address: str) -> None:
    process = subprocess.Popen([sys.executable, "-m", "minikafka", "consume", "-t", topic],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env,
                               preexec_fn=interruptible)
    assert process.stdout is not None and process.stderr is not None
    try:
        with Producer(broker_address) as producer:
            producer.send(topic, b"first")
            assert read_until(process.stdout.fileno(), b"first\n").endswith(b"\tfirst\n")
            producer.send(topic, b"second")
            assert read_until(process.stdout.fileno(), b"second\n").endswith(b"\tsecond\n")
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
    finally:
        process.kill()
        process.wait()
    assert process.stderr.read() == b""


def interruptible() -> None:
    """In a child about to exec: SIGINT handled by default, as at an interactive terminal.

    Run as a shell's background job (``make test &``) or under nohup, the tests
    themselves ignore SIGINT, and an ignored signal stays ignored across exec:
    the command would never see the Ctrl-C these tests send it.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def read_until(fd: int, expected: bytes, timeout: float = 10) -> bytes:
    """Bytes read from ``fd`` until they end with ``expected`` (AssertionError on timeout)."""
    received = b""
    deadline = time.monotonic() + timeout
    while not received.endswith(expected):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, remaining))
        assert ready, f"waited {timeout} s for {expected!r}; got {received!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the pty's other side has closed
            chunk = b""
        assert chunk, f"output ended before {expected!r}; got {received!r}"
        received += chunk
    return received


def spawn_in_terminal(args: list[str], env: dict[str, str]) -> tuple[int, int]:
    """Run ``python -m minikafka ARGS`` with a pseudo-terminal as its controlling terminal."""
    pid, fd = pty.fork()
    if pid == 0:  # the child
        interruptible()
        os.execve(sys.executable, [sys.executable, "-m", "minikafka", *args], env)
    return pid, fd


def exit_status(pid: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError(f"the command did not exit within {timeout} s")


@pytest.mark.parametrize(("stop", "name"), [(b"\x04", "Ctrl-D"), (b"\x03", "Ctrl-C")])
def test_interactive_produce_in_a_terminal(cli_env: dict[str, str], topic: str,
                                           broker_address: str, stop: bytes, name: str) -> None:
    pid, fd = spawn_in_terminal(["produce", "-t", topic], cli_env)
    try:
        read_until(fd, f"{topic}> ".encode())
        os.write(fd, b"hello\n")
        assert read_until(fd, f"{topic}> ".encode()).endswith(f"#1\r\n{topic}> ".encode())
        os.write(fd, b"k:v\n")
        read_until(fd, f"#2\r\n{topic}> ".encode())
        os.write(fd, stop)
        status = exit_status(pid)
        leftover = b""
        with pytest.raises(OSError):  # the terminal closes when the command exits
            while chunk := os.read(fd, 4096):
                leftover += chunk
    finally:
        os.close(fd)
    assert status == 0, f"{name}: status {status}"
    assert b"Traceback" not in leftover
    with Consumer(broker_address, topic) as consumer:
        assert [m.value for m in consumer.poll(timeout=2)] == [b"hello", b"k:v"]
