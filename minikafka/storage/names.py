"""Kafka's rules for topic names, checked before a name can reach the file system.

A legal name is 1 to 249 characters drawn from ASCII letters, digits, '.', '_'
and '-', and is neither "." nor "..". Such a name cannot contain a path
separator or refer to a parent directory, so ``root / f"{topic}-{partition}"``
always stays inside the root directory.
"""

from __future__ import annotations

import re

from minikafka.storage.base import InvalidTopicName

__all__ = ["MAX_TOPIC_NAME_LENGTH", "validate_topic_name"]

MAX_TOPIC_NAME_LENGTH = 249  # Kafka's limit, leaving room for "-<partition>" in a file name
_LEGAL = re.compile(r"[A-Za-z0-9._-]+")


def validate_topic_name(topic: str) -> str:
    """Return ``topic`` unchanged if Kafka would accept it; raise InvalidTopicName otherwise."""
    if not isinstance(topic, str):
        raise InvalidTopicName(repr(topic), "a topic name must be a string")
    if not topic:
        raise InvalidTopicName(topic, "the name is empty")
    if topic in (".", ".."):
        raise InvalidTopicName(topic, "'.' and '..' are not allowed")
    if len(topic) > MAX_TOPIC_NAME_LENGTH:
        raise InvalidTopicName(
            topic, f"{len(topic)} characters is longer than {MAX_TOPIC_NAME_LENGTH}"
        )
    if not _LEGAL.fullmatch(topic):
        bad = sorted({c for c in topic if not _LEGAL.fullmatch(c)})
        raise InvalidTopicName(
            topic,
            f"illegal characters {''.join(bad)!r}; only ASCII letters, digits, '.', '_', '-'",
        )
    return topic
