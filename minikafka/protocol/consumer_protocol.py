"""The consumer protocol: what group members put in JoinGroup metadata and SyncGroup assignments.

The broker passes these bytes through untouched; consumers (ours, Kafka's,
kafka-python's, librdkafka's) agree on their layout, Kafka's
ConsumerProtocolSubscription and ConsumerProtocolAssignment: an int16
version, then the fields of that version. Readers decode a newer version by
its known prefix, as Kafka's do (every field added since version 0 was
appended). An empty assignment (zero bytes) means "nothing assigned".

    Subscription v0: topics [string], user_data nullable bytes
                 v1: + owned_partitions [topic string, partitions [int32]]
                 v2: + generation_id int32
                 v3: + rack_id nullable string
    Assignment  v0-3: assigned_partitions [topic string, partitions [int32]],
                      user_data nullable bytes
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs
import construct as c

from .primitives import Array, Int16, Int32, NullableBytes, NullableString, String

__all__ = [
    "CONSUMER_PROTOCOL_TYPE",
    "Assignment",
    "InvalidConsumerProtocol",
    "Subscription",
    "decode_assignment",
    "decode_subscription",
    "encode_assignment",
    "encode_subscription",
]

CONSUMER_PROTOCOL_TYPE = "consumer"  # JoinGroup's protocol_type for consumer groups

_topic_partitions = Array(c.Struct("topic" / String, "partitions" / Array(Int32)))

_SUBSCRIPTION = {
    0: c.Struct("topics" / Array(String), "user_data" / NullableBytes),
    1: c.Struct("topics" / Array(String), "user_data" / NullableBytes,
                "owned_partitions" / _topic_partitions),
    2: c.Struct("topics" / Array(String), "user_data" / NullableBytes,
                "owned_partitions" / _topic_partitions, "generation_id" / Int32),
    3: c.Struct("topics" / Array(String), "user_data" / NullableBytes,
                "owned_partitions" / _topic_partitions, "generation_id" / Int32,
                "rack_id" / NullableString),
}
_ASSIGNMENT = c.Struct("assigned_partitions" / _topic_partitions, "user_data" / NullableBytes)
_VERSION = c.Struct("version" / Int16)


class InvalidConsumerProtocol(ValueError):
    """Bytes that are not a consumer-protocol subscription or assignment."""


def _by_topic(pairs: Iterable[tuple[str, list[int]]]) -> dict[str, tuple[int, ...]]:
    merged: dict[str, list[int]] = {}
    for topic, partitions in pairs:
        merged.setdefault(topic, []).extend(partitions)
    return {topic: tuple(sorted(partitions)) for topic, partitions in merged.items()}


@attrs.frozen
class Subscription:
    """A member's JoinGroup metadata: the topics it wants, and what it owns now."""

    topics: tuple[str, ...]
    user_data: bytes | None = None
    owned_partitions: Mapping[str, tuple[int, ...]] = attrs.field(factory=dict)
    generation_id: int = -1
    rack_id: str | None = None
    version: int = 0


@attrs.frozen
class Assignment:
    """What the leader gave a member: partitions by topic."""

    partitions: Mapping[str, tuple[int, ...]]
    user_data: bytes | None = None
    version: int = 0


def encode_subscription(subscription: Subscription) -> bytes:
    version = subscription.version
    if version not in _SUBSCRIPTION:
        raise ValueError(f"subscription version {version} is not 0-3")
    fields = {
        "topics": list(subscription.topics),
        "user_data": subscription.user_data,
        "owned_partitions": [{"topic": topic, "partitions": list(partitions)}
                             for topic, partitions in subscription.owned_partitions.items()],
        "generation_id": subscription.generation_id,
        "rack_id": subscription.rack_id,
    }
    return bytes(_VERSION.build({"version": version}) + _SUBSCRIPTION[version].build(fields))


def decode_subscription(data: bytes) -> Subscription:
    """A subscription from JoinGroup metadata (InvalidConsumerProtocol if it is not one)."""
    try:
        version = _VERSION.parse(data).version
        if version < 0:
            raise InvalidConsumerProtocol(f"negative subscription version {version}")
        parsed = _SUBSCRIPTION[min(version, 3)].parse(data[_VERSION.sizeof():])
    except (c.ConstructError, ValueError) as exc:
        raise InvalidConsumerProtocol(f"not a consumer subscription: {exc}") from None
    return Subscription(
        topics=tuple(parsed.topics),
        user_data=parsed.user_data,
        owned_partitions=_by_topic((entry.topic, entry.partitions)
                                   for entry in parsed.get("owned_partitions", [])),
        generation_id=parsed.get("generation_id", -1),
        rack_id=parsed.get("rack_id"),
        version=version,
    )


def encode_assignment(assignment: Assignment) -> bytes:
    if not 0 <= assignment.version <= 3:
        raise ValueError(f"assignment version {assignment.version} is not 0-3")
    fields = {
        "assigned_partitions": [{"topic": topic, "partitions": list(partitions)}
                                for topic, partitions in assignment.partitions.items()],
        "user_data": assignment.user_data,
    }
    return bytes(_VERSION.build({"version": assignment.version}) + _ASSIGNMENT.build(fields))


def decode_assignment(data: bytes) -> Assignment:
    """An assignment from a SyncGroup answer; zero bytes is the empty assignment."""
    if not data:
        return Assignment({})
    try:
        version = _VERSION.parse(data).version
        if version < 0:
            raise InvalidConsumerProtocol(f"negative assignment version {version}")
        parsed = _ASSIGNMENT.parse(data[_VERSION.sizeof():])
    except (c.ConstructError, ValueError) as exc:
        raise InvalidConsumerProtocol(f"not a consumer assignment: {exc}") from None
    return Assignment(
        _by_topic((entry.topic, entry.partitions) for entry in parsed.assigned_partitions),
        parsed.user_data, version,
    )
