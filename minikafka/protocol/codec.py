"""Encoding and decoding whole request and response payloads (header + body).

These functions are the one place where a frame's bytes meet the declared
structures: the broker, both clients and the frame dumper all call them. They
work on frame payloads (the bytes after the 4-byte size prefix); see
``framing`` for the prefix.

Decoding raises ``RemoteProtocolError`` subclasses that say what was wrong,
so a server can answer with the right error code or close the connection.

Headers and bodies go through their compiled structures (``Api.request``,
``Api.response``, ``primitives.compile_structure``) in both directions.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import attrs
import construct as c

from .api import Api
from .errors import LocalProtocolError, RemoteProtocolError
from .headers import REQUEST_HEADERS, RESPONSE_HEADERS
from .primitives import ViewReader, compile_structure
from .registry import api_for_key

__all__ = [
    "DecodeError",
    "RequestHeader",
    "UnknownApi",
    "UnsupportedVersion",
    "decode_peeked_request",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "peek_request_header",
]

_FIXED_HEADER = struct.Struct(">hhi")
_COMPILED_REQUEST_HEADERS = {v: compile_structure(s) for v, s in REQUEST_HEADERS.items()}
_COMPILED_RESPONSE_HEADERS = {v: compile_structure(s) for v, s in RESPONSE_HEADERS.items()}

# The context construct's parse_stream/build_stream would make afresh for every
# call; compiled code never writes to it, so one of each serves every call.
_PARSING = c.Container(_parsing=True, _building=False, _sizing=False)
_PARSING["_params"] = _PARSING
_BUILDING = c.Container(_parsing=False, _building=True, _sizing=False)
_BUILDING["_params"] = _BUILDING


@attrs.frozen
class RequestHeader:
    """The header of a request: what it asks for and how to pair its response."""

    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None = None


class DecodeError(RemoteProtocolError):
    """Bytes that do not decode as the structure they claim to be.

    ``header`` is the request's header when the failure came after it was
    read (None for responses and for frames too short to hold one), so a
    server can still say which request it rejects.
    """

    def __init__(self, what: str, offset: int, reason: str,
                 header: RequestHeader | None = None) -> None:
        self.what = what
        self.offset = offset
        self.reason = reason
        self.header = header
        super().__init__(f"{what}: {reason} (at byte {offset})")


class UnknownApi(RemoteProtocolError):
    """A request with an API key MiniKafka does not declare."""

    def __init__(self, header: RequestHeader) -> None:
        self.header = header
        super().__init__(f"unknown api key {header.api_key}")


class UnsupportedVersion(RemoteProtocolError):
    """A request for a declared API in a version MiniKafka does not declare."""

    def __init__(self, header: RequestHeader, api: Api) -> None:
        self.header = header
        self.api = api
        super().__init__(
            f"{api.name} version {header.api_version} is not supported "
            f"(declared {api.versions.start}-{api.versions.stop - 1})"
        )


def peek_request_header(payload: bytes | memoryview) -> RequestHeader:
    """The api key, version and correlation id: the part of a header every version shares."""
    if len(payload) < _FIXED_HEADER.size:
        raise DecodeError("request header", len(payload), "frame shorter than a request header")
    api_key, api_version, correlation_id = _FIXED_HEADER.unpack_from(payload, 0)
    return RequestHeader(api_key, api_version, correlation_id)


def _what(api: Api, version: int, part: str) -> str:
    return f"{api.name} v{version} {part}"


def _parse(structure: Any, reader: ViewReader, api: Api, version: int, part: str,
           header: RequestHeader | None = None) -> Any:
    try:
        if isinstance(structure, c.Compiled):
            return structure.parsefunc(reader, _PARSING)
        return structure.parse_stream(reader)
    except c.ConstructError as exc:
        raise DecodeError(_what(api, version, part), reader.tell(), _reason(exc),
                          header) from None
    except (ValueError, OverflowError, UnicodeDecodeError, struct.error) as exc:
        # construct's own compiled code (for a structure primitives cannot
        # compile whole) unpacks fixed-width fields with struct directly, so a
        # frame that ends inside one raises struct.error, not StreamError
        raise DecodeError(_what(api, version, part), reader.tell(), str(exc), header) from None


def _reason(exc: c.ConstructError) -> str:
    text = str(exc)
    # construct prefixes messages with "Error in path (parsing) -> field\n"
    return text.splitlines()[-1].strip() if text else type(exc).__name__


def decode_request(payload: bytes | memoryview) -> tuple[RequestHeader, Any]:
    """Split a request payload into its header and its decoded body.

    Raises ``UnknownApi``, ``UnsupportedVersion`` or ``DecodeError``; each
    carries the header (``DecodeError`` once the frame is long enough to hold
    one), so the caller can still answer.
    """
    fixed = peek_request_header(payload)
    api = api_for_key(fixed.api_key)
    if api is None:
        raise UnknownApi(fixed)
    return decode_peeked_request(api, fixed, payload)


def decode_peeked_request(api: Api, fixed: RequestHeader, payload: bytes | memoryview
                          ) -> tuple[RequestHeader, Any]:
    """``decode_request`` for a caller that has peeked the header and found its ``api``.

    A server routes on the peeked header first; this reads the rest of the
    header and the body in one pass, without looking the API up again.
    """
    version = fixed.api_version
    if version not in api.requests:
        raise UnsupportedVersion(fixed, api)
    reader = ViewReader(payload)
    raw_header = _parse(_COMPILED_REQUEST_HEADERS[api.request_header_version(version)], reader,
                        api, version, "request header", fixed)
    header = RequestHeader(fixed.api_key, version, fixed.correlation_id, raw_header["client_id"])
    body = _parse(api.request(version), reader, api, version, "request", header)
    if reader.remaining():
        raise DecodeError(_what(api, version, "request"), reader.tell(),
                          f"{reader.remaining()} unexpected trailing bytes", header)
    return header, body


def decode_response(api: Api, version: int, payload: bytes | memoryview) -> tuple[int, Any]:
    """Decode a response to ``api`` at ``version``: (correlation id, body)."""
    if version not in api.responses:
        raise DecodeError(_what(api, version, "response"), 0, "version not declared")
    reader = ViewReader(payload)
    header = _parse(_COMPILED_RESPONSE_HEADERS[api.response_header_version(version)], reader,
                    api, version, "response header")
    body = _parse(api.response(version), reader, api, version, "response")
    if reader.remaining():
        raise DecodeError(_what(api, version, "response"), reader.tell(),
                          f"{reader.remaining()} unexpected trailing bytes")
    return header.correlation_id, body


def _build(structure: Any, value: Any, out: io.BytesIO, api: Api, version: int,
           part: str) -> None:
    try:
        if isinstance(structure, c.Compiled):
            structure.buildfunc(value, out, _BUILDING)
        else:
            structure.build_stream(value, out)
    except (c.ConstructError, KeyError, TypeError, ValueError, AttributeError,
            OverflowError, UnicodeEncodeError, struct.error) as exc:
        raise LocalProtocolError(f"cannot encode {_what(api, version, part)}: {exc}") from None


def encode_request(api: Api, version: int, correlation_id: int, body: Any,
                   client_id: str | None = "minikafka") -> bytes:
    """A request payload (without the size prefix) for ``api`` at ``version``."""
    if version not in api.requests:
        raise LocalProtocolError(f"{api.name} version {version} is not declared")
    out = io.BytesIO()
    header = {"request_api_key": api.key, "request_api_version": version,
              "correlation_id": correlation_id, "client_id": client_id}
    _build(_COMPILED_REQUEST_HEADERS[api.request_header_version(version)], header, out,
           api, version, "request header")
    _build(api.request(version), body, out, api, version, "request")
    return out.getvalue()


def encode_response(api: Api, version: int, correlation_id: int, body: Any) -> bytes:
    """A response payload (without the size prefix) for ``api`` at ``version``."""
    if version not in api.responses:
        raise LocalProtocolError(f"{api.name} version {version} is not declared")
    out = io.BytesIO()
    _build(_COMPILED_RESPONSE_HEADERS[api.response_header_version(version)],
           {"correlation_id": correlation_id}, out, api, version, "response header")
    _build(api.response(version), body, out, api, version, "response")
    return out.getvalue()
