"""The README's "Debugging with netcat" session, run as written against a real broker.

Each ``$ command`` of the section's console blocks runs, in order, in one
bash session (so that ``&`` and ``kill $!`` work) with ``minikafka`` on the
PATH, and its output (stdout and stderr, as a terminal shows them) must
match the lines the README shows after it. In those lines ``...`` alone
stands for any number of lines, and inside a line for any text. The only
change made to the commands is the ports: the broker listens on a port the
system picks, and 9092 and 19092 are replaced by real free ports.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
MARK = "@@@ command "


def _session() -> list[tuple[str, list[str]]]:
    text = README.read_text()
    section = text.split("\n## Debugging with netcat\n", 1)[1].split("\n## ", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", section, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
    return steps


def _matches(expected: list[str], actual: list[str]) -> bool:
    def trim(lines: list[str]) -> list[str]:
        while lines and not lines[-1].strip():
            lines = lines[:-1]
        return lines

    pattern = "".join("(?:.*\n)*?" if line == "..." else
                      ".*?".join(map(re.escape, line.split("..."))) + "\n"
                      for line in trim(expected))
    return re.fullmatch(pattern, "".join(line + "\n" for line in trim(actual))) is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.skipif(shutil.which("nc") is None or shutil.which("kcat") is None,
                    reason="the session needs nc (netcat-openbsd) and kcat")
def test_the_readme_netcat_session_runs_as_written(tmp_path: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {key: value for key, value in os.environ.items() if not key.startswith("MINIKAFKA_")}
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    broker = subprocess.Popen(
        [sys.executable, "-m", "minikafka", "serve", "--env-file", os.devnull],
        env={**env, "MINIKAFKA_HOST": "127.0.0.1:0", "MINIKAFKA_STORAGE": "memory"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    try:
        assert broker.stdout is not None
        started = broker.stdout.readline()
        found = re.search(r"listening on 127\.0\.0\.1:(\d+)", started)
        assert found, started
        ports = {"19092": str(_free_port()), "9092": found.group(1)}

        def local(text: str) -> str:
            return re.sub(r"\b(19092|9092)\b", lambda match: ports[match.group(1)], text)

        steps = _session()
        assert len(steps) >= 10
        script = "".join(f"printf '\\n{MARK}{index}\\n'\n{{ {local(command)}\n}} 2>&1\n"
                         for index, (command, _) in enumerate(steps))
        # Its own process group, so that whatever the session leaves running
        # (the backgrounded proxy, if a step fails before `kill $!`) ends with it.
        session = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
        try:
            stdout, stderr = session.communicate(timeout=120)
        finally:
            try:
                os.killpg(session.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        outputs = stdout.split(f"\n{MARK}")[1:]
        assert len(outputs) == len(steps), stdout + stderr
        for (command, expected), output in zip(steps, outputs, strict=True):
            actual = output.split("\n", 1)[1].splitlines() if "\n" in output else []
            expected = [local(line) for line in expected]
            assert _matches(expected, actual), (
                f"$ {command}\n--- README shows ---\n" + "\n".join(expected)
                + "\n--- it printed ---\n" + "\n".join(actual))
    finally:
        broker.terminate()
        broker.wait(timeout=30)
