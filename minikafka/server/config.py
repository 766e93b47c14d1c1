"""The broker's settings, read from ``MINIKAFKA_*`` environment variables.

``load_config()`` first loads a ``.env`` file from the working directory
(python-dotenv; variables already set in the environment win), then builds a
``Config`` from the environment. Every value is checked before the broker
listens: a bad one raises ``ConfigError``, whose message is one line naming
the variable, the value and what is accepted.

Durations are written as one or more number-unit pairs: ``500ms``, ``3s``,
``10m``, ``1h30m``, ``7d`` (units ``ms``, ``s``, ``m``, ``h``, ``d``).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import attrs

from minikafka.storage.fsync import DEFAULT_FSYNC, FsyncPolicy

__all__ = [
    "VARIABLES",
    "Address",
    "Config",
    "ConfigError",
    "format_duration",
    "load_config",
    "parse_duration",
    "unknown_variables",
]

_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
DURATION_FORM = "a duration such as 500ms, 3s, 10m, 1h30m or 7d"
DEFAULT_SEGMENT_MS = 7 * 86_400_000


class ConfigError(ValueError):
    """A configuration value the broker cannot start with."""

    def __init__(self, variable: str, value: str, accepted: str) -> None:
        self.variable = variable
        self.value = value
        self.accepted = accepted
        super().__init__(f"{variable}={value!r} is not valid: expected {accepted}")


def parse_duration(text: str) -> int:
    """Milliseconds in a duration such as ``1h30m``; ValueError if it is not one."""
    compact = text.strip().lower()
    position = 0
    total = 0.0
    for match in _DURATION_PART.finditer(compact):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_MS[match.group(2)]
        position = match.end()
    if position == 0 or position != len(compact):
        raise ValueError(f"{text!r} is not {DURATION_FORM}")
    return round(total)


def format_duration(ms: int) -> str:
    """The shortest duration string for ``ms``: 604800000 -> ``7d``, 5400000 -> ``1h30m``."""
    if ms == 0:
        return "0s"
    parts = []
    remaining = ms
    for unit in ("d", "h", "m", "s", "ms"):
        count, remaining = divmod(remaining, _UNIT_MS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


@attrs.frozen
class Address:
    """A host and port to listen on or to advertise.

    ``host`` is None for "every interface" (written ``:9092``); ``port`` is
    None only for an advertised address whose port follows the listener's.
    """

    host: str | None
    port: int | None

    def __str__(self) -> str:
        host = self.host or ""
        if ":" in host:
            host = f"[{host}]"
        return host if self.port is None else f"{host}:{self.port}"


def _parse_address(text: str, *, port_required: bool) -> Address:
    text = text.strip()
    if text.startswith("["):  # [ipv6]:port
        host, bracket, rest = text[1:].partition("]")
        if not bracket or not host:
            raise ValueError("unclosed [ in an IPv6 address")
        if rest and not rest.startswith(":"):
            raise ValueError("expected :port after ]")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" in text:
        raise ValueError("write IPv6 addresses in brackets, as [::1]:9092")
    else:
        host, port_text = text, None
    if port_text is None:
        if port_required:
            raise ValueError("missing :port")
        port = None
    else:
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ValueError(f"port {port_text!r} is not a number from 0 to 65535")
        port = int(port_text)
    if not host and (port is None or not port_required):
        raise ValueError("missing host")
    if host and not re.fullmatch(r"[A-Za-z0-9._:%-]+", host):
        raise ValueError(f"{host!r} is not a host name or IP address")
    return Address(host or None, port)


def _parse_listen(text: str) -> Address:
    return _parse_address(text, port_required=True)


def _parse_advertised(text: str) -> Address:
    return _parse_address(text, port_required=False)


def _parse_retention(text: str) -> int:
    ms = parse_duration(text)
    if ms <= 0:
        raise ValueError("retention must be longer than zero")
    return ms


def _parse_storage(text: str) -> Literal["file", "memory"]:
    value = text.strip().lower()
    if value == "file":
        return "file"
    if value == "memory":
        return "memory"
    raise ValueError("not a storage kind")


def _parse_log_level(text: str) -> str:
    value = text.strip().upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("not a log level")
    return value


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("not a boolean")


def _whole_number(minimum: int, maximum: int = 2**63 - 1) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = text.strip().replace("_", "")
        if not value.isdigit() or not minimum <= int(value) <= maximum:
            raise ValueError("not a whole number in range")
        return int(value)

    return parse


def _parse_segment_time(text: str) -> int:
    ms = parse_duration(text)
    if ms <= 0:
        raise ValueError("segment time must be longer than zero")
    return ms


def _parse_fsync(text: str) -> FsyncPolicy:
    return FsyncPolicy.parse(text)


def _parse_positive_duration(text: str) -> int:
    ms = parse_duration(text)
    if ms <= 0:
        raise ValueError("the duration must be longer than zero")
    return ms


SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _parse_sasl_mechanisms(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip().upper() for name in text.split(",")))
    if not names or any(name not in SASL_MECHANISMS for name in names):
        raise ValueError("not a list of SASL mechanisms")
    return names


@attrs.frozen
class Variable:
    """One ``MINIKAFKA_`` variable, as the README's table documents it."""

    name: str
    field: str
    default: str
    accepted: str
    description: str


VARIABLES: tuple[Variable, ...] = (
    Variable("MINIKAFKA_HOST", "host", "127.0.0.1:9092",
             "host:port, [ipv6]:port, or :port for every interface",
             "Address to listen on. `:9999` listens on every interface, port 9999."),
    Variable("MINIKAFKA_ADVERTISED_HOST", "advertised_host", "",
             "host, host:port or [ipv6]:port",
             "Address given to clients in Metadata and FindCoordinator. Unset: the address "
             "each client connected to. Without a port, the listening port is used."),
    Variable("MINIKAFKA_RETENTIONTIME", "retention_ms", "168h", DURATION_FORM + ", above zero",
             "Maximum age of a message, counted from when the broker stored it."),
    Variable("MINIKAFKA_STORAGE", "storage", "file", "file or memory",
             "`file`: segment files under MINIKAFKA_ROOT_DIR. `memory`: lost at exit."),
    Variable("MINIKAFKA_ROOT_DIR", "root_dir", "./minikafka-data", "a directory path",
             "Data directory of the file storage; created if missing."),
    Variable("MINIKAFKA_FSYNC", "fsync", "1s",
             "always, never, or an interval such as 1s, 500ms or 2m",
             "When the file storage forces appended data to disk: before each produce is "
             "acknowledged (`always`: a power failure loses nothing acknowledged), once per "
             "interval (loses up to about one interval), or when the operating system "
             "decides (`never`). A crash of the broker alone loses nothing in any mode."),
    Variable("MINIKAFKA_LOG_LEVEL", "log_level", "info", "debug, info, warning, error or critical",
             "Lowest level of the log lines written to standard error."),
    Variable("MINIKAFKA_AUTO_CREATE_TOPICS", "auto_create_topics", "true", "true or false",
             "Create a topic when a client asks for its metadata and allows creation, as "
             "Kafka's auto.create.topics.enable does."),
    Variable("MINIKAFKA_MAX_MESSAGE_BYTES", "max_message_bytes", "1048588",
             "a whole number of bytes from 61 to 2147483647",
             "Largest record batch a producer may send (Kafka's message.max.bytes); larger "
             "ones get MESSAGE_TOO_LARGE."),
    Variable("MINIKAFKA_SEGMENT_BYTES", "segment_bytes", "134217728",
             "a whole number of bytes from 1024 to 2147483647",
             "File storage: a partition starts a new segment file once the active one holds "
             "this much. Retention deletes whole segments."),
    Variable("MINIKAFKA_SEGMENT_TIME", "segment_ms", "7d, or the retention time if shorter",
             DURATION_FORM + ", above zero",
             "File storage: a partition starts a new segment file once the active one is this "
             "old, so that expired messages' files can be deleted."),
    Variable("MINIKAFKA_MAX_FRAME_BYTES", "max_frame_bytes", "104857600",
             "a whole number of bytes from 1024 to 2147483647",
             "Largest request frame (Kafka's socket.request.max.bytes); a client announcing "
             "a larger one is disconnected before its bytes are read."),
    Variable("MINIKAFKA_DEFAULT_PARTITIONS", "default_partitions", "1",
             "a whole number from 1 to 100000",
             "Partitions of a topic created automatically, or by CreateTopics without a "
             "count (Kafka's num.partitions)."),
    Variable("MINIKAFKA_GROUP_INITIAL_REBALANCE_DELAY", "group_initial_rebalance_delay_ms",
             "300ms", DURATION_FORM + ", or 0s",
             "How long the first rebalance of an empty consumer group waits for more members "
             "(Kafka's group.initial.rebalance.delay.ms, 3s there), once more each time one "
             "arrives, up to the members' rebalance timeout."),
    Variable("MINIKAFKA_MAX_CONNECTIONS", "max_connections", "1000",
             "a whole number from 1 to 1000000",
             "Most client connections open at once; one more is closed as soon as it is "
             "accepted, with a warning in the log, while the open ones are served as before. "
             "Kafka's max.connections has no limit by default; this one keeps a connection "
             "flood within the usual limit of 1024 open files."),
    Variable("MINIKAFKA_MAX_CONNECTION_BUFFER_BYTES", "max_connection_buffer_bytes", "1048576",
             "a whole number of bytes from 1024 to 2147483647",
             "Request bytes read ahead of the request being handled, per connection (one "
             "frame being received may need more, up to MINIKAFKA_MAX_FRAME_BYTES). A "
             "connection answers one request at a time and reads no further while its "
             "response waits for the client to read it, so a client that never reads makes "
             "the broker hold one response and no more than this of its requests."),
    Variable("MINIKAFKA_IDLE_TIMEOUT", "idle_timeout_ms", "10m", DURATION_FORM + ", above zero",
             "A connection that sends nothing for this long, or reads none of a response for "
             "this long, is closed (Kafka's connections.max.idle.ms). A long poll the client "
             "asked for is not idleness."),
    Variable("MINIKAFKA_TLS_CERT", "tls_cert", "", "a PEM file: the certificate, then its chain",
             "With MINIKAFKA_TLS_KEY: every connection speaks TLS 1.2 or later (Kafka's SSL, "
             "or SASL_SSL with MINIKAFKA_SASL_USERS_FILE). Unset: plaintext."),
    Variable("MINIKAFKA_TLS_KEY", "tls_key", "", "a PEM file holding the unencrypted private key",
             "The private key of MINIKAFKA_TLS_CERT; set both or neither."),
    Variable("MINIKAFKA_SASL_USERS_FILE", "sasl_users_file", "",
             "a credentials file (see Security below)",
             "Require SASL authentication (SASL_PLAINTEXT, or SASL_SSL with TLS) from the users "
             "in this file; before it succeeds a connection may send only ApiVersions and the "
             "SASL requests. Unset: no authentication."),
    Variable("MINIKAFKA_SASL_MECHANISMS", "sasl_mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
             "a comma-separated list of PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512",
             "The SASL mechanisms offered when MINIKAFKA_SASL_USERS_FILE is set."),
)

_PARSERS: dict[str, Callable[[str], object]] = {
    "host": _parse_listen,
    "advertised_host": _parse_advertised,
    "retention_ms": _parse_retention,
    "storage": _parse_storage,
    "root_dir": Path,
    "fsync": _parse_fsync,
    "log_level": _parse_log_level,
    "auto_create_topics": _parse_bool,
    "max_message_bytes": _whole_number(61, 2**31 - 1),
    "max_frame_bytes": _whole_number(1024, 2**31 - 1),
    "segment_bytes": _whole_number(1024, 2**31 - 1),
    "segment_ms": _parse_segment_time,
    "default_partitions": _whole_number(1, 100_000),
    "group_initial_rebalance_delay_ms": parse_duration,
    "max_connections": _whole_number(1, 1_000_000),
    "max_connection_buffer_bytes": _whole_number(1024, 2**31 - 1),
    "idle_timeout_ms": _parse_positive_duration,
    "tls_cert": Path,
    "tls_key": Path,
    "sasl_users_file": Path,
    "sasl_mechanisms": _parse_sasl_mechanisms,
}


@attrs.frozen(kw_only=True)
class Config:
    """Everything the broker and the ``serve`` command are configured with."""

    host: Address = Address("127.0.0.1", 9092)
    advertised_host: Address | None = None
    retention_ms: int = 168 * 3_600_000
    storage: Literal["file", "memory"] = "file"
    root_dir: Path = Path("minikafka-data")
    fsync: FsyncPolicy = DEFAULT_FSYNC
    log_level: str = "INFO"
    auto_create_topics: bool = True
    max_message_bytes: int = 1_048_588
    max_frame_bytes: int = 100 * 1024 * 1024
    segment_bytes: int = 128 * 1024 * 1024
    segment_ms: int | None = None  # None: the smaller of 7 days and the retention time
    default_partitions: int = 1
    group_initial_rebalance_delay_ms: int = 300
    max_connections: int = 1000
    max_connection_buffer_bytes: int = 1024 * 1024
    idle_timeout_ms: int = 600_000  # Kafka's connections.max.idle.ms
    tls_cert: Path | None = None
    tls_key: Path | None = None
    sasl_users_file: Path | None = None
    sasl_mechanisms: tuple[str, ...] = SASL_MECHANISMS

    @property
    def idle_timeout_s(self) -> float:
        return self.idle_timeout_ms / 1000

    @property
    def segment_age_ms(self) -> int:
        """When the file storage rolls a segment by age."""
        if self.segment_ms is not None:
            return self.segment_ms
        return min(DEFAULT_SEGMENT_MS, self.retention_ms)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Config:
        """The configuration the variables in ``environ`` describe (ConfigError if one is bad).

        An unset or empty variable takes its default.
        """
        values: dict[str, object] = {}
        for variable in VARIABLES:
            text = environ.get(variable.name, "").strip()
            if not text:
                continue
            try:
                values[variable.field] = _PARSERS[variable.field](text)
            except ValueError:
                raise ConfigError(variable.name, text, variable.accepted) from None
        if ("tls_cert" in values) != ("tls_key" in values):
            missing = "MINIKAFKA_TLS_KEY" if "tls_cert" in values else "MINIKAFKA_TLS_CERT"
            raise ConfigError(missing, "", "a PEM file, since TLS needs both the certificate "
                              "and its key")
        return cls(**values)  # type: ignore[arg-type]


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One warning per ``MINIKAFKA_`` variable that is no setting (a typo), naming the closest."""
    known = [variable.name for variable in VARIABLES]
    warnings = []
    for name in sorted(environ):
        if name.startswith("MINIKAFKA_") and name not in known and name not in _OTHER_VARIABLES:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            warnings.append(f"{name} is not a MiniKafka setting; ignored{hint}")
    return warnings


# Variables read by other parts of MiniKafka (storage, clients, tests), not by the broker.
_OTHER_VARIABLES: frozenset[str] = frozenset()


def load_config(env_file: str | os.PathLike[str] = ".env",
                environ: Mapping[str, str] | None = None) -> Config:
    """Load ``env_file`` into the environment (set variables win), then read the config."""
    import dotenv

    dotenv.load_dotenv(env_file, override=False)
    return Config.from_environ(os.environ if environ is None else environ)
