"""The errors the clients raise, beside the Kafka error codes.

A broker's error code arrives as the ``KafkaError`` subclass for that code
(``minikafka.protocol.errors``; re-exported here). The classes below are
the client's own: the broker cannot be reached, a connection ended, the
broker serves no usable version of an API, or the client was misused.
"""

from __future__ import annotations

from minikafka.protocol.errors import KafkaError, ProtocolError, RemoteProtocolError

__all__ = [
    "BrokerUnavailable",
    "ClientClosed",
    "ClientError",
    "ConnectionClosed",
    "KafkaError",
    "NotSubscribed",
    "ProtocolError",
    "RemoteProtocolError",
    "UnsupportedByBroker",
]


class ClientError(Exception):
    """Base of the errors below."""


class BrokerUnavailable(ClientError, ConnectionError):
    """The broker could not be reached, or stayed unreachable, for the whole retry timeout."""

    def __init__(self, address: str, timeout: float, cause: BaseException | None) -> None:
        self.address = address
        self.timeout = timeout
        self.cause = cause
        reason = f": {cause}" if cause is not None else ""
        super().__init__(
            f"broker at {address} unreachable for {timeout:g} s, giving up{reason}"
        )

    def __str__(self) -> str:
        # ConnectionError (an OSError) would otherwise format its args itself.
        return str(self.args[0])


class ConnectionClosed(ClientError, ConnectionError):
    """The broker closed the connection; transports reconnect and retry on it."""


class UnsupportedByBroker(ClientError):
    """The broker serves no version of an API that this client can use."""

    def __init__(self, api: str, broker: range, client: range) -> None:
        self.api = api
        theirs = f"{broker.start}-{broker.stop - 1}" if broker else "none"
        super().__init__(
            f"the broker serves {api} versions {theirs}; this client needs one of "
            f"{client.start}-{client.stop - 1}"
        )


class ClientClosed(ClientError):
    """The producer or consumer was used after ``close()``."""


class NotSubscribed(ClientError):
    """``poll()`` was called on a consumer with no topic; call ``subscribe()`` first."""

