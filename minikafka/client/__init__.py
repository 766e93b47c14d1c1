"""MiniKafka's clients: a producer and a consumer, blocking or trio, over one core.

``_protocol`` (one connection's bytes, correlation ids and API versions) and
``_core`` (options, messages, and the produce and poll logic, as plans)
do no I/O. ``_blocking`` drives them with ordinary sockets; ``_trio`` with
trio streams. Users import the public names from ``minikafka`` (blocking)
and ``minikafka.trio``.
"""

from ._core import ConsumerOptions, Message, PendingMessage, ProducerOptions
from ._group import CommitFailed, GroupOptions
from .errors import (
    BrokerUnavailable,
    ClientClosed,
    ClientError,
    KafkaError,
    NotSubscribed,
    UnsupportedByBroker,
)

__all__ = [
    "BrokerUnavailable",
    "ClientClosed",
    "ClientError",
    "CommitFailed",
    "ConsumerOptions",
    "GroupOptions",
    "KafkaError",
    "Message",
    "NotSubscribed",
    "PendingMessage",
    "ProducerOptions",
    "UnsupportedByBroker",
]
