"""The consumer protocol's subscription and assignment bytes, checked against kafka-python's."""

from __future__ import annotations

import pytest
from kafka.protocol.consumer.metadata import (  # type: ignore[import-untyped]
    ConsumerProtocolAssignment,
    ConsumerProtocolSubscription,
)

from minikafka.protocol.consumer_protocol import (
    Assignment,
    InvalidConsumerProtocol,
    Subscription,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_subscriptions_match_kafka_python(version: int) -> None:
    ours = Subscription(("orders", "payments"), b"user", {"orders": (0, 2)}, 7, "rack-a", version)
    theirs = ConsumerProtocolSubscription.decode(encode_subscription(ours))
    assert (theirs.version, theirs.topics, theirs.user_data) == (version, ["orders", "payments"],
                                                                 b"user")
    if version >= 1:
        assert [(tp.topic, tp.partitions) for tp in theirs.owned_partitions] == [("orders", [0, 2])]
    back = decode_subscription(theirs.encode())
    expected = {0: Subscription(("orders", "payments"), b"user", version=0),
                1: Subscription(("orders", "payments"), b"user", {"orders": (0, 2)}, version=1),
                2: Subscription(("orders", "payments"), b"user", {"orders": (0, 2)}, 7, version=2),
                3: ours}[version]
    assert back == expected


def test_assignments_match_kafka_python() -> None:
    ours = Assignment({"orders": (1, 0), "payments": (3,)}, None)
    theirs = ConsumerProtocolAssignment.decode(encode_assignment(ours))
    assert [(tp.topic, tp.partitions) for tp in theirs.assigned_partitions] == [
        ("orders", [1, 0]), ("payments", [3])]
    kafka_bytes = ConsumerProtocolAssignment(
        version=0, assigned_partitions=[("orders", [2, 0])], user_data=b"x").encode()
    assert decode_assignment(kafka_bytes) == Assignment({"orders": (0, 2)}, b"x")


def test_a_newer_version_is_read_by_its_known_prefix() -> None:
    v3 = encode_subscription(Subscription(("t",), None, {}, 1, None, 3))
    future = b"\x00\x09" + v3[2:] + b"fields of version 9"
    assert decode_subscription(future).topics == ("t",)
    assert decode_subscription(future).version == 9


def test_empty_assignment_bytes_mean_nothing_assigned() -> None:
    assert decode_assignment(b"") == Assignment({})


@pytest.mark.parametrize("data", [b"\x00", b"\x00\x00\x00\x00\x00\x05\x00", b"\xff\xff"])
def test_garbage_is_a_typed_error(data: bytes) -> None:
    with pytest.raises(InvalidConsumerProtocol):
        decode_subscription(data)
    with pytest.raises(InvalidConsumerProtocol):
        decode_assignment(data)
