"""Notice when the data directory disappears from under a running broker, and say so.

A directory removed (or replaced) while the broker has its files open does
not make writes fail: they go on into files nobody can reach, and the next
start finds nothing. ``watch_data_directory`` checks every
``DATA_DIRECTORY_CHECK_S`` that the directory is still the one that was
opened (same device and inode); when it is not, the broker stops with a
``DataDirectoryLost`` naming it, which ``minikafka serve`` reports in one
line with exit status 1.
"""

from __future__ import annotations

import os
from pathlib import Path

import trio

from minikafka.storage.base import StorageFailure

__all__ = ["DATA_DIRECTORY_CHECK_S", "DataDirectoryLost", "watch_data_directory"]

DATA_DIRECTORY_CHECK_S = 1.0


class DataDirectoryLost(StorageFailure):
    """The data directory was removed or replaced while the broker was using it."""

    def __init__(self, root: Path, what: str) -> None:
        self.root = root
        super().__init__(f"the data directory {root} {what} while the broker was running; "
                         "messages acknowledged since may be lost. Stopped.")


def _identity(root: Path) -> tuple[int, int]:
    status = os.stat(root)
    return status.st_dev, status.st_ino


async def watch_data_directory(root: Path, interval_s: float = DATA_DIRECTORY_CHECK_S
                               ) -> DataDirectoryLost:
    """Return (never raise) the loss of ``root``, once it happens; runs until then."""
    try:
        opened = _identity(root)
    except FileNotFoundError:
        return DataDirectoryLost(root, "was removed")
    except OSError as exc:
        return DataDirectoryLost(root, f"became unreachable ({exc.strerror})")
    while True:
        await trio.sleep(interval_s)
        try:
            now = _identity(root)
        except FileNotFoundError:
            return DataDirectoryLost(root, "was removed")
        except OSError as exc:
            return DataDirectoryLost(root, f"became unreachable ({exc.strerror})")
        if now != opened:
            return DataDirectoryLost(root, "was replaced by another directory")
