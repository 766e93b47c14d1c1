"""From one request frame to its response frame: decode, route, handle, encode.

``respond`` is the whole request path without the network, so tests can
drive it with bytes. ``start_response`` is its core for the connection
loop: it answers at once whenever the handler does (most requests), and
returns something to await only when the handler must wait (a long poll,
a disk flush), so the connection knows when it is not waiting for its
client. What cannot be answered raises ``CloseConnection`` with the
reason, which the connection logs before closing:

- an API key MiniKafka does not serve (Kafka closes the connection too:
  the protocol has no error response for a request it cannot parse);
- a version outside what ApiVersions advertised, except for ApiVersions
  itself, which gets Kafka's version-0 UNSUPPORTED_VERSION reply listing
  what is served (checked from the fixed header, before decoding);
- bytes that do not decode as the request they claim to be.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Any

from minikafka.protocol.api import Api
from minikafka.protocol.codec import (
    DecodeError,
    RequestHeader,
    decode_request,
    encode_response,
    peek_request_header,
)
from minikafka.protocol.messages.api_versions import API_VERSIONS
from minikafka.protocol.registry import api_for_key

from .broker import Broker, CloseConnection, RequestContext
from .config import Address
from .handlers import HANDLERS, served_apis
from .handlers.api_versions import unsupported_version_body

__all__ = ["respond", "start_response"]


def start_response(payload: bytes, broker: Broker, *, local_address: Address,
                   peer: str = "-") -> bytes | Awaitable[bytes | None] | None:
    """The response payload for a request payload, None when none is to be sent, or,
    when the handler has to wait, an awaitable giving one of those."""
    try:
        fixed = peek_request_header(payload)
        route = HANDLERS.get(fixed.api_key)
        if route is None:
            declared = api_for_key(fixed.api_key)
            raise CloseConnection(f"unknown api key {fixed.api_key}" if declared is None
                                  else f"{declared.name} (api key {fixed.api_key}) is not served")
        api, handler = route
        lowest = api.served.start if api.advertised_min is None else api.advertised_min
        if not lowest <= fixed.api_version < api.served.stop:
            if api is API_VERSIONS:
                return encode_response(API_VERSIONS, 0, fixed.correlation_id,
                                       unsupported_version_body(served_apis()))
            raise CloseConnection(f"{api.name} v{fixed.api_version} is not served "
                                  f"(versions {lowest}-{api.served.stop - 1} are)")
        header, body = decode_request(payload)
    except DecodeError as exc:
        raise CloseConnection(str(exc)) from None
    result = handler(body, RequestContext(broker, header, local_address, peer))
    if result is None:
        return None
    if type(result) is not dict and inspect.isawaitable(result):
        return _encode_when_done(api, header, result)
    return encode_response(api, header.api_version, header.correlation_id, result)


async def _encode_when_done(api: Api, header: RequestHeader, pending: Awaitable[Any]
                            ) -> bytes | None:
    result = await pending
    if result is None:
        return None
    return encode_response(api, header.api_version, header.correlation_id, result)


async def respond(payload: bytes, broker: Broker, *, local_address: Address,
                  peer: str = "-") -> bytes | None:
    """The response payload for a request payload, or None when none is to be sent."""
    response = start_response(payload, broker, local_address=local_address, peer=peer)
    if response is None or isinstance(response, bytes):
        return response
    return await response
