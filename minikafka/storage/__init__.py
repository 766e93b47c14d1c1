"""Where the broker keeps messages: one interface, an in-memory and a file-segment backend."""

from minikafka.storage.base import (
    FIRST_OFFSET,
    AppendResult,
    Clock,
    InvalidPartitions,
    InvalidTopicConfig,
    InvalidTopicName,
    OffsetOutOfRange,
    ReadResult,
    Storage,
    StorageError,
    StorageFailure,
    TopicAlreadyExists,
    UnknownTopic,
)
from minikafka.storage.file import FileBackend
from minikafka.storage.fsync import DEFAULT_FSYNC, FsyncPolicy
from minikafka.storage.memory import MemoryBackend
from minikafka.storage.names import validate_topic_name

__all__ = [
    "DEFAULT_FSYNC",
    "FIRST_OFFSET",
    "AppendResult",
    "Clock",
    "FileBackend",
    "FsyncPolicy",
    "InvalidPartitions",
    "InvalidTopicConfig",
    "InvalidTopicName",
    "MemoryBackend",
    "OffsetOutOfRange",
    "ReadResult",
    "Storage",
    "StorageError",
    "StorageFailure",
    "TopicAlreadyExists",
    "UnknownTopic",
    "validate_topic_name",
]
