"""Storage faults through the broker: full disk, read-only medium, data directory removed.

Faults are injected at the file layer: the system calls the storage makes
(pwritev for log appends, write for index entries, ftruncate to undo, open
to create files) fail with ENOSPC or EROFS for files under the data
directory while a fault is "on". A real small filesystem (tmpfs, when this
machine lets the tests mount one) gives a true ENOSPC too.

Producers must get KAFKA_STORAGE_ERROR while reads keep working, and the
broker must recover by itself once the fault clears: no restart, no gap or
garbage in the offsets. A data directory removed from under the broker is a
clear fatal error (``minikafka serve`` exits with status 1, naming it).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from minikafka.protocol import errors
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.server.config import Address, Config
from minikafka.server.datadir import DataDirectoryLost
from minikafka.server.server import Server
from minikafka.storage import _files, _partition, _segment
from minikafka.storage.file import FileBackend

from .helpers import WireClient, base_offsets, batch, fetch_body, produce_body

STORAGE_ERROR = errors.KafkaStorageError.code


@attrs.define
class Faults:
    """Makes the storage's system calls on files under ``root`` fail while ``error`` is set."""

    root: Path
    error: int | None = None
    failed_calls: int = 0

    def _under_root(self, fd: int) -> bool:
        try:
            return os.readlink(f"/proc/self/fd/{fd}").startswith(str(self.root))
        except OSError:
            return False

    def wrap_fd_call(self, real: Any) -> Any:
        def call(fd: int, *args: Any) -> Any:
            if self.error is not None and self._under_root(fd):
                self.failed_calls += 1
                raise OSError(self.error, os.strerror(self.error))
            return real(fd, *args)
        return call

    def wrap_open(self, real: Any) -> Any:
        def call(path: Any, flags: int, *args: Any, **kwargs: Any) -> Any:
            writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            if self.error is not None and writing and str(path).startswith(str(self.root)):
                self.failed_calls += 1
                raise OSError(self.error, os.strerror(self.error), str(path))
            return real(path, flags, *args, **kwargs)
        return call


@pytest.fixture
def faults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Faults:
    injected = Faults(tmp_path / "data")
    # The storage modules share the os module, so patching it there patches it for the
    # process: the wrappers let every call on a file outside the data directory through.
    for name in ("pwritev", "write"):
        monkeypatch.setattr(_segment.os, name, injected.wrap_fd_call(getattr(os, name)))
    # Shrinking a file works on a full disk, not on a read-only medium.
    real_ftruncate = os.ftruncate
    refuse_ftruncate = injected.wrap_fd_call(real_ftruncate)
    monkeypatch.setattr(_segment.os, "ftruncate", lambda fd, size: (
        refuse_ftruncate if injected.error == errno.EROFS else real_ftruncate)(fd, size))
    monkeypatch.setattr(_segment.os, "open", injected.wrap_open(os.open))
    assert _partition.os is _segment.os is _files.os
    return injected


@pytest.fixture
async def server(nursery: trio.Nursery, tmp_path: Path, faults: Faults) -> AsyncIterator[Server]:
    storage = FileBackend(tmp_path / "data", fsync="never")
    storage.create_topic("t", 1)
    server = Server(storage, Config(host=Address("127.0.0.1", 0)), data_directory_check_s=0.05)
    await nursery.start(server.serve)
    yield server
    faults.error = None
    server.shutdown()


async def produce(client: WireClient, *values: bytes) -> Any:
    response = await client.request(PRODUCE, 8, produce_body("t", batch(*values)))
    return response.responses[0].partition_responses[0]


async def read_all(client: WireClient) -> list[int]:
    answer = await client.request(FETCH, 11, fetch_body([("t", 0, 1)]))
    partition = answer.responses[0].partitions[0]
    assert partition.error_code == 0
    return base_offsets(partition.records)


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS], ids=["disk-full", "read-only"])
async def test_write_faults_refuse_produces_keep_reads_and_heal(
        server: Server, faults: Faults, error: int, caplog: pytest.LogCaptureFixture) -> None:
    client = await WireClient.connect(server.address)
    assert (await produce(client, b"before")).base_offset == 1
    faults.error = error
    for _ in range(3):
        refused = await produce(client, b"refused")
        assert refused.error_code == STORAGE_ERROR
        assert os.strerror(error) in refused.error_message
        assert await read_all(client) == [1]  # reads go on meanwhile
    assert faults.failed_calls >= 3
    assert "failed in storage" in caplog.text
    faults.error = None  # space is back / the medium is writable again
    healed = await produce(client, b"after")
    assert healed.error_code == 0
    assert healed.base_offset == 2  # no gap, nothing of the refused batches kept
    assert await read_all(client) == [1, 2]


async def test_write_faults_while_a_segment_rolls(tmp_path: Path, faults: Faults,
                                                  nursery: trio.Nursery) -> None:
    storage = FileBackend(tmp_path / "data", fsync="never", segment_bytes=1024)
    storage.create_topic("t", 1)
    server = Server(storage, Config(host=Address("127.0.0.1", 0)))
    await nursery.start(server.serve)
    client = await WireClient.connect(server.address)
    assert (await produce(client, b"x" * 900)).error_code == 0
    faults.error = errno.ENOSPC  # the next append must start a new segment: it cannot
    assert (await produce(client, b"y" * 900)).error_code == STORAGE_ERROR
    faults.error = None
    assert (await produce(client, b"z" * 900)).base_offset == 2
    assert await read_all(client) == [1, 2]
    server.shutdown()


async def test_removed_data_directory_stops_the_server(tmp_path: Path) -> None:
    storage = FileBackend(tmp_path / "data", fsync="never")
    storage.create_topic("t", 1)
    server = Server(storage, Config(host=Address("127.0.0.1", 0)), data_directory_check_s=0.05)
    with trio.fail_after(10), pytest.raises(ExceptionGroup) as caught:
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            shutil.rmtree(tmp_path / "data")
    assert caught.group_contains(DataDirectoryLost, match="data directory .* was removed")
    with pytest.raises(Exception):  # noqa: B017 - closing into a missing directory fails somehow
        storage.close()


def test_serve_exits_with_a_clear_error_when_its_directory_goes(tmp_path: Path) -> None:
    from tests.interop.daemon import Daemon

    daemon = Daemon(tmp_path / "data", MINIKAFKA_LOG_LEVEL="warning").start()
    assert daemon.process is not None
    shutil.rmtree(tmp_path / "data")
    status = daemon.process.wait(timeout=30)
    daemon.process = None
    assert status == 1
    log = daemon.log()
    assert f"minikafka serve: the data directory {tmp_path / 'data'} was removed" in log
    assert "Traceback" not in log


# --- a real full filesystem -----------------------------------------------------


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if not sys.platform.startswith("linux") or shutil.which("mount") is None:
        pytest.skip("needs Linux mount")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                            capture_output=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


async def test_a_really_full_disk(tiny_filesystem: Path, nursery: trio.Nursery) -> None:
    ballast = tiny_filesystem / "ballast"  # something else on the disk, deleted later
    ballast.write_bytes(b"\0" * 256 * 1024)
    storage = FileBackend(tiny_filesystem / "data", fsync="never")
    storage.create_topic("t", 1)
    server = Server(storage, Config(host=Address("127.0.0.1", 0)))
    await nursery.start(server.serve)
    client = await WireClient.connect(server.address)
    stored = 0
    while (answer := await produce(client, os.urandom(50_000))).error_code == 0:
        stored += 1
        assert stored < 100, "a 1 MiB filesystem never filled up"
    assert answer.error_code == STORAGE_ERROR
    assert "No space left on device" in answer.error_message
    assert len(await read_all(client)) >= 1  # reads go on (the first fetch returns a prefix)
    assert (await produce(client, os.urandom(50_000))).error_code == STORAGE_ERROR
    ballast.unlink()  # an operator frees space: the broker goes on by itself
    healed = await produce(client, os.urandom(50_000))
    assert healed.error_code == 0
    assert healed.base_offset == stored + 1
    server.shutdown()
