"""Kafka error codes: lookup by code, and agreement with kafka-python's table.

Clients act on an error's code and on whether it is retriable, so both must
be exactly Kafka's. kafka-python's ``kafka.errors`` is an independent table
of the same codes; where it names a code differently from Kafka, the
difference is listed below with the reason.
"""

from __future__ import annotations

import inspect
from typing import Any

import kafka.errors as kafka_python_errors
import pytest

from minikafka.protocol import errors
from minikafka.protocol.errors import KafkaError, error_for_code, for_code

# (code, class name, Kafka's name, retriable)
_KNOWN = [
    (-1, "KafkaError", "UNKNOWN_SERVER_ERROR", False),
    (1, "OffsetOutOfRangeError", "OFFSET_OUT_OF_RANGE", False),
    (2, "CorruptMessageError", "CORRUPT_MESSAGE", True),
    (3, "UnknownTopicOrPartitionError", "UNKNOWN_TOPIC_OR_PARTITION", True),
    (6, "NotLeaderOrFollowerError", "NOT_LEADER_OR_FOLLOWER", True),
    (10, "MessageTooLargeError", "MESSAGE_TOO_LARGE", False),
    (15, "CoordinatorNotAvailableError", "COORDINATOR_NOT_AVAILABLE", True),
    (16, "NotCoordinatorError", "NOT_COORDINATOR", True),
    (17, "InvalidTopicException", "INVALID_TOPIC_EXCEPTION", False),
    (22, "IllegalGenerationError", "ILLEGAL_GENERATION", False),
    (25, "UnknownMemberIdError", "UNKNOWN_MEMBER_ID", False),
    (27, "RebalanceInProgressError", "REBALANCE_IN_PROGRESS", False),
    (33, "UnsupportedSaslMechanismError", "UNSUPPORTED_SASL_MECHANISM", False),
    (35, "UnsupportedVersionError", "UNSUPPORTED_VERSION", False),
    (36, "TopicAlreadyExistsError", "TOPIC_ALREADY_EXISTS", False),
    (58, "SaslAuthenticationFailedError", "SASL_AUTHENTICATION_FAILED", False),
    (69, "GroupIdNotFoundError", "GROUP_ID_NOT_FOUND", False),
    (79, "MemberIdRequiredError", "MEMBER_ID_REQUIRED", False),
    (100, "UnknownTopicIdError", "UNKNOWN_TOPIC_ID", True),
    (122, "ShareSessionNotFoundError", "SHARE_SESSION_NOT_FOUND", True),
    (127, "VoterNotFoundError", "VOTER_NOT_FOUND", False),
]


@pytest.mark.parametrize(("code", "class_name", "name", "retriable"), _KNOWN)
def test_for_code_gives_the_class_for_the_code(
    code: int, class_name: str, name: str, retriable: bool
) -> None:
    cls = for_code(code)
    assert issubclass(cls, KafkaError)
    assert cls.__name__ == class_name
    assert (cls.code, cls.name, cls.retriable) == (code, name, retriable)
    assert cls.description
    # Importable by name, as callers write ``except errors.NotCoordinatorError``.
    assert getattr(errors, class_name) is cls


@pytest.mark.parametrize(("code", "class_name", "name", "retriable"), _KNOWN)
def test_error_for_code_gives_an_instance_carrying_the_message(
    code: int, class_name: str, name: str, retriable: bool
) -> None:
    error = error_for_code(code, "partition 3 of orders")
    assert type(error) is for_code(code)
    assert error.message == "partition 3 of orders"
    assert str(error) == f"{name} ({code}): partition 3 of orders"
    without_message = error_for_code(code)
    assert str(without_message) == f"{name} ({code}): {for_code(code).description}"


def test_code_zero_is_no_error() -> None:
    assert error_for_code(0) is None
    assert error_for_code(0, "ignored") is None
    with pytest.raises(ValueError, match="no error"):
        for_code(0)


@pytest.mark.parametrize("code", [-2, 999, 32767, -32768])
def test_unknown_codes_map_to_unknown_server_error(code: int) -> None:
    assert for_code(code) is KafkaError
    error = error_for_code(code)
    assert type(error) is KafkaError
    assert (error.code, error.name) == (-1, "UNKNOWN_SERVER_ERROR")


def test_every_code_up_to_the_highest_is_defined_once() -> None:
    # Kafka's table has no gaps: a missing code would silently become UNKNOWN_SERVER_ERROR.
    classes = [for_code(code) for code in range(1, 128)]
    assert [cls.code for cls in classes] == list(range(1, 128))
    assert len({cls.name for cls in classes}) == len(classes)
    assert len({cls.__name__ for cls in classes}) == len(classes)


def test_errors_are_exceptions_that_can_be_caught_as_kafka_error() -> None:
    with pytest.raises(KafkaError) as caught:
        raise for_code(16)("coordinator moved")
    assert caught.value.code == 16
    assert caught.value.retriable


# kafka-python names that differ from Kafka's current names; ours follow Kafka.
_KAFKA_PYTHON_NAMES = {
    -1: "UNKNOWN",  # Kafka's name since 2.0 is UNKNOWN_SERVER_ERROR
    6: "NOT_LEADER_FOR_PARTITION",  # renamed NOT_LEADER_OR_FOLLOWER in Kafka 2.7 (KIP-392)
    10: "MESSAGE_SIZE_TOO_LARGE",  # Kafka's name is MESSAGE_TOO_LARGE
    17: "INVALID_TOPIC",  # Kafka's name is INVALID_TOPIC_EXCEPTION
    39: "INVALID_REPLICATION_ASSIGNMENT",  # Kafka's name is INVALID_REPLICA_ASSIGNMENT
}
# kafka-python retriable flags that differ from Kafka's: CORRUPT_MESSAGE is
# retriable in Kafka (CorruptRecordException is a RetriableException).
_KAFKA_PYTHON_RETRIABLE = {2: False}


def _kafka_python_error_classes() -> list[Any]:
    return [
        pytest.param(cls, id=name)
        for name, cls in sorted(vars(kafka_python_errors).items())
        if inspect.isclass(cls) and getattr(cls, "errno", None) not in (None, 0)
    ]


@pytest.mark.parametrize("theirs", _kafka_python_error_classes())
def test_every_kafka_python_code_exists_with_the_same_name(theirs: Any) -> None:
    code = theirs.errno
    ours = for_code(code)
    assert ours.code == code, f"{theirs.__name__} ({code}) is missing here"
    if code in _KAFKA_PYTHON_NAMES:
        # Still a real difference; drop the entry if kafka-python adopts Kafka's name.
        assert theirs.message == _KAFKA_PYTHON_NAMES[code] != ours.name
    else:
        assert ours.name == theirs.message
    if code in _KAFKA_PYTHON_RETRIABLE:
        assert theirs.retriable == _KAFKA_PYTHON_RETRIABLE[code] != ours.retriable
    else:
        assert ours.retriable == theirs.retriable
