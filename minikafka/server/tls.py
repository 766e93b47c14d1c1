"""TLS for the broker's listener: the server context, and a bounded handshake per connection.

With MINIKAFKA_TLS_CERT and MINIKAFKA_TLS_KEY set, every connection is
wrapped in a ``trio.SSLStream`` (TLS 1.2 or later; the certificate file may
hold the chain after the broker's certificate). The handshake must finish
within the idle timeout; one that fails (a plaintext Kafka client, a client
that does not trust the certificate) is logged in one line and the
connection closed before any request is read.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import trio

__all__ = ["TlsError", "handshake", "server_context"]

logger = logging.getLogger(__name__)


class TlsError(ValueError):
    """The certificate or key cannot be used (the message says which and why)."""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server-side context serving ``cert`` (PEM, with its chain) and ``key`` (PEM)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for path in (cert, key):
        if not path.is_file():
            raise TlsError(f"{path} is not a readable file")
    try:
        context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except ssl.SSLError as exc:
        raise TlsError(f"cannot use certificate {cert} with key {key}: {exc.reason or exc}") from None
    except OSError as exc:
        raise TlsError(f"cannot read {exc.filename}: {exc.strerror}") from None
    return context


async def handshake(stream: trio.SSLStream[trio.SocketStream], timeout_s: float, peer: str) -> bool:
    """Complete the TLS handshake within ``timeout_s``; False (and logged) when it fails."""
    with trio.move_on_after(timeout_s) as waited:
        try:
            await stream.do_handshake()
        except trio.BrokenResourceError as exc:
            reason = exc.__cause__ or exc
            logger.info("%s: TLS handshake failed, closing: %s", peer, _describe(reason))
            return False
        return True
    if waited.cancelled_caught:
        logger.info("%s: TLS handshake not finished after %gs, closing", peer, timeout_s)
    return False


def _describe(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError):
        return f"{error.reason or error} (is the client using TLS?)"
    return str(error) or type(error).__name__
