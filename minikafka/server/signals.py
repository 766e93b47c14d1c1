"""Wake-ups for long-polling fetches: "something was appended to this partition".

A fetch that found too little data registers itself under every partition
it reads and sleeps; a produce to any of them wakes it. A produce wakes
exactly the fetches that read the partition it wrote, in O(waiters of that
partition).

Trio runs one task at a time, so a fetch that checks storage and then
registers (without awaiting in between) cannot miss an append made between
the two.

A waiting fetch is parked with ``trio.lowlevel.wait_task_rescheduled`` and
woken with ``reschedule``; its ``max_wait_ms`` is enforced by one timer task
per run (a trio system task, started with the first wait), which sleeps
until the earliest deadline of the waits still pending. A cancel scope per
wait would do the same, but entering and leaving one costs about 10 us,
paid on the path of every woken fetch; the timer sleeps on a new cancel
scope only when its earliest deadline passes or a wait with an earlier one
arrives. Deadlines of waits woken early are dropped lazily from its heap:
when they reach its top, or, so that many fetches woken long before their
``max_wait_ms`` cannot pile up there, all at once when they outnumber the
pending ones (plus ``_PRUNE_SLACK``), as trio prunes its own deadlines.

``unresumed`` counts the fetches woken and not yet run since: a produce that
woke some waits until they have had their turn (see ``handlers.produce``),
and yields no more than that needs.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable

import outcome
import trio

__all__ = ["PartitionSignals"]

TopicPartition = tuple[str, int]

# Stale deadlines (of waits already over) the timer's heap may hold beyond twice
# the pending ones before they are all dropped at once.
_PRUNE_SLACK = 1000


class _Waiter:
    """One waiting fetch: its task, what it waits for, until when; ``done`` once woken."""

    __slots__ = ("deadline", "done", "keys", "task")

    def __init__(self, task: trio.lowlevel.Task, keys: list[TopicPartition],
                 deadline: float) -> None:
        self.task = task
        self.keys = keys
        self.deadline = deadline
        self.done = False


class PartitionSignals:
    """Partition -> the fetches waiting for it, and the timer that ends their waits."""

    def __init__(self) -> None:
        self._waiters: dict[TopicPartition, set[_Waiter]] = {}
        self._closed = False
        # Fetches woken by a notification that have not run since: a fetch waiting
        # on several partitions is counted once, when it is first woken.
        self._unresumed = 0
        # (deadline, tie-breaker, waiter) of every wait not yet known to be over
        self._deadlines: list[tuple[float, int, _Waiter]] = []
        self._pending = 0  # waits in the heap not yet over
        self._order = itertools.count()
        self._timer_run: trio.lowlevel.TrioToken | None = None  # the run the timer serves
        self._timer_scope: trio.CancelScope | None = None  # the timer's current sleep

    @property
    def unresumed(self) -> int:
        """How many woken fetches have not yet run (each runs until its next wait at once)."""
        return self._unresumed

    def notify(self, topic: str, partition: int) -> bool:
        """Wake every fetch waiting on ``topic``/``partition``; True if there was one."""
        waiters = self._waiters.pop((topic, partition), None)
        if waiters is None:
            return False
        for waiter in waiters:
            self._wake(waiter, True)
        return True

    def notify_all(self) -> None:
        """Wake every waiting fetch, now and from now on (the broker is stopping)."""
        self._closed = True
        waiters, self._waiters = self._waiters, {}
        for waiting in waiters.values():
            for waiter in waiting:
                self._wake(waiter, True)

    @property
    def closed(self) -> bool:
        return self._closed

    async def wait(self, partitions: Iterable[TopicPartition], timeout: float) -> bool:
        """Sleep until one of ``partitions`` is notified or ``timeout`` seconds pass.

        Returns True when woken by a notification, False on timeout.
        """
        if self._closed:
            return True
        keys = list(partitions)
        waiter = _Waiter(trio.lowlevel.current_task(), keys,
                         trio.current_time() + max(timeout, 0.0))
        waiters = self._waiters
        for key in keys:
            waiting = waiters.get(key)
            if waiting is None:
                waiters[key] = {waiter}
            else:
                waiting.add(waiter)
        self._time(waiter)

        def abort(_: object) -> trio.lowlevel.Abort:  # cancelled: forget the wait
            waiter.done = True
            self._pending -= 1
            self._forget(waiter)
            return trio.lowlevel.Abort.SUCCEEDED

        notified: bool = await trio.lowlevel.wait_task_rescheduled(abort)
        if notified:  # counted by _wake: this fetch runs now
            self._unresumed -= 1
        # Only now: until this fetch has run, a produce to another of its partitions
        # finds it waiting too, and lets it answer first as well.
        self._forget(waiter)
        return notified

    def waiting(self) -> int:
        """How many (fetch, partition) registrations are pending (for tests and stats)."""
        return sum(len(waiting) for waiting in self._waiters.values())

    def _wake(self, waiter: _Waiter, notified: bool) -> None:
        if waiter.done:
            return
        waiter.done = True
        self._pending -= 1
        if notified:
            self._unresumed += 1
        trio.lowlevel.reschedule(waiter.task, outcome.Value(notified))

    def _forget(self, waiter: _Waiter) -> None:
        waiters = self._waiters
        for key in waiter.keys:
            waiting = waiters.get(key)
            if waiting is not None:
                waiting.discard(waiter)
                if not waiting:
                    del waiters[key]

    # -- the timer ----------------------------------------------------------------

    def _time(self, waiter: _Waiter) -> None:
        """Have the timer end ``waiter``'s wait at its deadline."""
        deadlines = self._deadlines
        if len(deadlines) > 2 * self._pending + _PRUNE_SLACK:
            deadlines[:] = [entry for entry in deadlines if not entry[2].done]  # in place:
            heapq.heapify(deadlines)  # the timer task holds this list
        heapq.heappush(deadlines, (waiter.deadline, next(self._order), waiter))
        self._pending += 1
        run = trio.lowlevel.current_trio_token()
        if self._timer_run is not run:
            self._timer_run = run
            self._timer_scope = None
            trio.lowlevel.spawn_system_task(self._expire_waits, name="long-poll timer")
        elif self._timer_scope is not None and waiter.deadline < self._timer_scope.deadline:
            self._timer_scope.deadline = waiter.deadline

    async def _expire_waits(self) -> None:
        """The timer task: end each pending wait whose deadline has passed, forever."""
        deadlines = self._deadlines
        while True:
            now = trio.current_time()
            while deadlines and (deadlines[0][2].done or deadlines[0][0] <= now):
                self._wake(heapq.heappop(deadlines)[2], False)
            with trio.CancelScope(deadline=deadlines[0][0] if deadlines else math.inf) as scope:
                self._timer_scope = scope
                await trio.sleep_forever()
