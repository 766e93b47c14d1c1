"""The background task that drops expired messages and forgets idle producers.

It runs every tenth of the retention time (between 10 ms and one minute),
so a message outlives its retention by at most about a tenth of it. The
eviction itself runs in a worker thread: deleting segment files must not
stall the connections.
"""

from __future__ import annotations

import logging

import trio

from .broker import Broker
from .config import format_duration

__all__ = ["check_interval", "evict_once", "run_retention"]

logger = logging.getLogger(__name__)

MIN_INTERVAL_S = 0.01
MAX_INTERVAL_S = 60.0


def check_interval(retention_ms: int) -> float:
    """Seconds between two retention passes for a given retention time."""
    return min(max(retention_ms / 10_000, MIN_INTERVAL_S), MAX_INTERVAL_S)


async def evict_once(broker: Broker) -> int:
    """One retention pass: returns how many messages it removed."""
    now = broker.clock()
    retention_ms = broker.config.retention_ms
    evicted: int = await trio.to_thread.run_sync(broker.storage.evict, now, retention_ms)
    if evicted:
        logger.info("retention removed %d messages stored more than %s ago",
                    evicted, format_duration(retention_ms))
    forgotten = broker.producers.expire(now)
    if forgotten:
        logger.debug("forgot %d idle producer states", forgotten)
    return evicted


async def run_retention(broker: Broker) -> None:
    """Evict expired messages forever (until cancelled); a failing pass is logged and retried."""
    interval = check_interval(broker.config.retention_ms)
    while True:
        await trio.sleep(interval)
        try:
            await evict_once(broker)
        except Exception as exc:  # storage trouble must not take the broker down
            logger.error("retention pass failed: %s", exc)
