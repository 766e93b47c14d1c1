"""Reading the broker's settings from MINIKAFKA_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikafka.server.config import (
    VARIABLES,
    Address,
    Config,
    ConfigError,
    format_duration,
    load_config,
    parse_duration,
    unknown_variables,
)
from minikafka.storage.fsync import FsyncPolicy


@pytest.mark.parametrize(
    "text, ms",
    [("500ms", 500), ("3s", 3000), ("10m", 600_000), ("1h30m", 5_400_000),
     ("7d", 604_800_000), ("168h", 604_800_000), ("1.5s", 1500), (" 2H ", 7_200_000),
     ("1d2h3m4s5ms", 93_784_005)],
)
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "10", "ms", "5 s", "1x", "s5", "1h 30m", "-1s", "1h30"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("ms", [1, 500, 1000, 5_400_000, 604_800_000, 93_784_005])
def test_format_duration_round_trips(ms: int) -> None:
    assert parse_duration(format_duration(ms)) == ms


def test_defaults() -> None:
    config = Config.from_environ({})
    assert config == Config()
    assert config.host == Address("127.0.0.1", 9092)
    assert config.retention_ms == 168 * 3600 * 1000
    assert config.storage == "file"
    assert config.root_dir == Path("minikafka-data")
    assert config.fsync == FsyncPolicy.every(1000)
    assert config.advertised_host is None
    assert config.auto_create_topics is True


@pytest.mark.parametrize(
    "text, address",
    [(":9999", Address(None, 9999)), ("0.0.0.0:9092", Address("0.0.0.0", 9092)),
     ("localhost:0", Address("localhost", 0)), ("[::1]:9092", Address("::1", 9092))],
)
def test_listen_addresses(text: str, address: Address) -> None:
    assert Config.from_environ({"MINIKAFKA_HOST": text}).host == address


def test_every_setting_is_read() -> None:
    config = Config.from_environ({
        "MINIKAFKA_HOST": ":19092",
        "MINIKAFKA_ADVERTISED_HOST": "kafka.example",
        "MINIKAFKA_RETENTIONTIME": "1h30m",
        "MINIKAFKA_STORAGE": "Memory",
        "MINIKAFKA_ROOT_DIR": "/var/lib/minikafka",
        "MINIKAFKA_FSYNC": "always",
        "MINIKAFKA_LOG_LEVEL": "debug",
        "MINIKAFKA_AUTO_CREATE_TOPICS": "false",
        "MINIKAFKA_MAX_MESSAGE_BYTES": "2000000",
        "MINIKAFKA_MAX_FRAME_BYTES": "10000000",
        "MINIKAFKA_SEGMENT_BYTES": "1048576",
        "MINIKAFKA_SEGMENT_TIME": "1h",
        "MINIKAFKA_DEFAULT_PARTITIONS": "3",
        "MINIKAFKA_GROUP_INITIAL_REBALANCE_DELAY": "0s",
        "MINIKAFKA_MAX_CONNECTIONS": "50",
        "MINIKAFKA_MAX_CONNECTION_BUFFER_BYTES": "65536",
        "MINIKAFKA_IDLE_TIMEOUT": "30s",
        "MINIKAFKA_TLS_CERT": "/etc/minikafka/cert.pem",
        "MINIKAFKA_TLS_KEY": "/etc/minikafka/key.pem",
        "MINIKAFKA_SASL_USERS_FILE": "/etc/minikafka/users",
        "MINIKAFKA_SASL_MECHANISMS": "scram-sha-512, PLAIN",
    })
    assert config == Config(
        host=Address(None, 19092), advertised_host=Address("kafka.example", None),
        retention_ms=5_400_000, storage="memory", root_dir=Path("/var/lib/minikafka"),
        fsync=FsyncPolicy.always(), log_level="DEBUG", auto_create_topics=False,
        max_message_bytes=2_000_000, max_frame_bytes=10_000_000,
        segment_bytes=1_048_576, segment_ms=3_600_000,
        default_partitions=3, group_initial_rebalance_delay_ms=0,
        max_connections=50, max_connection_buffer_bytes=65536, idle_timeout_ms=30_000,
        tls_cert=Path("/etc/minikafka/cert.pem"), tls_key=Path("/etc/minikafka/key.pem"),
        sasl_users_file=Path("/etc/minikafka/users"), sasl_mechanisms=("SCRAM-SHA-512", "PLAIN"),
    )
    assert {variable.name for variable in VARIABLES} == {
        "MINIKAFKA_HOST", "MINIKAFKA_ADVERTISED_HOST", "MINIKAFKA_RETENTIONTIME",
        "MINIKAFKA_STORAGE", "MINIKAFKA_ROOT_DIR", "MINIKAFKA_FSYNC", "MINIKAFKA_LOG_LEVEL",
        "MINIKAFKA_AUTO_CREATE_TOPICS", "MINIKAFKA_MAX_MESSAGE_BYTES",
        "MINIKAFKA_MAX_FRAME_BYTES", "MINIKAFKA_SEGMENT_BYTES", "MINIKAFKA_SEGMENT_TIME",
        "MINIKAFKA_DEFAULT_PARTITIONS", "MINIKAFKA_GROUP_INITIAL_REBALANCE_DELAY",
        "MINIKAFKA_MAX_CONNECTIONS", "MINIKAFKA_MAX_CONNECTION_BUFFER_BYTES",
        "MINIKAFKA_IDLE_TIMEOUT", "MINIKAFKA_TLS_CERT", "MINIKAFKA_TLS_KEY",
        "MINIKAFKA_SASL_USERS_FILE", "MINIKAFKA_SASL_MECHANISMS"}


def test_segments_roll_no_later_than_the_retention_time() -> None:
    assert Config().segment_age_ms == 7 * 86_400_000
    assert Config(retention_ms=1000).segment_age_ms == 1000
    assert Config(retention_ms=1000, segment_ms=5000).segment_age_ms == 5000


def test_empty_values_take_the_default() -> None:
    assert Config.from_environ({"MINIKAFKA_HOST": "", "MINIKAFKA_RETENTIONTIME": "  "}) == Config()


@pytest.mark.parametrize(
    "variable, value, accepted",
    [
        ("MINIKAFKA_HOST", "9092", "host:port"),
        ("MINIKAFKA_HOST", "localhost:99999", "host:port"),
        ("MINIKAFKA_HOST", "::1:9092", "host:port"),
        ("MINIKAFKA_HOST", "bad host:1", "host:port"),
        ("MINIKAFKA_ADVERTISED_HOST", ":9092", "host, host:port"),
        ("MINIKAFKA_RETENTIONTIME", "7 days", "a duration such as 500ms"),
        ("MINIKAFKA_RETENTIONTIME", "0s", "above zero"),
        ("MINIKAFKA_STORAGE", "disk", "file or memory"),
        ("MINIKAFKA_FSYNC", "sometimes", "always, never, or an interval"),
        ("MINIKAFKA_LOG_LEVEL", "loud", "debug, info, warning"),
        ("MINIKAFKA_AUTO_CREATE_TOPICS", "maybe", "true or false"),
        ("MINIKAFKA_MAX_MESSAGE_BYTES", "1MB", "whole number of bytes"),
        ("MINIKAFKA_MAX_FRAME_BYTES", "10", "from 1024 to 2147483647"),
        ("MINIKAFKA_SEGMENT_BYTES", "100", "from 1024 to 2147483647"),
        ("MINIKAFKA_SEGMENT_TIME", "soon", "a duration"),
    ],
)
def test_bad_values_name_variable_value_and_what_is_accepted(
    variable: str, value: str, accepted: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_environ({variable: value})
    message = str(caught.value)
    assert message.startswith(f"{variable}={value!r} is not valid: expected ")
    assert accepted in message
    assert "\n" not in message


def test_unknown_variables_are_reported_with_a_suggestion() -> None:
    warnings = unknown_variables({"MINIKAFKA_RETENTION_TIME": "1s", "MINIKAFKA_HOST": "x",
                                  "PATH": "/bin"})
    assert warnings == ["MINIKAFKA_RETENTION_TIME is not a MiniKafka setting; ignored "
                        "(did you mean MINIKAFKA_RETENTIONTIME?)"]


def test_load_config_reads_env_file_but_set_variables_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("MINIKAFKA_RETENTIONTIME=10m\nMINIKAFKA_STORAGE=memory\n")
    monkeypatch.setenv("MINIKAFKA_STORAGE", "file")
    # set, then unset: monkeypatch then removes what load_config adds to os.environ
    monkeypatch.setenv("MINIKAFKA_RETENTIONTIME", "1s")
    monkeypatch.delenv("MINIKAFKA_RETENTIONTIME")
    config = load_config(env_file)
    assert (config.retention_ms, config.storage) == (600_000, "file")



def test_readme_documents_every_variable_with_its_real_default() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `MINIKAFKA_")]
    documented = {row.split("`")[1]: row.split("|")[2].strip() for row in rows}
    assert list(documented) == [variable.name for variable in VARIABLES]
    for variable in VARIABLES:
        if variable.default and "," not in variable.default:
            assert documented[variable.name] == f"`{variable.default}`"
            # the documented default is what the broker uses when the variable is unset
            assert Config.from_environ({variable.name: variable.default}) == Config()
