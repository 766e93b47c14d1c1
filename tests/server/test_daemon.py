"""``python -m minikafka serve`` as a user runs it: configuration errors, port in use, signals."""

from __future__ import annotations

import gc
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from minikafka.cli.serve import freeze_startup_objects

BAD_VALUES = {
    "MINIKAFKA_HOST": ("localhost", "host:port, [ipv6]:port, or :port"),
    "MINIKAFKA_ADVERTISED_HOST": (":9092", "host, host:port or [ipv6]:port"),
    "MINIKAFKA_RETENTIONTIME": ("7 days", "a duration such as 500ms, 3s, 10m, 1h30m or 7d"),
    "MINIKAFKA_STORAGE": ("disk", "file or memory"),
    "MINIKAFKA_FSYNC": ("sometimes", "always, never, or an interval such as 1s"),
    "MINIKAFKA_LOG_LEVEL": ("chatty", "debug, info, warning, error or critical"),
    "MINIKAFKA_AUTO_CREATE_TOPICS": ("perhaps", "true or false"),
    "MINIKAFKA_MAX_MESSAGE_BYTES": ("1MB", "a whole number of bytes"),
    "MINIKAFKA_MAX_FRAME_BYTES": ("-5", "a whole number of bytes from 1024 to 2147483647"),
    "MINIKAFKA_SEGMENT_BYTES": ("3000000000", "a whole number of bytes from 1024 to 2147483647"),
    "MINIKAFKA_SEGMENT_TIME": ("0ms", "a duration such as 500ms"),
}


def clean_environment(**variables: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("MINIKAFKA_")}
    env.update(variables)
    return env


def start(cwd: Path, **variables: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "minikafka", "serve"], cwd=cwd,
                            env=clean_environment(**variables), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def bad_value_runs(tmp_path_factory: pytest.TempPathFactory
                   ) -> dict[str, tuple[int, str, str]]:
    """Every bad-value daemon started at once (each takes ~0.5 s to start and refuse)."""
    cwd = tmp_path_factory.mktemp("bad-values")
    running = {variable: start(cwd, **{variable: value, "MINIKAFKA_HOST": "127.0.0.1:0"}
                               if variable != "MINIKAFKA_HOST" else {variable: value})
               for variable, (value, _) in BAD_VALUES.items()}
    results = {}
    for variable, process in running.items():
        stdout, stderr = process.communicate(timeout=30)
        results[variable] = (process.returncode, stdout, stderr)
    assert not any(cwd.iterdir()), "nothing may be created before the configuration is valid"
    return results


@pytest.mark.parametrize("variable", sorted(BAD_VALUES))
def test_a_bad_value_stops_the_daemon_with_one_line_and_status_2(
    bad_value_runs: dict[str, tuple[int, str, str]], variable: str
) -> None:
    status, stdout, stderr = bad_value_runs[variable]
    value, accepted = BAD_VALUES[variable]
    assert status == 2
    assert stdout == ""
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert stderr.startswith(f"minikafka serve: {variable}={value!r} is not valid: "
                             f"expected {accepted}")


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_port_in_use_gives_one_line_and_status_1(tmp_path: Path, busy_port: int) -> None:
    process = start(tmp_path, MINIKAFKA_HOST=f"127.0.0.1:{busy_port}",
                    MINIKAFKA_STORAGE="memory")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert stderr == (f"minikafka serve: cannot listen on 127.0.0.1:{busy_port}: "
                      "Address already in use\n")


def test_an_unresolvable_host_is_a_bad_value(tmp_path: Path) -> None:
    process = start(tmp_path, MINIKAFKA_HOST="no-such-host.invalid:9092",
                    MINIKAFKA_STORAGE="memory")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert stderr.startswith("minikafka serve: MINIKAFKA_HOST='no-such-host.invalid:9092' is "
                             "not valid: cannot resolve 'no-such-host.invalid'")
    assert stderr.count("\n") == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_start_line_and_clean_exit_on_signal(tmp_path: Path, signum: signal.Signals) -> None:
    (tmp_path / ".env").write_text("MINIKAFKA_RETENTIONTIME=1h30m\nMINIKAFKA_STORAGE=memory\n")
    process = start(tmp_path, MINIKAFKA_HOST="127.0.0.1:0")
    assert process.stdout is not None
    line = process.stdout.readline()
    process.send_signal(signum)
    rest, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert line.startswith("MiniKafka listening on 127.0.0.1:")
    assert line.rstrip().endswith("; memory storage (lost at exit); retention 1h30m")
    assert rest == ""
    assert f"{signum.name} received: stopping" in stderr
    assert "Traceback" not in stderr


def test_an_unusable_data_directory_gives_one_line_and_status_1(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("")
    process = start(tmp_path, MINIKAFKA_HOST="127.0.0.1:0", MINIKAFKA_ROOT_DIR="not-a-directory")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 1
    assert stderr.startswith("minikafka serve: cannot open not-a-directory")
    assert stderr.count("\n") == 1


def test_a_data_directory_in_use_by_another_broker_is_refused(tmp_path: Path) -> None:
    first = start(tmp_path, MINIKAFKA_HOST="127.0.0.1:0")
    assert first.stdout is not None
    assert first.stdout.readline().startswith("MiniKafka listening on")
    try:
        second = start(tmp_path, MINIKAFKA_HOST="127.0.0.1:0")
        _, stderr = second.communicate(timeout=30)
        assert second.returncode == 1
        assert stderr.startswith("minikafka serve: ")
        assert "in use by another process" in stderr
        assert stderr.count("\n") == 1
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 0


def test_what_startup_made_is_frozen_out_of_the_collector() -> None:
    before = gc.get_freeze_count()
    survivor = [object()]  # something startup made, still referenced
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > before
        assert not any(obj is survivor for obj in gc.get_objects())  # no generation holds it
    finally:
        gc.unfreeze()
