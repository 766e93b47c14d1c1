"""TLS and SASL with real clients: kcat, confluent-kafka and kafka-python against the daemon.

Certificates are made here with trustme (a throwaway CA, a broker
certificate for 127.0.0.1 and localhost). One broker runs SASL_SSL with a
users file holding a password line and SCRAM lines; another runs TLS alone.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from confluent_kafka import (  # type: ignore[import-untyped]
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Producer,
    TopicPartition,
)

from minikafka.protocol.codec import encode_request
from minikafka.protocol.framing import frame
from minikafka.protocol.messages.api_versions import API_VERSIONS
from minikafka.server.auth.credentials import scram_line

from .daemon import Daemon

TIMEOUT_S = 30
ALICE_PASSWORD = "alice-Pa55word"
BOB_PASSWORD = "bob-Pa55word"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": directory / "ca.pem", "cert": directory / "broker.pem",
             "key": directory / "broker.key"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    issued.private_key_pem.write_to_path(str(paths["key"]))
    with open(paths["cert"], "wb") as out:
        for blob in issued.cert_chain_pems:
            out.write(blob.bytes())
    return paths


def _daemon(root: Path, **variables: str) -> Iterator[Daemon]:
    broker = Daemon(root, MINIKAFKA_LOG_LEVEL="info", **variables).start()
    yield broker
    if broker.process is not None:
        assert broker.stop() == 0, broker.log()


@pytest.fixture(scope="module")
def sasl_ssl(tmp_path_factory: pytest.TempPathFactory,
             certificates: dict[str, Path]) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("sasl-ssl")
    users = root / "users"
    users.write_text(f"alice:plain:{ALICE_PASSWORD}\n"
                     f"{scram_line('bob', BOB_PASSWORD, 'SCRAM-SHA-256')}\n"
                     f"{scram_line('bob', BOB_PASSWORD, 'SCRAM-SHA-512')}\n")
    yield from _daemon(root / "data", MINIKAFKA_TLS_CERT=str(certificates["cert"]),
                       MINIKAFKA_TLS_KEY=str(certificates["key"]),
                       MINIKAFKA_SASL_USERS_FILE=str(users))


@pytest.fixture(scope="module")
def tls_only(tmp_path_factory: pytest.TempPathFactory,
             certificates: dict[str, Path]) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("ssl")
    yield from _daemon(root / "data", MINIKAFKA_TLS_CERT=str(certificates["cert"]),
                       MINIKAFKA_TLS_KEY=str(certificates["key"]))


def librdkafka_config(daemon: Daemon, certificates: dict[str, Path], mechanism: str | None,
                      user: str = "", password: str = "") -> dict[str, str]:
    config = {"bootstrap.servers": daemon.bootstrap, "ssl.ca.location": str(certificates["ca"])}
    if mechanism is None:
        config["security.protocol"] = "SSL"
    else:
        config.update({"security.protocol": "SASL_SSL", "sasl.mechanism": mechanism,
                       "sasl.username": user, "sasl.password": password})
    return config


def confluent_round_trip(config: dict[str, str], topic: str, count: int = 20) -> list[bytes]:
    errors: list[Any] = []
    producer = Producer({**config, "enable.idempotence": True})
    for number in range(count):
        producer.produce(topic, value=f"secure {number}".encode(),
                         on_delivery=lambda error, _: errors.append(error) if error else None)
    assert producer.flush(TIMEOUT_S) == 0 and not errors, errors
    consumer = Consumer({**config, "group.id": "secure", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        values: list[bytes] = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(1)
            if message is not None and message.error() is None:
                values.append(message.value())
    finally:
        consumer.close()
    return values


@pytest.mark.parametrize(("mechanism", "user", "password"), [
    ("PLAIN", "alice", ALICE_PASSWORD),
    ("SCRAM-SHA-256", "bob", BOB_PASSWORD),
    ("SCRAM-SHA-512", "bob", BOB_PASSWORD),
    ("SCRAM-SHA-512", "alice", ALICE_PASSWORD),
])
def test_confluent_kafka_sasl_ssl(sasl_ssl: Daemon, certificates: dict[str, Path], topic: str,
                                  mechanism: str, user: str, password: str) -> None:
    config = librdkafka_config(sasl_ssl, certificates, mechanism, user, password)
    assert confluent_round_trip(config, topic) == [f"secure {n}".encode() for n in range(20)]
    assert f"authenticated as '{user}' with {mechanism}" in sasl_ssl.log()


def test_confluent_kafka_tls_only(tls_only: Daemon, certificates: dict[str, Path],
                                  topic: str) -> None:
    config = librdkafka_config(tls_only, certificates, None)
    assert confluent_round_trip(config, topic) == [f"secure {n}".encode() for n in range(20)]


@pytest.mark.kcat
@pytest.mark.parametrize(("mechanism", "user", "password"), [
    ("PLAIN", "alice", ALICE_PASSWORD),
    ("SCRAM-SHA-256", "bob", BOB_PASSWORD),
])
def test_kcat_sasl_ssl(sasl_ssl: Daemon, certificates: dict[str, Path], topic: str,
                       mechanism: str, user: str, password: str) -> None:
    assert shutil.which("kcat") is not None
    options: list[str] = []
    for key, value in librdkafka_config(sasl_ssl, certificates, mechanism, user, password).items():
        if key != "bootstrap.servers":
            options += ["-X", f"{key}={value}"]
    lines = [f"kcat line {n}" for n in range(1, 11)]

    def kcat(*arguments: str, stdin: bytes = b"") -> str:
        result = subprocess.run(["kcat", "-b", sasl_ssl.bootstrap, *options, *arguments],
                                input=stdin, capture_output=True, timeout=TIMEOUT_S, check=False)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result.stdout.decode()

    kcat("-P", "-t", topic, stdin="\n".join(lines).encode() + b"\n")
    output = kcat("-C", "-t", topic, "-o", "beginning", "-e", "-f", "%o:%s\n")
    assert output.splitlines() == [f"{n}:kcat line {n}" for n in range(1, 11)]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_wrong_password_is_refused(sasl_ssl: Daemon, certificates: dict[str, Path], topic: str,
                                   mechanism: str) -> None:
    password = f"Not-{mechanism}-pw"
    failures: list[Any] = []
    config = librdkafka_config(sasl_ssl, certificates, mechanism, "bob", password)
    delivered: list[Any] = []
    producer = Producer({**config, "error_cb": failures.append, "message.timeout.ms": 3000})
    producer.produce(topic, value=b"must not arrive",
                     on_delivery=lambda error, _: delivered.append(error))
    producer.flush(10)
    assert len(delivered) == 1 and delivered[0] is not None  # failed, never delivered
    assert any(error.code() == KafkaError._AUTHENTICATION for error in failures), failures
    log = sasl_ssl.log()
    assert f"SASL {mechanism} authentication failed for user 'bob'" in log
    assert password not in log


def test_plaintext_client_against_tls_is_refused_cleanly(tls_only: Daemon) -> None:
    with socket.create_connection(("127.0.0.1", tls_only.port), timeout=10) as sock:
        sock.sendall(frame(encode_request(API_VERSIONS, 0, 1, {})))
        received = b""
        while chunk := sock.recv(65536):  # the broker closes; nothing Kafka comes back
            received += chunk
    assert not received.startswith(b"\x00\x00"), received[:40]
    assert "TLS handshake failed" in tls_only.log()
    # the broker is unharmed: a TLS client still gets through (the round trip test)
    assert tls_only.process is not None and tls_only.process.poll() is None


def test_kafka_python_scram_over_tls(sasl_ssl: Daemon, certificates: dict[str, Path],
                                     topic: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # type: ignore[import-untyped]

    security = {"bootstrap_servers": sasl_ssl.bootstrap, "security_protocol": "SASL_SSL",
                "ssl_cafile": str(certificates["ca"]), "sasl_mechanism": "SCRAM-SHA-256",
                "sasl_plain_username": "bob", "sasl_plain_password": BOB_PASSWORD}
    producer = KafkaProducer(acks="all", **security)
    for number in range(10):
        producer.send(topic, f"kp {number}".encode()).get(timeout=TIMEOUT_S)
    producer.close()
    consumer = KafkaConsumer(enable_auto_commit=False, consumer_timeout_ms=5000, **security)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    values = [message.value for message in consumer]
    consumer.close()
    assert values == [f"kp {number}".encode() for number in range(10)]
