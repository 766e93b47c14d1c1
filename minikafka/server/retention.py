"""The background task that drops expired messages and forgets idle producers.

It runs every tenth of the shortest retention time in force, the broker's
or a topic's ``retention.ms`` (between 10 ms and one minute), so a message
outlives its retention by at most about a tenth of it. The
eviction itself runs in a worker thread: deleting segment files must not
stall the connections.
"""

from __future__ import annotations

import logging

import trio

from minikafka.storage._common import RETENTION_MS
from minikafka.storage.base import StorageError

from .broker import Broker
from .config import format_duration

__all__ = ["check_interval", "evict_once", "run_retention", "shortest_retention_ms"]

logger = logging.getLogger(__name__)

MIN_INTERVAL_S = 0.01
MAX_INTERVAL_S = 60.0


def check_interval(retention_ms: int) -> float:
    """Seconds between two retention passes for a given retention time."""
    return min(max(retention_ms / 10_000, MIN_INTERVAL_S), MAX_INTERVAL_S)


def shortest_retention_ms(broker: Broker) -> int:
    """The shortest retention in force: the broker's, or a topic's retention.ms if shorter."""
    shortest = broker.config.retention_ms
    for topic in broker.storage.topics():
        try:
            value = int(broker.storage.topic_config(topic).get(RETENTION_MS, -1))
        except (ValueError, StorageError):  # deleted meanwhile, or not a number: not shorter
            continue
        if value >= 0:
            shortest = min(shortest, value)
    return shortest


async def evict_once(broker: Broker) -> int:
    """One retention pass: returns how many messages it removed."""
    now = broker.clock()
    retention_ms = broker.config.retention_ms
    evicted: int = await trio.to_thread.run_sync(broker.storage.evict, now, retention_ms)
    if evicted:
        logger.info("retention removed %d messages stored more than %s ago (or their topic's "
                    "retention.ms)", evicted, format_duration(retention_ms))
    forgotten = broker.producers.expire(now)
    if forgotten:
        logger.debug("forgot %d idle producer states", forgotten)
    return evicted


async def run_retention(broker: Broker) -> None:
    """Evict expired messages forever (until cancelled); a failing pass is logged and retried."""
    while True:
        await trio.sleep(check_interval(shortest_retention_ms(broker)))
        try:
            await evict_once(broker)
        except Exception as exc:  # storage trouble must not take the broker down
            logger.error("retention pass failed: %s", exc)
