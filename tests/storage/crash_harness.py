"""SIGKILL a process appending to a FileBackend at random moments, then check what survived.

Shared by test_file_crash (a few dozen trials) and tools/storage_soak.py (as
many as asked). Each trial starts crash_child.py on the same data directory,
so every child first recovers from the previous kill, and kills it either
while it appends or while it opens. After each kill a copy of the directory
is opened (recovered) and checked; the original stays as the kill left it
for the next child:

* every acknowledged batch not yet evicted is there, byte for byte, at the
  offsets the child was told;
* offsets run contiguously from the log start to the high watermark, and
  every batch passes its CRC check (nothing past a corrupt point is served);
* a batch written but not acknowledged (the kill came first) may be there,
  and is then one of the batches the child was given;
* the log start never moves backwards.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs

from minikafka.protocol.batch_header import iter_batches
from minikafka.storage.file import FileBackend

from .batches import as_stored, make_batch

CHILD = Path(__file__).with_name("crash_child.py")
REPOSITORY = Path(__file__).resolve().parents[2]
TOPIC = "crash"
PARTITIONS = (0, 1)
POLICIES = ("always", "never", "20ms")


@attrs.frozen
class Acknowledged:
    partition: int
    base_offset: int
    sequence: int
    count: int


@attrs.frozen
class TrialResult:
    policy: str
    killed_while_opening: bool
    acknowledged: int  # appends acknowledged in this trial
    high_watermarks: tuple[int, ...]
    log_starts: tuple[int, ...]


class CrashRun:
    """One data directory, killed and recovered over and over. Use it as a context manager."""

    def __init__(self, workdir: Path, seed: int, segment_bytes: int = 65_536) -> None:
        self.workdir = workdir
        self.root = workdir / "data"
        self.random = random.Random(seed)
        self.segment_bytes = segment_bytes
        self.batches = [self._random_batch(i) for i in range(23)]
        self.known_bodies = {batch[8:] for batch in self.batches}
        self.batch_file = workdir / "batches.bin"
        self.batch_file.write_bytes(b"".join(self.batches))
        self.acknowledged: list[Acknowledged] = []
        self.next_sequence = 0
        self.log_starts = dict.fromkeys(PARTITIONS, 1)
        self.errors = workdir / "children.stderr"
        self._launcher: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> CrashRun:
        environment = dict(os.environ, PYTHONPATH=str(REPOSITORY))
        with open(self.errors, "wb") as errors:
            self._launcher = subprocess.Popen(
                [sys.executable, str(CHILD)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=errors, env=environment,
            )
        self._expect("launcher ready")
        return self

    def __exit__(self, *exc_info: object) -> None:
        launcher = self._launcher
        if launcher is not None:
            assert launcher.stdin is not None
            launcher.stdin.close()  # the launcher's loop ends; it exits
            try:
                launcher.wait(timeout=10)
            except subprocess.TimeoutExpired:
                launcher.kill()
                launcher.wait()
            if launcher.stdout is not None:
                launcher.stdout.close()

    def _random_batch(self, index: int) -> bytes:
        records = self.random.randint(1, 8)
        values = [
            bytes([index]) * self.random.choice([0, 10, 200, 3000]) for _ in range(records)
        ]
        return make_batch(values, timestamp=1_000 * index)

    def _line(self) -> str:
        assert self._launcher is not None and self._launcher.stdout is not None
        line = self._launcher.stdout.readline()
        if not line.endswith(b"\n"):
            raise AssertionError(f"the launcher died:\n{self.errors.read_text()}")
        return line.decode().rstrip("\n")

    def _expect(self, prefix: str) -> str:
        line = self._line()
        if not line.startswith(prefix):
            raise AssertionError(f"expected {prefix!r}, got {line!r}:\n{self.errors.read_text()}")
        return line

    def trial(self) -> TrialResult:
        """Start a child, kill it at a random moment, check a recovered copy."""
        assert self._launcher is not None and self._launcher.stdin is not None
        policy = self.random.choice(POLICIES)
        while_opening = self.random.random() < 0.25
        request = (f"{self.root} {self.batch_file} {policy} {self.segment_bytes} "
                   f"{self.next_sequence}\n")
        self._launcher.stdin.write(request.encode())
        self._launcher.stdin.flush()
        pid = int(self._expect("opening ").split()[1])
        lines: list[str] = []
        if while_opening:
            time.sleep(self.random.uniform(0, 0.01))
        else:
            lines.append(self._line())
            if lines[0] == "ready":
                time.sleep(self.random.uniform(0, 0.1))
        os.kill(pid, signal.SIGKILL)
        while not lines or not lines[-1].startswith("exited "):
            lines.append(self._line())
        status = int(lines.pop().split()[1])
        if not os.WIFSIGNALED(status) or os.WTERMSIG(status) != signal.SIGKILL:
            raise AssertionError(f"the child died on its own:\n{self.errors.read_text()}")
        acknowledged = [Acknowledged(*map(int, line.split())) for line in lines
                        if line != "ready"]
        self.acknowledged += acknowledged
        if acknowledged:
            last = acknowledged[-1]
            self.next_sequence = last.sequence + last.count + 10
        high_watermarks, log_starts = self.check()
        return TrialResult(policy, while_opening, len(acknowledged), high_watermarks, log_starts)

    def check(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Recover a copy of the directory and hold it to the promises above."""
        copy = self.workdir / "check"
        shutil.rmtree(copy, ignore_errors=True)
        if not self.root.exists():
            return tuple(0 for _ in PARTITIONS), tuple(1 for _ in PARTITIONS)
        shutil.copytree(self.root, copy)
        backend = FileBackend(copy, fsync="never")
        try:
            if TOPIC not in backend.topics():  # killed before the topic was committed
                assert not self.acknowledged
                return tuple(0 for _ in PARTITIONS), tuple(1 for _ in PARTITIONS)
            high_watermarks = []
            log_starts = []
            for partition in PARTITIONS:
                start, end = self._check_partition(backend, partition)
                high_watermarks.append(end)
                log_starts.append(start)
            # Appends wholly below the log start can never be read again: stop checking them.
            self.acknowledged = [a for a in self.acknowledged
                                 if a.base_offset + a.count * 8 > self.log_starts[a.partition]]
            return tuple(high_watermarks), tuple(log_starts)
        finally:
            backend.close()
            shutil.rmtree(copy, ignore_errors=True)

    def _check_partition(self, backend: FileBackend, partition: int) -> tuple[int, int]:
        start = backend.log_start_offset(TOPIC, partition)
        end = backend.high_watermark(TOPIC, partition)
        assert start >= self.log_starts[partition], "the log start went backwards"
        self.log_starts[partition] = start
        stored: dict[int, bytes] = {}
        position = start
        while position < end:
            records = bytes(backend.read(TOPIC, partition, position, 1 << 20).records)
            for at, header in iter_batches(records):  # checks every CRC
                assert header.base_offset == position, (
                    f"partition {partition}: batch {header.base_offset} where {position} was due"
                )
                batch = records[at : at + header.size]
                assert batch[8:] in self.known_bodies, "a batch nobody appended"
                stored[position] = batch
                position = header.last_offset + 1
        assert position == end
        for append in self.acknowledged:
            if append.partition != partition:
                continue
            offset = append.base_offset
            for i in range(append.count):
                batch = self.batches[(append.sequence + i) % len(self.batches)]
                if offset >= start:
                    assert offset in stored, f"acknowledged offset {offset} is gone"
                    assert stored[offset] == as_stored(batch, offset), f"offset {offset} differs"
                offset += iter_batches(batch)[0][1].last_offset_delta + 1
            assert offset <= end, f"acknowledged offsets up to {offset - 1} but the log ends at {end}"
        return start, end
