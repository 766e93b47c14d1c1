"""Wake-ups for long-polling fetches: "something was appended to this partition".

A fetch that found too little data registers one ``trio.Event`` under every
partition it reads and sleeps on it; a produce to any of them sets it. Each
waiter has its own event, so a produce wakes exactly the fetches that read
the partition it wrote, and waking is O(waiters of that partition).

Trio runs one task at a time, so a fetch that checks storage and then
registers (without awaiting in between) cannot miss an append made between
the two.

``unresumed`` counts the fetches woken and not yet run since: a produce that
woke some waits until they have had their turn (see ``handlers.produce``),
and yields no more than that needs.
"""

from __future__ import annotations

from collections.abc import Iterable

import trio

__all__ = ["PartitionSignals"]

TopicPartition = tuple[str, int]


class PartitionSignals:
    """Partition -> the events of the fetches waiting for it."""

    def __init__(self) -> None:
        self._waiters: dict[TopicPartition, set[trio.Event]] = {}
        self._closed = False
        # Events set whose fetch has not run since: a fetch waiting on several
        # partitions is counted once, when its event is first set.
        self._unresumed = 0

    @property
    def unresumed(self) -> int:
        """How many woken fetches have not yet run (each runs until its next wait at once)."""
        return self._unresumed

    def notify(self, topic: str, partition: int) -> bool:
        """Wake every fetch waiting on ``topic``/``partition``; True if there was one."""
        events = self._waiters.pop((topic, partition), None)
        if events is None:
            return False
        self._set(events)
        return True

    def notify_all(self) -> None:
        """Wake every waiting fetch, now and from now on (the broker is stopping)."""
        self._closed = True
        waiters, self._waiters = self._waiters, {}
        for events in waiters.values():
            self._set(events)

    def _set(self, events: Iterable[trio.Event]) -> None:
        for event in events:
            if not event.is_set():
                event.set()
                self._unresumed += 1

    @property
    def closed(self) -> bool:
        return self._closed

    async def wait(self, partitions: Iterable[TopicPartition], timeout: float) -> bool:
        """Sleep until one of ``partitions`` is notified or ``timeout`` seconds pass.

        Returns True when woken by a notification, False on timeout.
        """
        if self._closed:
            return True
        event = trio.Event()
        keys = list(partitions)
        for key in keys:
            self._waiters.setdefault(key, set()).add(event)
        try:
            with trio.move_on_after(max(timeout, 0.0)):
                await event.wait()
        finally:
            if event.is_set():  # counted by _set: this fetch runs now
                self._unresumed -= 1
            for key in keys:
                events = self._waiters.get(key)
                if events is not None:
                    events.discard(event)
                    if not events:
                        del self._waiters[key]
        return event.is_set()

    def waiting(self) -> int:
        """How many (fetch, partition) registrations are pending (for tests and stats)."""
        return sum(len(events) for events in self._waiters.values())
