"""From one request frame to its response frame: decode, route, handle, encode.

``respond`` is the whole request path without the network, so tests can
drive it with bytes. ``start_response`` is its core for the connection
loop: it answers at once whenever the handler does (most requests), and
returns a ``Deferred`` to await only when the handler must wait (a long
poll, a disk flush), so the connection knows when it is not waiting for its
client, and for how long at most. What cannot be answered raises ``CloseConnection`` with the
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
    decode_peeked_request,
    encode_response,
    peek_request_header,
)
from minikafka.protocol.headers import RESPONSE_HEADERS
from minikafka.protocol.messages.api_versions import API_VERSIONS
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.protocol.primitives import compile_structure
from minikafka.protocol.registry import api_for_key

from .broker import Broker, CloseConnection, Deferred, RequestContext
from .config import Address
from .handlers import HANDLERS, served_apis
from .handlers.api_versions import unsupported_version_body
from .handlers.fetch import encode_single_fetch, read_single_fetch
from .handlers.produce import answer_single_produce, read_single_produce

__all__ = ["BY_REFERENCE", "Response", "respond", "start_response"]

# A response is its payload's bytes, or, for a Fetch carrying at least BY_REFERENCE
# bytes of records, the payload as a list of buffers: the encoded fields joined, the
# records as the storage returned them. The connection sends the list with one writev,
# so large record batches are never copied into the response.
Buffer = bytes | bytearray | memoryview
Response = bytes | list[Buffer]
BY_REFERENCE = 64 * 1024


def start_response(payload: bytes, broker: Broker, *, local_address: Address,
                   peer: str = "-") -> Response | Deferred | None:
    """The response payload for a request payload, None when none is to be sent, or,
    when the handler has to wait, a ``Deferred`` whose answer is one of those."""
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
        # A Produce to one partition, nearly every Produce, is read and answered
        # without the general decoder and encoder (see handlers.produce).
        single = (read_single_produce(payload, fixed.api_version, broker) if api is PRODUCE
                  else None)
        if single is None:
            # as is nearly every Fetch (see handlers.fetch)
            decoded = read_single_fetch(payload, fixed) if api is FETCH else None
            header, body = (decoded if decoded is not None
                            else decode_peeked_request(api, fixed, payload))
    except DecodeError as exc:
        raise CloseConnection(str(exc)) from None
    if single is not None:
        return answer_single_produce(single, broker, peer)
    result = handler(body, RequestContext(broker, header, local_address, peer))
    if result is None:
        return None
    if type(result) is dict:
        return _encode(api, header, result)
    if type(result) is Deferred:
        return Deferred(_encode_when_done(api, header, result.answer), result.max_wait_s)
    if inspect.isawaitable(result):
        return Deferred(_encode_when_done(api, header, result), None)
    return _encode(api, header, result)


async def _encode_when_done(api: Api, header: RequestHeader, pending: Awaitable[Any]
                            ) -> Response | None:
    result = await pending
    if result is None:
        return None
    return _encode(api, header, result)


def _encode(api: Api, header: RequestHeader, body: Any) -> Response:
    if api is FETCH:
        if _records_size(body) >= BY_REFERENCE:
            return _encode_gathered(api, header.api_version, header.correlation_id, body)
        single = encode_single_fetch(header.api_version, header.correlation_id, body)
        if single is not None:
            return single
    return encode_response(api, header.api_version, header.correlation_id, body)


def _records_size(fetched: dict[str, Any]) -> int:
    topics = fetched["responses"]
    if len(topics) == 1:  # nearly every fetch: no generator to run
        partitions = topics[0]["partitions"]
        if len(partitions) == 1:
            return len(partitions[0]["records"])
    return sum(len(partition["records"]) for topic in fetched["responses"]
               for partition in topic["partitions"])


class _Gathered:
    """A write-only stream for construct: small writes joined, large ones kept as given."""

    def __init__(self) -> None:
        self.parts: list[Buffer] = []
        self._run = bytearray()

    def write(self, data: Buffer) -> int:
        if len(data) < BY_REFERENCE:
            self._run += data
        else:
            if self._run:
                self.parts.append(bytes(self._run))
                self._run.clear()
            self.parts.append(data)
        return len(data)

    def finish(self) -> list[Buffer]:
        if self._run:
            self.parts.append(bytes(self._run))
        return self.parts


_RESPONSE_HEADERS: dict[int, Any] = {}


def _encode_gathered(api: Api, version: int, correlation_id: int, body: Any) -> list[Buffer]:
    """What ``encode_response`` encodes, as buffers (the same bytes once joined)."""
    header_version = api.response_header_version(version)
    header = _RESPONSE_HEADERS.get(header_version)
    if header is None:
        header = _RESPONSE_HEADERS[header_version] = compile_structure(
            RESPONSE_HEADERS[header_version])
    out = _Gathered()
    header.build_stream({"correlation_id": correlation_id}, out)
    api.response(version).build_stream(body, out)
    return out.finish()


async def respond(payload: bytes, broker: Broker, *, local_address: Address,
                  peer: str = "-") -> bytes | None:
    """The response payload for a request payload, or None when none is to be sent."""
    response = start_response(payload, broker, local_address=local_address, peer=peer)
    if isinstance(response, Deferred):
        response = await response.answer
    if isinstance(response, list):
        return b"".join(response)
    return response
