"""Appends to a FileBackend until killed, printing each acknowledged append.

crash_harness runs this script once, as a launcher: it imports the backend,
then for each line "ROOT BATCH_FILE FSYNC SEGMENT_BYTES FIRST_SEQUENCE" read
from stdin it forks a child (a fresh process in a few milliseconds, where a
new interpreter would spend a third of a second importing) and, once that
child is dead, writes "exited STATUS". The harness SIGKILLs the children.

A child writes "opening PID", opens the backend (recovering from the last
kill), writes "ready", and then appends forever. BATCH_FILE holds record
batches back to back: append number ``sequence`` stores ``1 + sequence % 3``
of them, starting with batch ``sequence % n``, in partition ``sequence % 2``
of topic "crash". After each append returns, one line "partition
base_offset sequence count" goes to stdout (one write(2) of a few bytes to a
pipe, so never torn), so the parent knows exactly which bytes were
acknowledged where.

Store times come from a clock that advances one second per batch number, and
every tenth append evicts what is older than 300 seconds, so kills also land
inside evictions, segment deletions and rolls.
"""

from __future__ import annotations

import os
import sys

from minikafka.protocol.batch_header import iter_batches
from minikafka.storage.file import FileBackend

EPOCH_MS = 1_700_000_000_000
RETENTION_MS = 300_000


def append_until_killed(
    root: str, batch_file: str, fsync: str, segment_bytes: int, first_sequence: int
) -> None:
    with open(batch_file, "rb") as file:
        data = file.read()
    batches = [data[position : position + header.size] for position, header in iter_batches(data)]
    sequence = first_sequence

    def clock() -> int:
        return EPOCH_MS + sequence * 1000

    os.write(1, f"opening {os.getpid()}\n".encode())
    backend = FileBackend(root, clock=clock, fsync=fsync, segment_bytes=segment_bytes)
    if "crash" not in backend.topics():
        backend.create_topic("crash", partitions=2)
    os.write(1, b"ready\n")
    appends = 0
    while True:
        partition = sequence % 2
        count = 1 + sequence % 3
        group = [batches[(sequence + i) % len(batches)] for i in range(count)]
        result = backend.append("crash", partition, group)
        os.write(1, f"{partition} {result.base_offset} {sequence} {count}\n".encode())
        sequence += count
        appends += 1
        if appends % 10 == 0:
            backend.evict(clock(), RETENTION_MS)


def launch() -> None:
    os.write(1, b"launcher ready\n")
    for line in sys.stdin:
        root, batch_file, fsync, segment_bytes, first_sequence = line.split()
        pid = os.fork()
        if pid == 0:
            try:
                append_until_killed(root, batch_file, fsync, int(segment_bytes),
                                    int(first_sequence))
            finally:
                os._exit(1)  # only reached if appending failed: the harness reports it
        _, status = os.waitpid(pid, 0)
        os.write(1, f"exited {status}\n".encode())


if __name__ == "__main__":
    launch()
