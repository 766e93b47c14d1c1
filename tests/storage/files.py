"""Helpers for tests of the file backend's files: crash snapshots and segment listings."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from minikafka.storage.base import Storage


def crash_copy(root: Path, to: Path) -> Path:
    """The directory as a SIGKILL would leave it: copied while the backend is open.

    The background flusher may replace a file meanwhile; one that vanishes
    mid-copy is left out, as it would be from a crash at that moment.
    """
    for directory, _, files in os.walk(root):
        target = to / Path(directory).relative_to(root)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            try:
                shutil.copy2(Path(directory) / name, target / name)
            except FileNotFoundError:
                pass
    return to


def all_records(backend: Storage, topic: str = "t", partition: int = 0) -> bytes:
    """Every batch from the log start, as one read returns them."""
    start = backend.log_start_offset(topic, partition)
    return bytes(backend.read(topic, partition, start, 1 << 30).records)


def segment_files(root: Path, partition: str = "t-0", suffix: str = ".log") -> list[str]:
    return sorted(path.name for path in (root / partition).glob(f"*{suffix}"))
