"""Fixtures for the storage tests: a clock the test moves, and every backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from minikafka.storage.base import Storage, StorageFailure
from minikafka.storage.file import FileBackend
from minikafka.storage.memory import MemoryBackend


class FakeClock:
    """Milliseconds that move only when the test says so."""

    def __init__(self, now: int = 1_700_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


BackendFactory = Callable[[FakeClock, Path], Storage]

BACKENDS: dict[str, BackendFactory] = {
    "memory": lambda clock, root: MemoryBackend(clock=clock),
    "file": lambda clock, root: FileBackend(root, clock=clock, fsync="never"),
    # Tiny segments and a dense index: most batches sit in a segment of their own,
    # so every read, lookup and eviction crosses segment boundaries.
    "file-tiny-segments": lambda clock, root: FileBackend(
        root, clock=clock, fsync="always", segment_bytes=250, index_interval_bytes=0
    ),
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


Opener = Callable[..., FileBackend]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def open_backend(root: Path, clock: FakeClock) -> Iterator[Opener]:
    """Opens FileBackends (on ``root`` unless told otherwise); closes them after the test.

    Options default to the test's clock and ``fsync="never"``.
    """
    opened: list[FileBackend] = []

    def opener(path: Path | None = None, **options: object) -> FileBackend:
        options.setdefault("clock", clock)
        options.setdefault("fsync", "never")
        backend = FileBackend(path or root, **options)  # type: ignore[arg-type]
        opened.append(backend)
        return backend

    yield opener
    for backend in opened:
        try:
            backend.close()
        except StorageFailure:
            pass  # a test that broke the disk on purpose


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Path) -> Iterator[Storage]:
    backend = BACKENDS[request.param](clock, tmp_path / "data")
    try:
        yield backend
    finally:
        backend.close()
