"""The server side of SASL PLAIN (RFC 4616) and SCRAM-SHA-256/512 (RFC 5802, RFC 7677).

Each mechanism is a small sans-I/O exchange: ``step(client token)`` returns
the server's token and whether authentication is complete, or raises
``AuthenticationFailed``. Its ``reason`` is for the broker's log and never
holds a password or a proof; clients get one generic message for every
failure, so they cannot tell a wrong password from an unknown user.

SCRAM without channel binding (gs2 flag "n" or "y"), as Kafka does. For an
unknown user the exchange goes on with a salt derived from the name, and
fails only at the proof, like a wrong password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets

import attrs

from .credentials import DEFAULT_ITERATIONS, SCRAM_MECHANISMS, Users

__all__ = ["AuthenticationFailed", "Exchange", "PlainExchange", "ScramExchange", "start_exchange"]

_FAKE_SALT_KEY = os.urandom(32)  # per process: unknown users get a stable, meaningless salt


class AuthenticationFailed(Exception):
    """The client's token does not authenticate it; ``reason`` (for the log only) says why."""

    def __init__(self, user: str | None, reason: str) -> None:
        self.user = user
        self.reason = reason
        super().__init__(reason)


class Exchange:
    """One SASL exchange on one connection."""

    mechanism: str
    user: str | None = None

    def step(self, token: bytes) -> tuple[bytes, bool]:
        """The server's token for the client's, and True once the client is authenticated."""
        raise NotImplementedError


@attrs.define
class PlainExchange(Exchange):
    """PLAIN: one token, ``authzid NUL authcid NUL password``; authzid empty or the user."""

    users: Users
    mechanism: str = "PLAIN"
    user: str | None = None

    def step(self, token: bytes) -> tuple[bytes, bool]:
        parts = token.split(b"\0")
        if len(parts) != 3:
            raise AuthenticationFailed(None, "the PLAIN token is not authzid NUL user NUL password")
        try:
            authzid, name, password = (part.decode() for part in parts)
        except UnicodeDecodeError:
            raise AuthenticationFailed(None, "the PLAIN token is not UTF-8") from None
        self.user = name
        if authzid and authzid != name:
            raise AuthenticationFailed(name, f"it asked to act as {authzid!r}, which is not allowed")
        if not self.users.check_password(name, password):
            known = name in self.users.passwords
            raise AuthenticationFailed(name, "wrong password" if known else "unknown user "
                                       "(or one with SCRAM credentials only)")
        return b"", True


def _attributes(message: str, what: str) -> list[tuple[str, str]]:
    pairs = []
    for part in message.split(","):
        key, equals, value = part.partition("=")
        if len(key) != 1 or not equals:
            raise AuthenticationFailed(None, f"the {what} is not a SCRAM message")
        pairs.append((key, value))
    return pairs


def _unescape_name(name: str) -> str:
    if "=" in name.replace("=2C", "").replace("=3D", ""):
        raise AuthenticationFailed(None, "the user name has a bad '=' escape")
    return name.replace("=2C", ",").replace("=3D", "=")


@attrs.define
class ScramExchange(Exchange):
    """SCRAM: client-first, server-first, client-final (with proof), server-final."""

    users: Users
    mechanism: str
    user: str | None = None
    _digest: str = attrs.field(init=False)
    _state: str = attrs.field(init=False, default="first")
    _nonce: str = attrs.field(init=False, default="")
    _gs2_header: str = attrs.field(init=False, default="")
    _auth_prefix: str = attrs.field(init=False, default="")
    _known: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        self._digest = SCRAM_MECHANISMS[self.mechanism]

    def step(self, token: bytes) -> tuple[bytes, bool]:
        try:
            message = token.decode()
        except UnicodeDecodeError:
            raise AuthenticationFailed(self.user, "the SCRAM message is not UTF-8") from None
        if self._state == "first":
            return self._client_first(message), False
        if self._state == "final":
            return self._client_final(message), True
        raise AuthenticationFailed(self.user, "a SCRAM token after the exchange ended")

    def _client_first(self, message: str) -> bytes:
        flag, _, rest = message.partition(",")
        authzid, _, bare = rest.partition(",")
        if flag not in ("n", "y"):
            raise AuthenticationFailed(None, "channel binding was requested; MiniKafka has none")
        attributes = _attributes(bare, "client-first message")
        if len(attributes) < 2 or attributes[0][0] != "n" or attributes[1][0] != "r":
            raise AuthenticationFailed(None, "the client-first message lacks n= and r=")
        name = _unescape_name(attributes[0][1])
        client_nonce = attributes[1][1]
        self.user = name
        if authzid and authzid != f"a={attributes[0][1]}":
            raise AuthenticationFailed(name, "it asked to act as another user, which is not allowed")
        if any(key == "m" for key, _ in attributes[2:]):
            raise AuthenticationFailed(name, "a mandatory SCRAM extension MiniKafka does not know")
        if not client_nonce or not all(33 <= ord(char) <= 126 for char in client_nonce):
            raise AuthenticationFailed(name, "the client nonce is empty or not printable")
        credential = self.users.scram_for(name, self.mechanism)
        self._known = credential is not None
        if credential is None:
            salt = hmac.digest(_FAKE_SALT_KEY, name.encode(), "sha256")[:24]
            iterations = DEFAULT_ITERATIONS
        else:
            salt, iterations = credential.salt, credential.iterations
        self._nonce = client_nonce + secrets.token_urlsafe(24)
        server_first = f"r={self._nonce},s={base64.b64encode(salt).decode()},i={iterations}"
        self._gs2_header = f"{flag},{authzid},"
        self._auth_prefix = f"{bare},{server_first}"
        self._state = "final"
        return server_first.encode()

    def _client_final(self, message: str) -> bytes:
        self._state = "done"
        without_proof, _, proof_part = message.rpartition(",")
        attributes = _attributes(without_proof, "client-final message")
        if (not proof_part.startswith("p=") or len(attributes) < 2
                or attributes[0][0] != "c" or attributes[1][0] != "r"):
            raise AuthenticationFailed(self.user, "the client-final message lacks c=, r= or p=")
        expected_binding = base64.b64encode(self._gs2_header.encode()).decode()
        if attributes[0][1] != expected_binding:
            raise AuthenticationFailed(self.user, "the channel binding does not match the gs2 header")
        # librdkafka before 2.6.1 (Debian's kcat among them) sends its own nonce a second
        # time in front of the full one; Kafka 3.8.1 to 3.9 accept that ("ends with"), and
        # so does MiniKafka. The server's random part must still be there, so a replayed
        # exchange still fails.
        if not attributes[1][1].endswith(self._nonce):
            raise AuthenticationFailed(self.user, "the nonce does not match")
        try:
            proof = base64.b64decode(proof_part[2:], validate=True)
        except (binascii.Error, ValueError):
            raise AuthenticationFailed(self.user, "the proof is not base64") from None
        credential = self.users.scram_for(self.user or "", self.mechanism)
        if credential is None or not self._known:
            raise AuthenticationFailed(self.user, f"unknown user (no {self.mechanism} credential)")
        auth_message = f"{self._auth_prefix},{without_proof}".encode()
        signature = hmac.digest(credential.stored_key, auth_message, self._digest)
        if len(proof) != len(signature):
            raise AuthenticationFailed(self.user, "the proof has the wrong length")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.new(self._digest, client_key).digest(),
                                   credential.stored_key):
            raise AuthenticationFailed(self.user, "wrong password")
        server_signature = hmac.digest(credential.server_key, auth_message, self._digest)
        return b"v=" + base64.b64encode(server_signature)


def start_exchange(mechanism: str, users: Users) -> Exchange:
    """A new exchange for ``mechanism`` (one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)."""
    if mechanism == "PLAIN":
        return PlainExchange(users)
    return ScramExchange(users, mechanism)
