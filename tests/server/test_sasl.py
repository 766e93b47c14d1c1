"""SASL on real sockets: what is allowed before authentication, PLAIN and SCRAM, failures.

The SCRAM client side is kafka-python's own (kafka.net.sasl.scram), so the
broker is checked against an implementation it did not write.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from kafka.net.sasl.scram import ScramClient  # type: ignore[import-untyped]

from minikafka.protocol import errors
from minikafka.protocol.framing import frame
from minikafka.protocol.messages.api_versions import API_VERSIONS
from minikafka.protocol.messages.metadata import METADATA
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.protocol.messages.sasl_authenticate import SASL_AUTHENTICATE
from minikafka.protocol.messages.sasl_handshake import SASL_HANDSHAKE
from minikafka.server.auth.credentials import CredentialsError, parse_users, scram_line
from minikafka.server.config import Address, Config, ConfigError
from minikafka.server.server import Server
from minikafka.storage.memory import MemoryBackend

from .helpers import WireClient, batch, produce_body

PASSWORD = "correct horse: battery staple"
USERS = f"""# test users
alice:plain:{PASSWORD}
{scram_line("bob", "bob-secret", "SCRAM-SHA-256")}
{scram_line("bob", "bob-secret-512", "SCRAM-SHA-512")}
"""
METADATA_BODY = {"topics": [{"name": "t"}], "allow_auto_topic_creation": True,
                 "include_cluster_authorized_operations": False,
                 "include_topic_authorized_operations": False}


@pytest.fixture
async def server(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[Server]:
    users = tmp_path / "users"
    users.write_text(USERS)
    server = Server(MemoryBackend(), Config(host=Address("127.0.0.1", 0), sasl_users_file=users))
    await nursery.start(server.serve)
    yield server
    server.shutdown()


@pytest.fixture
async def client(server: Server) -> AsyncIterator[WireClient]:
    client = await WireClient.connect(server.address)
    yield client
    await client.aclose()


async def handshake(client: WireClient, mechanism: str, version: int = 1) -> Any:
    return await client.request(SASL_HANDSHAKE, version, {"mechanism": mechanism})


async def authenticate(client: WireClient, token: bytes, version: int = 1) -> Any:
    return await client.request(SASL_AUTHENTICATE, version, {"auth_bytes": token})


async def produce_works(client: WireClient) -> bool:
    await client.request(METADATA, 8, METADATA_BODY)
    response = await client.request(PRODUCE, 8, produce_body("t", batch(b"authenticated")))
    return bool(response.responses[0].partition_responses[0].error_code == 0)


async def scram(client: WireClient, user: str, password: str, mechanism: str) -> Any:
    """A SCRAM exchange driven by kafka-python's client; the final SaslAuthenticate answer."""
    assert (await handshake(client, mechanism)).error_code == 0
    scram_client = ScramClient(user, password, mechanism)
    first = await authenticate(client, scram_client.first_message())
    assert first.error_code == 0, first.error_message
    scram_client.process_server_first_message(bytes(first.auth_bytes))
    final = await authenticate(client, scram_client.final_message())
    if final.error_code == 0:
        scram_client.process_server_final_message(bytes(final.auth_bytes))  # checks the server
    return final


async def test_only_api_versions_and_sasl_before_authentication(
        client: WireClient, caplog: pytest.LogCaptureFixture) -> None:
    versions = await client.request(API_VERSIONS, 3, {"client_software_name": "t",
                                                      "client_software_version": "1"})
    advertised = {item.api_key: item.max_version for item in versions.api_keys}
    assert advertised[SASL_HANDSHAKE.key] == 1 and advertised[SASL_AUTHENTICATE.key] == 1
    await client.send(METADATA, 8, METADATA_BODY)
    with trio.fail_after(5):
        assert await client.closed_by_peer()
    assert "Metadata request before SASL authentication" in caplog.text


async def test_plain_then_requests_are_served(client: WireClient, server: Server,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    answer = await handshake(client, "PLAIN")
    assert answer.error_code == 0
    assert list(answer.mechanisms) == ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    done = await authenticate(client, f"\0alice\0{PASSWORD}".encode())
    assert done.error_code == 0
    assert await produce_works(client)
    assert "authenticated as 'alice' with PLAIN" in caplog.text
    # authenticated: another handshake is out of place, as in Kafka
    again = await handshake(client, "PLAIN")
    assert again.error_code == errors.IllegalSaslStateError.code


@pytest.mark.parametrize(("user", "password", "mechanism"), [
    ("alice", PASSWORD, "SCRAM-SHA-256"),  # a password line serves both SCRAMs
    ("alice", PASSWORD, "SCRAM-SHA-512"),
    ("bob", "bob-secret", "SCRAM-SHA-256"),  # stored SCRAM credentials, no password on disk
    ("bob", "bob-secret-512", "SCRAM-SHA-512"),
])
async def test_scram(client: WireClient, user: str, password: str, mechanism: str) -> None:
    final = await scram(client, user, password, mechanism)
    assert final.error_code == 0, final.error_message
    assert await produce_works(client)


@pytest.mark.parametrize(("user", "password", "mechanism", "reason"), [
    ("alice", "not-Her-pw-1", "PLAIN", "wrong password"),
    ("mallory", "anything", "PLAIN", "unknown user"),
    ("bob", "bob-secret", "PLAIN", "unknown user (or one with SCRAM credentials only)"),
    ("alice", "not-Her-pw-2", "SCRAM-SHA-256", "wrong password"),
    ("bob", "bob-secret", "SCRAM-SHA-512", "wrong password"),  # the 256 password
    ("mallory", "anything", "SCRAM-SHA-512", "unknown user"),
])
async def test_wrong_credentials_are_refused_and_logged_without_the_password(
        client: WireClient, user: str, password: str, mechanism: str, reason: str,
        caplog: pytest.LogCaptureFixture) -> None:
    if mechanism == "PLAIN":
        assert (await handshake(client, mechanism)).error_code == 0
        final = await authenticate(client, f"\0{user}\0{password}".encode())
    else:
        final = await scram(client, user, password, mechanism)
    assert final.error_code == errors.SaslAuthenticationFailedError.code
    # the same message whatever was wrong: nothing to learn about which users exist
    assert final.error_message == "Authentication failed: invalid credentials"
    with trio.fail_after(5):
        assert await client.closed_by_peer()
    assert f"authentication failed for user {user!r}: {reason}" in caplog.text
    assert password not in caplog.text


async def test_unsupported_mechanism_lists_the_enabled_ones(client: WireClient) -> None:
    answer = await handshake(client, "GSSAPI")
    assert answer.error_code == errors.UnsupportedSaslMechanismError.code
    assert "SCRAM-SHA-512" in answer.mechanisms
    with trio.fail_after(5):
        assert await client.closed_by_peer()


async def test_authenticate_before_handshake_is_illegal(client: WireClient) -> None:
    answer = await authenticate(client, b"\0alice\0x")
    assert answer.error_code == errors.IllegalSaslStateError.code
    with trio.fail_after(5):
        assert await client.closed_by_peer()


async def test_handshake_v0_then_raw_plain_token(client: WireClient) -> None:
    assert (await handshake(client, "PLAIN", version=0)).error_code == 0
    await client.stream.send_all(frame(f"\0alice\0{PASSWORD}".encode()))
    assert await client.next_frame() == b""  # PLAIN's empty server token, as a bare frame
    assert await produce_works(client)


async def test_handshake_v0_wrong_password_closes(client: WireClient) -> None:
    assert (await handshake(client, "PLAIN", version=0)).error_code == 0
    await client.stream.send_all(frame(b"\0alice\0nope"))
    with trio.fail_after(5):
        assert await client.closed_by_peer()


async def test_without_sasl_the_sasl_requests_are_illegal(nursery: trio.Nursery) -> None:
    server = Server(MemoryBackend(), Config(host=Address("127.0.0.1", 0)))
    await nursery.start(server.serve)
    client = await WireClient.connect(server.address)
    assert (await handshake(client, "PLAIN")).error_code == errors.IllegalSaslStateError.code
    assert (await authenticate(client, b"x")).error_code == errors.IllegalSaslStateError.code
    assert await produce_works(client)  # and nothing else is required
    server.shutdown()


def test_credentials_file_format() -> None:
    users = parse_users(USERS.splitlines())
    assert len(users) == 2
    assert users.check_password("alice", PASSWORD)
    assert not users.check_password("alice", PASSWORD + "x")
    assert not users.check_password("bob", "bob-secret")  # no password line for bob
    assert users.scram_for("bob", "SCRAM-SHA-256") is not None
    assert users.scram_for("alice", "SCRAM-SHA-512") is not None  # derived from the password


@pytest.mark.parametrize(("text", "message"), [
    ("alice", "line 1: expected NAME:plain:PASSWORD"),
    ("# comment\n\nalice:plain:", "line 3: user 'alice' has an empty password"),
    (":plain:x", "line 1: a user name is 1 to 255 characters"),
    ("alice:plain:a\nalice:plain:b", "line 2: user 'alice' has a second password line"),
    ("bob:SCRAM-SHA-256:4096:abc", "line 1: a SCRAM-SHA-256 line has ITERATIONS:SALT"),
    ("bob:SCRAM-SHA-256:10:c2FsdA==:AAAA:AAAA", "line 1: iterations must be a whole number"),
    ("bob:SCRAM-SHA-256:4096:c2FsdA==:AAAA:AAAA", "line 1: SCRAM-SHA-256 keys are 32 bytes"),
    ("bob:SCRAM-SHA-256:4096:not base64!:AAAA:AAAA", "line 1: the salt is not base64"),
])
def test_bad_credentials_files_name_the_line(text: str, message: str) -> None:
    with pytest.raises(CredentialsError, match=message.replace("(", r"\(")):
        parse_users(text.splitlines())


def test_unusable_security_files_stop_the_server_before_it_listens(tmp_path: Path) -> None:
    (tmp_path / "users").write_text("nobody here\n")
    with pytest.raises(ConfigError, match=r"MINIKAFKA_SASL_USERS_FILE=.*line 1"):
        Server(MemoryBackend(), Config(sasl_users_file=tmp_path / "users"))
    with pytest.raises(ConfigError, match=r"MINIKAFKA_SASL_USERS_FILE=.*cannot read"):
        Server(MemoryBackend(), Config(sasl_users_file=tmp_path / "missing"))
    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    with pytest.raises(ConfigError, match=r"MINIKAFKA_TLS_CERT=.*usable certificate"):
        Server(MemoryBackend(), Config(tls_cert=tmp_path / "cert.pem", tls_key=tmp_path / "key.pem"))
    with pytest.raises(ConfigError, match="MINIKAFKA_TLS_KEY"):
        Config.from_environ({"MINIKAFKA_TLS_CERT": str(tmp_path / "cert.pem")})


def test_scram_line_is_accepted_back() -> None:
    line = scram_line("carol", "pw", "SCRAM-SHA-512")
    assert "pw" not in line.split(":", 2)[2].split(":")[0]
    users = parse_users([line])
    credential = users.scram_for("carol", "SCRAM-SHA-512")
    assert credential is not None and credential.iterations == 4096


def test_the_credentials_command_prints_a_usable_scram_line() -> None:
    import subprocess
    import sys

    from minikafka.server.auth.credentials import scram_credential

    result = subprocess.run([sys.executable, "-m", "minikafka.server.auth", "dave", "scram-sha-256"],
                            input="dave's password\n", capture_output=True, text=True, timeout=30,
                            check=True)
    assert "dave's password" not in result.stdout
    credential = parse_users(result.stdout.splitlines()).scram_for("dave", "SCRAM-SHA-256")
    assert credential is not None
    again = scram_credential("dave's password", "SCRAM-SHA-256", salt=credential.salt)
    assert again.stored_key == credential.stored_key and again.server_key == credential.server_key
    assert result.stderr == ""
