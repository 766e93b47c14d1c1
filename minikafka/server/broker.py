"""The broker's state, shared by every request handler, and the context of one request.

Handlers are plain functions of ``(request body, RequestContext)``; the
context gives them the ``Broker`` (storage, settings, producer state,
fetch wake-ups) and what they need to know about the connection the request
came on (the address the client reached, to advertise it back).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import attrs

from minikafka.protocol.codec import RequestHeader
from minikafka.storage._common import wall_clock_ms
from minikafka.storage.base import Clock, Storage
from minikafka.storage.offsets import MemoryOffsets, OffsetStore

from .config import Address, Config
from .groups import GroupCoordinator, GroupSettings
from .idempotence import ProducerStates
from .signals import PartitionSignals

__all__ = ["CLUSTER_ID", "NODE_ID", "Broker", "CloseConnection", "Deferred", "RequestContext",
           "group_coordinator"]

NODE_ID = 0  # the one broker of the cluster, also its controller
# Kafka's cluster ids are 22 characters of URL-safe base64; clients only compare them.
CLUSTER_ID = "TWluaUthZmthTWluaUthZg"


class CloseConnection(Exception):
    """A request that cannot be answered: close its connection (the message says why)."""


class Deferred:
    """An answer that is not ready yet: ``answer`` to await, and how long it can take.

    ``max_wait_s`` is the longest the wait can last (a long poll's
    ``max_wait_ms``; 0 for a wait that only lets other tasks run), or None
    when nothing bounds it (a disk flush, a group rebalance). The connection
    keeps its idle deadline through a wait that ends before it anyway, and
    lifts it otherwise (``limits.IdleGuard.pause``). A handler may return a
    plain awaitable instead, which counts as unbounded.
    """

    # A plain class with slots: one is made per deferred request, attrs adds nothing here.
    __slots__ = ("answer", "max_wait_s")

    def __init__(self, answer: Awaitable[Any], max_wait_s: float | None) -> None:
        self.answer = answer
        self.max_wait_s = max_wait_s


@attrs.define
class Broker:
    """Everything a request handler may use, beyond the request itself.

    ``groups`` coordinates consumer groups; it keeps committed offsets in
    memory unless given a durable store (``Server`` passes the one it gets).
    """

    storage: Storage
    config: Config = attrs.Factory(Config)
    clock: Clock = wall_clock_ms
    producers: ProducerStates = attrs.field(
        default=attrs.Factory(lambda self: ProducerStates(self.clock), takes_self=True)
    )
    signals: PartitionSignals = attrs.Factory(PartitionSignals)
    groups: GroupCoordinator = attrs.field(
        default=attrs.Factory(
            lambda self: group_coordinator(self.config, MemoryOffsets(clock=self.clock)),
            takes_self=True,
        )
    )

    @property
    def stopping(self) -> bool:
        """True once shutdown began: long polls answer at once."""
        return self.signals.closed


def group_coordinator(config: Config, offsets: OffsetStore) -> GroupCoordinator:
    """The consumer-group coordinator ``config`` describes, keeping offsets in ``offsets``."""
    settings = GroupSettings(initial_rebalance_delay_ms=config.group_initial_rebalance_delay_ms)
    return GroupCoordinator(offsets, settings)


@attrs.frozen
class RequestContext:
    """One request's surroundings: the broker, the request header, and the connection.

    ``local_address`` is the address the client connected to (what Metadata
    advertises unless MINIKAFKA_ADVERTISED_HOST is set).
    """

    broker: Broker
    header: RequestHeader
    local_address: Address = attrs.field(factory=lambda: Address("127.0.0.1", 9092))
    peer: str = "-"

    @property
    def version(self) -> int:
        return self.header.api_version

    def advertised_address(self) -> tuple[str, int]:
        """Where clients should connect: MINIKAFKA_ADVERTISED_HOST, else where this one did."""
        advertised = self.broker.config.advertised_host
        host = (advertised.host if advertised else None) or self.local_address.host or "127.0.0.1"
        port = (advertised.port if advertised else None) or self.local_address.port or 0
        return host, port
