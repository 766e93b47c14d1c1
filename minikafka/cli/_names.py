"""Argument types for topic names and group ids, so a bad name is refused before connecting.

Topic names follow Kafka's rules (``storage.names``: ASCII letters, digits,
'.', '_', '-', at most 249 characters, not "." or ".."); the broker applies
the same rules to every name that arrives over the wire. Group ids are any
1 to 255 characters without control characters (Kafka itself accepts almost
anything; control characters only make logs and listings unreadable).
"""

from __future__ import annotations

import argparse

from minikafka.storage.base import InvalidTopicName
from minikafka.storage.names import validate_topic_name

__all__ = ["MAX_GROUP_ID_LENGTH", "group_id", "topic_name"]

MAX_GROUP_ID_LENGTH = 255


def topic_name(text: str) -> str:
    """``text`` if Kafka would accept it as a topic name (argparse type)."""
    try:
        return validate_topic_name(text)
    except InvalidTopicName as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def group_id(text: str) -> str:
    """``text`` if it is a usable consumer group id (argparse type)."""
    if not 1 <= len(text) <= MAX_GROUP_ID_LENGTH:
        raise argparse.ArgumentTypeError(f"a group id is 1 to {MAX_GROUP_ID_LENGTH} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        raise argparse.ArgumentTypeError(f"group id {text!r} contains control characters")
    return text
