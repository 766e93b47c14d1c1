"""SASL authentication of a connection: what may be asked before it, and the exchange itself.

When MINIKAFKA_SASL_USERS_FILE is set, every connection gets a
``SaslSession``. Until it authenticates, the connection loop hands each
request frame to ``SaslSession.receive``, which

- lets ApiVersions through to the normal handlers (clients ask it first);
- answers SaslHandshake (the mechanism to use) and SaslAuthenticate (one
  token of the exchange) itself, since they carry per-connection state;
- refuses everything else by closing the connection, as Kafka does.

SaslHandshake v0 clients send the tokens that follow as bare size-prefixed
frames, without a Kafka header; the session answers them the same way.
A failed exchange is answered (SASL_AUTHENTICATION_FAILED with a generic
message, v1; nothing, v0) and the connection closed; the broker logs one
warning naming the peer, the user and the reason, never the password.

After authentication (or on a listener without SASL), SaslHandshake and
SaslAuthenticate reach ``handle_sasl_handshake`` and
``handle_sasl_authenticate`` in the handler table, which answer
ILLEGAL_SASL_STATE, as Kafka does.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs

from minikafka.protocol import errors
from minikafka.protocol.codec import DecodeError, decode_request, encode_response, peek_request_header
from minikafka.protocol.messages.api_versions import API_VERSIONS
from minikafka.protocol.messages.sasl_authenticate import SASL_AUTHENTICATE
from minikafka.protocol.messages.sasl_handshake import SASL_HANDSHAKE
from minikafka.protocol.registry import api_for_key

from ..broker import CloseConnection, RequestContext
from .credentials import Users
from .scram import AuthenticationFailed, Exchange, start_exchange

__all__ = [
    "MECHANISMS",
    "Authenticator",
    "SaslSession",
    "SaslStep",
    "handle_sasl_authenticate",
    "handle_sasl_handshake",
]

logger = logging.getLogger(__name__)

MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
FAILED_MESSAGE = "Authentication failed: invalid credentials"


@attrs.frozen
class SaslStep:
    """What the connection does with a frame received before authentication.

    ``dispatch``: handle the request normally (ApiVersions). Otherwise send
    ``response`` (a frame payload) if it is not None, then close the
    connection if ``close``.
    """

    response: bytes | None = None
    dispatch: bool = False
    close: bool = False


@attrs.frozen
class Authenticator:
    """The users and mechanisms of a SASL listener; makes one session per connection."""

    users: Users
    mechanisms: tuple[str, ...] = MECHANISMS

    def session(self, peer: str) -> SaslSession:
        return SaslSession(self, peer)


@attrs.define
class SaslSession:
    """One connection's progress through SASL: handshake, token exchange, authenticated."""

    authenticator: Authenticator
    peer: str
    authenticated_as: str | None = None
    _exchange: Exchange | None = None
    _raw_tokens: bool = False  # after SaslHandshake v0: tokens come as bare frames

    @property
    def authenticated(self) -> bool:
        return self.authenticated_as is not None

    def receive(self, payload: bytes) -> SaslStep:
        """The step for one frame payload (CloseConnection for requests not allowed yet)."""
        if self._raw_tokens:
            return self._raw_token(payload)
        try:
            fixed = peek_request_header(payload)
        except DecodeError as exc:
            raise CloseConnection(str(exc)) from None
        if fixed.api_key == API_VERSIONS.key:
            return SaslStep(dispatch=True)
        if fixed.api_key == SASL_HANDSHAKE.key:
            return self._handshake(payload)
        if fixed.api_key == SASL_AUTHENTICATE.key:
            return self._authenticate(payload)
        api = api_for_key(fixed.api_key)
        name = api.name if api is not None else f"api key {fixed.api_key}"
        raise CloseConnection(f"{name} request before SASL authentication")

    def _decode(self, payload: bytes, api: Any) -> tuple[int, int, Any]:
        fixed = peek_request_header(payload)
        if fixed.api_version not in api.served:
            raise CloseConnection(f"{api.name} v{fixed.api_version} is not served")
        try:
            header, body = decode_request(payload)
        except errors.RemoteProtocolError as exc:
            raise CloseConnection(str(exc)) from None
        return header.api_version, header.correlation_id, body

    def _handshake(self, payload: bytes) -> SaslStep:
        version, correlation_id, body = self._decode(payload, SASL_HANDSHAKE)
        mechanisms = list(self.authenticator.mechanisms)

        def answer(code: int) -> bytes:
            return encode_response(SASL_HANDSHAKE, version, correlation_id,
                                   {"error_code": code, "mechanisms": mechanisms})

        if self._exchange is not None:
            logger.warning("%s: a second SaslHandshake; closing", self.peer)
            return SaslStep(answer(errors.IllegalSaslStateError.code), close=True)
        if body.mechanism not in mechanisms:
            logger.warning("%s: SASL mechanism %r is not enabled (%s are); closing",
                           self.peer, body.mechanism, ", ".join(mechanisms))
            return SaslStep(answer(errors.UnsupportedSaslMechanismError.code), close=True)
        self._exchange = start_exchange(body.mechanism, self.authenticator.users)
        self._raw_tokens = version == 0
        return SaslStep(answer(0))

    def _authenticate(self, payload: bytes) -> SaslStep:
        version, correlation_id, body = self._decode(payload, SASL_AUTHENTICATE)

        def answer(code: int, message: str | None, token: bytes = b"") -> bytes:
            return encode_response(SASL_AUTHENTICATE, version, correlation_id, {
                "error_code": code, "error_message": message, "auth_bytes": token,
                "session_lifetime_ms": 0,
            })

        if self._exchange is None:
            logger.warning("%s: SaslAuthenticate before SaslHandshake; closing", self.peer)
            return SaslStep(answer(errors.IllegalSaslStateError.code,
                                   "SaslAuthenticate before SaslHandshake"), close=True)
        try:
            token, done = self._exchange.step(bytes(body.auth_bytes))
        except AuthenticationFailed as failure:
            self._log_failure(failure)
            return SaslStep(answer(errors.SaslAuthenticationFailedError.code, FAILED_MESSAGE),
                            close=True)
        if done:
            self._succeed()
        return SaslStep(answer(0, None, token))

    def _raw_token(self, payload: bytes) -> SaslStep:
        assert self._exchange is not None
        try:
            token, done = self._exchange.step(payload)
        except AuthenticationFailed as failure:
            self._log_failure(failure)
            return SaslStep(close=True)  # v0 has no way to say why: Kafka closes too
        if done:
            self._raw_tokens = False
            self._succeed()
        return SaslStep(token)

    def _succeed(self) -> None:
        assert self._exchange is not None
        self.authenticated_as = self._exchange.user
        logger.info("%s: authenticated as %r with %s", self.peer, self.authenticated_as,
                    self._exchange.mechanism)

    def _log_failure(self, failure: AuthenticationFailed) -> None:
        assert self._exchange is not None
        who = "an unnamed user" if failure.user is None else f"user {failure.user!r}"
        logger.warning("%s: SASL %s authentication failed for %s: %s; closing",
                       self.peer, self._exchange.mechanism, who, failure.reason)


def handle_sasl_handshake(request: Any, ctx: RequestContext) -> dict[str, Any]:
    """SaslHandshake on an authenticated connection, or on a listener without SASL."""
    return {"error_code": errors.IllegalSaslStateError.code, "mechanisms": []}


def handle_sasl_authenticate(request: Any, ctx: RequestContext) -> dict[str, Any]:
    """SaslAuthenticate on an authenticated connection, or on a listener without SASL."""
    return {"error_code": errors.IllegalSaslStateError.code,
            "error_message": "SASL authentication is not expected on this connection",
            "auth_bytes": b"", "session_lifetime_ms": 0}
