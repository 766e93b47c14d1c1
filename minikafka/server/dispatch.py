"""From one request frame to its response frame: decode, route, handle, encode.

``respond`` is the whole request path without the network, so tests can
drive it with bytes. What cannot be answered raises ``CloseConnection``
with the reason, which the connection logs before closing:

- an API key MiniKafka does not declare, or one it declares but does not
  serve (Kafka closes the connection too: the protocol has no error
  response for a request it cannot parse);
- bytes that do not decode as the request they claim to be;
- a version outside what ApiVersions advertised, except for ApiVersions
  itself, which gets Kafka's version-0 UNSUPPORTED_VERSION reply listing
  what is served.
"""

from __future__ import annotations

import inspect

from minikafka.protocol.codec import (
    DecodeError,
    UnknownApi,
    UnsupportedVersion,
    decode_request,
    encode_response,
)
from minikafka.protocol.messages.api_versions import API_VERSIONS

from .broker import Broker, CloseConnection, RequestContext
from .config import Address
from .handlers import HANDLERS, served_apis
from .handlers.api_versions import unsupported_version_body

__all__ = ["respond"]


async def respond(payload: bytes, broker: Broker, *, local_address: Address,
                  peer: str = "-") -> bytes | None:
    """The response payload for a request payload, or None when none is to be sent."""
    try:
        header, body = decode_request(payload)
    except UnsupportedVersion as exc:
        if exc.header.api_key == API_VERSIONS.key:
            return encode_response(API_VERSIONS, 0, exc.header.correlation_id,
                                   unsupported_version_body(served_apis()))
        raise CloseConnection(str(exc)) from None
    except (UnknownApi, DecodeError) as exc:
        raise CloseConnection(str(exc)) from None
    route = HANDLERS.get(header.api_key)
    if route is None:
        raise CloseConnection(f"api key {header.api_key} is declared but not served")
    api, handler = route
    lowest = api.served.start if api.advertised_min is None else api.advertised_min
    if not lowest <= header.api_version < api.served.stop:
        raise CloseConnection(f"{api.name} v{header.api_version} is not served "
                              f"(versions {lowest}-{api.served.stop - 1} are)")
    ctx = RequestContext(broker, header, local_address, peer)
    result = handler(body, ctx)
    if inspect.isawaitable(result):
        result = await result
    if result is None:
        return None
    return encode_response(api, header.api_version, header.correlation_id, result)
