"""The topic and broker settings MiniKafka knows, as CreateTopics checks and DescribeConfigs reports them.

One setting changes behaviour per topic: ``retention.ms`` (how long messages
are kept; -1 forever), which overrides MINIKAFKA_RETENTIONTIME. A few more of
Kafka's topic settings are accepted when they ask for what MiniKafka does
anyway (``cleanup.policy=delete``, ...), so that tools which spell out the
defaults keep working; any other value, or any other name, is refused with
INVALID_CONFIG and a message saying what is supported, never silently
ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from .config import Config

__all__ = [
    "BROKER_CONFIGS",
    "TOPIC_CONFIGS",
    "ConfigSource",
    "ConfigType",
    "Setting",
    "check_topic_configs",
]


class ConfigType:
    """DescribeConfigs' config_type codes (version 3)."""

    BOOLEAN = 1
    STRING = 2
    INT = 3
    LONG = 5
    LIST = 7


class ConfigSource:
    """DescribeConfigs' config_source codes: where a value comes from."""

    DYNAMIC_TOPIC_CONFIG = 1  # set on the topic (at creation)
    STATIC_BROKER_CONFIG = 4  # set on the broker (MINIKAFKA_* variables)
    DEFAULT_CONFIG = 5  # nobody set it


@attrs.frozen
class Setting:
    """One named setting: how to read its value off the broker's config, and what is accepted."""

    name: str
    config_type: int
    documentation: str
    value: Callable[[Config], str]  # the broker-wide value
    # Why a value is refused, or None when it is accepted.
    check: Callable[[str], str | None] = lambda value: None
    broker_name: str | None = None  # the broker setting a topic setting falls back to
    read_only: bool = False

    def source(self, config: Config) -> int:
        """Whether the broker's value was configured or is the default."""
        configured = self.value(config) != self.value(Config())
        return ConfigSource.STATIC_BROKER_CONFIG if configured else ConfigSource.DEFAULT_CONFIG


def _retention(value: str) -> str | None:
    try:
        number = int(value)
    except ValueError:
        return "must be a whole number of milliseconds (-1 keeps messages forever)"
    if number < -1:
        return "must be -1 (forever) or a number of milliseconds"
    return None


def _only(accepted: str, reason: str) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return None if value == accepted else f"only {accepted!r} is supported: {reason}"

    return check


TOPIC_CONFIGS: dict[str, Setting] = {setting.name: setting for setting in [
    Setting("retention.ms", ConfigType.LONG,
            "How long a message is kept, counted from when the broker stored it; -1 keeps "
            "messages forever. Overrides the broker's MINIKAFKA_RETENTIONTIME.",
            lambda config: str(config.retention_ms), _retention, broker_name="log.retention.ms"),
    Setting("cleanup.policy", ConfigType.LIST,
            "What happens to old messages: they are deleted once older than retention.ms.",
            lambda config: "delete", _only("delete", "MiniKafka has no log compaction")),
    Setting("retention.bytes", ConfigType.LONG,
            "Largest size of a partition before old messages are deleted: no limit.",
            lambda config: "-1", _only("-1", "MiniKafka limits retention by time only")),
    Setting("compression.type", ConfigType.STRING,
            "How stored batches are compressed: as the producer sent them.",
            lambda config: "producer",
            _only("producer", "batches are stored as the producer compressed them")),
    Setting("message.timestamp.type", ConfigType.STRING,
            "Which timestamp messages carry: the one the producer gave them.",
            lambda config: "CreateTime", _only("CreateTime", "messages keep the producer's time")),
    Setting("min.insync.replicas", ConfigType.INT,
            "Replicas that must have a message before acks=all is answered: the only one.",
            lambda config: "1", _only("1", "MiniKafka is a single broker holding one replica")),
]}

BROKER_CONFIGS: dict[str, Setting] = {setting.name: setting for setting in [
    Setting("broker.id", ConfigType.INT, "This broker's id.", lambda config: "0", read_only=True),
    Setting("log.retention.ms", ConfigType.LONG,
            "How long messages are kept (MINIKAFKA_RETENTIONTIME).",
            lambda config: str(config.retention_ms), read_only=True),
    Setting("num.partitions", ConfigType.INT,
            "Partitions of a topic created without a count (MINIKAFKA_DEFAULT_PARTITIONS).",
            lambda config: str(config.default_partitions), read_only=True),
    Setting("default.replication.factor", ConfigType.INT, "Replicas of a new topic.",
            lambda config: "1", read_only=True),
    Setting("auto.create.topics.enable", ConfigType.BOOLEAN,
            "Whether Metadata creates missing topics (MINIKAFKA_AUTO_CREATE_TOPICS).",
            lambda config: "true" if config.auto_create_topics else "false", read_only=True),
    Setting("message.max.bytes", ConfigType.INT,
            "Largest record batch accepted (MINIKAFKA_MAX_MESSAGE_BYTES).",
            lambda config: str(config.max_message_bytes), read_only=True),
    Setting("socket.request.max.bytes", ConfigType.INT,
            "Largest request frame accepted (MINIKAFKA_MAX_FRAME_BYTES).",
            lambda config: str(config.max_frame_bytes), read_only=True),
    Setting("group.initial.rebalance.delay.ms", ConfigType.INT,
            "How long an empty group's first rebalance waits for more members "
            "(MINIKAFKA_GROUP_INITIAL_REBALANCE_DELAY).",
            lambda config: str(config.group_initial_rebalance_delay_ms), read_only=True),
]}


def check_topic_configs(configs: Mapping[str, str | None]) -> str | None:
    """Why a topic cannot be created with ``configs``, or None when it can."""
    for name, value in configs.items():
        setting = TOPIC_CONFIGS.get(name)
        if setting is None:
            supported = ", ".join(sorted(TOPIC_CONFIGS))
            return f"MiniKafka does not support the topic config {name!r} (it knows {supported})"
        if value is None:
            return f"Null value not supported for topic configs: {name}"
        reason = setting.check(value)
        if reason is not None:
            return f"Invalid value {value!r} for configuration {name}: {reason}"
    return None
