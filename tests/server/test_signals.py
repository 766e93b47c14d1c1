"""Long-poll wake-ups: woken by a notification, or by the timer at the wait's deadline.

The waits have no cancel scope of their own: one timer task per run ends
them, so these tests check that every wait still ends on time (earlier
deadlines arriving after later ones, several runs of trio with the same
signals), and that a cancelled wait leaves nothing behind.
"""

from __future__ import annotations

import trio
import trio.testing

from minikafka.server.signals import PartitionSignals


async def test_a_wait_ends_at_its_timeout(autojump_clock: object) -> None:
    signals = PartitionSignals()
    start = trio.current_time()
    assert await signals.wait([("t", 0)], 2.5) is False
    assert trio.current_time() - start == 2.5
    assert signals.waiting() == 0 and signals.unresumed == 0
    assert signals.notify("t", 0) is False


async def test_each_wait_ends_at_its_own_deadline_in_any_order(autojump_clock: object) -> None:
    signals = PartitionSignals()
    start = trio.current_time()
    ended: dict[float, float] = {}

    async def wait(timeout: float) -> None:
        assert await signals.wait([("t", 0)], timeout) is False
        ended[timeout] = trio.current_time() - start

    async with trio.open_nursery() as nursery:
        for timeout in (30.0, 10.0, 20.0, 0.0, 5.0):  # an earlier deadline after a later one
            nursery.start_soon(wait, timeout)
            await trio.testing.wait_all_tasks_blocked()
    assert ended == {30.0: 30.0, 10.0: 10.0, 20.0: 20.0, 0.0: 0.0, 5.0: 5.0}


async def test_a_notified_wait_ends_at_once_and_its_deadline_is_dropped(
        autojump_clock: object) -> None:
    signals = PartitionSignals()
    results: list[bool] = []

    async def wait(timeout: float) -> None:
        results.append(await signals.wait([("t", 0), ("t", 1)], timeout))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait, 1.0)
        await trio.testing.wait_all_tasks_blocked()
        start = trio.current_time()
        assert signals.notify("t", 1) is True
    assert results == [True] and trio.current_time() == start
    assert signals.waiting() == 0
    # a later wait still times out on time, past the stale deadline of the first
    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait, 3.0)
    assert results == [True, False] and trio.current_time() == start + 3.0


async def test_a_cancelled_wait_leaves_nothing_behind(autojump_clock: object) -> None:
    signals = PartitionSignals()
    with trio.move_on_after(1.0):
        await signals.wait([("t", 0)], 60.0)
    assert signals.waiting() == 0
    assert signals.notify("t", 0) is False
    assert signals.unresumed == 0


def test_the_same_signals_serve_one_run_after_another() -> None:
    signals = PartitionSignals()

    async def one_run() -> None:
        clock_start = trio.current_time()
        assert await signals.wait([("t", 0)], 0.01) is False
        assert trio.current_time() - clock_start >= 0.01

    trio.run(one_run)
    trio.run(one_run)
    assert signals.waiting() == 0


async def test_deadlines_of_waits_woken_early_do_not_pile_up(autojump_clock: object) -> None:
    # A busy consumer's fetches are woken long before their max_wait_ms; without
    # pruning, every one of their deadlines would stay in the timer's heap until
    # the wait it belonged to would have timed out.
    signals = PartitionSignals()
    ended: list[float] = []
    start = trio.current_time()

    async def wait(partition: int, timeout: float) -> None:
        notified = await signals.wait([("t", partition)], timeout)
        if not notified:
            ended.append(trio.current_time() - start)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait, 1, 5.0)  # pending throughout: must still end on time
        await trio.testing.wait_all_tasks_blocked()
        for _ in range(5000):
            nursery.start_soon(wait, 0, 600.0)
            await trio.testing.wait_all_tasks_blocked()
            assert signals.notify("t", 0) is True
            await trio.testing.wait_all_tasks_blocked()
        assert len(signals._deadlines) <= 2 * 1 + 1000 + 1
    assert ended == [5.0]
    assert signals.waiting() == 0 and signals.unresumed == 0
