"""Kafka byte streams made readable: frames split, decoded as far as they go, and paired.

This is the sans-I/O core of ``minikafka dump`` and of the proxy. A
``Conversation`` takes the bytes of one connection, client to broker and
broker to client, in whatever chunks they arrive, and returns a
``DecodedFrame`` for every frame that completes: its place in the stream,
API, version, correlation id, client id and body as a JSON tree (see
``minikafka.debug.tree``). Responses carry no API key, so they are decoded
as the request with the same correlation id asked, or as a fixed
``(api, version)`` when the requests were not captured.

A frame that does not decode keeps what did decode, plus a ``FrameError``
with the byte offset and the reason. The stream then continues with the
next frame, which the size prefix locates; only a size that cannot be a
frame (negative, or above the limit) ends the stream, since nothing after
it can be trusted to start a frame.
"""

from __future__ import annotations

import struct
from typing import Any, Literal

import attrs
import construct as c

from ..protocol.api import Api
from ..protocol.framing import DEFAULT_MAX_FRAME_SIZE
from ..protocol.headers import REQUEST_HEADERS, RESPONSE_HEADERS
from ..protocol.primitives import ViewReader
from ..protocol.registry import api_for_key
from .tree import parse_partial, render, to_json
from .values import bytes_to_json, render_leaf

__all__ = [
    "Conversation",
    "DecodedFrame",
    "FrameError",
    "FrameSplitter",
    "Pairing",
    "RawFrame",
    "decode_request_frame",
    "decode_response_frame",
]

Kind = Literal["request", "response"]
_SIZE = struct.Struct(">i")
_FIXED_REQUEST = struct.Struct(">hhi")
_PRODUCE_KEY = 0
_API_VERSIONS_KEY = 18
_UNSUPPORTED_VERSION = 35


# A FrameError offset for a size prefix that cannot start a frame.
_IN_PREFIX = -4


@attrs.define
class FrameError:
    """Where a frame stopped making sense: ``offset`` is counted from the start of its payload.

    An offset of -4 points at the size prefix itself: the stream could not be
    split any further.
    """

    offset: int
    reason: str
    field: str = ""

    def to_json(self, frame_offset: int) -> dict[str, Any]:
        out: dict[str, Any] = {"offset": self.offset, "stream_offset": frame_offset + 4 + self.offset}
        if self.field:
            out["field"] = self.field
        out["reason"] = self.reason
        return out


@attrs.define
class RawFrame:
    """One frame cut from a stream: its payload, or the reason the stream cannot go on.

    ``offset`` is where its size prefix starts in the stream. A truncated
    frame has fewer payload bytes than ``size``; a frame with ``fatal`` set
    is the last of its stream, and its payload is the unsplittable rest.
    """

    index: int
    offset: int
    size: int
    payload: bytes
    fatal: str | None = None

    @property
    def truncated(self) -> bool:
        return self.fatal is None and len(self.payload) < self.size


class FrameSplitter:
    """Cuts one direction of a connection into frames, remembering stream offsets."""

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self.max_frame_size = max_frame_size
        self._buffer = bytearray()
        self._offset = 0  # stream offset of _buffer[0]
        self._count = 0
        self._broken = False

    @property
    def broken(self) -> bool:
        """True once a size prefix was invalid: later bytes are not split any more."""
        return self._broken

    def feed(self, data: bytes | bytearray | memoryview) -> list[RawFrame]:
        """Add bytes; return every frame they complete."""
        if self._broken:
            self._offset += len(data)
            return []
        self._buffer += data
        frames: list[RawFrame] = []
        while len(self._buffer) >= 4:
            (size,) = _SIZE.unpack_from(self._buffer, 0)
            if size < 0 or size > self.max_frame_size:
                frames.append(self._fatal(
                    f"invalid frame size {size} (0x{size & 0xFFFFFFFF:08x}): "
                    f"{len(self._buffer)} bytes from here on cannot be split into frames"))
                break
            if len(self._buffer) < 4 + size:
                break
            frames.append(self._take(size, 4 + size))
        return frames

    def finish(self) -> list[RawFrame]:
        """The end of the stream: a partly received frame comes back truncated."""
        if self._broken or not self._buffer:
            return []
        if len(self._buffer) < 4:
            return [self._fatal(f"the stream ends inside a size prefix ({len(self._buffer)} "
                                "of 4 bytes)")]
        (size,) = _SIZE.unpack_from(self._buffer, 0)
        return [self._take(size, len(self._buffer))]

    def _take(self, size: int, end: int) -> RawFrame:
        self._count += 1
        frame = RawFrame(self._count, self._offset, size, bytes(self._buffer[4:end]))
        del self._buffer[:end]
        self._offset += end
        return frame

    def _fatal(self, reason: str) -> RawFrame:
        # The payload of a fatal frame is every byte left unsplit, so that a
        # relay can still pass them on.
        self._count += 1
        (size,) = _SIZE.unpack_from(self._buffer.ljust(4, b"\0"), 0)
        frame = RawFrame(self._count, self._offset, size, bytes(self._buffer), fatal=reason)
        self._offset += len(self._buffer)
        self._buffer.clear()
        self._broken = True
        return frame


@attrs.define
class DecodedFrame:
    """One frame as far as it decoded; ``error`` is None when all of it did."""

    kind: Kind
    index: int
    offset: int
    size: int
    api: Api | None = None
    api_version: int | None = None
    correlation_id: int | None = None
    client_id: str | None = None
    header_tagged_fields: dict[str, Any] = attrs.field(factory=dict)
    body: dict[str, Any] | None = None
    error: FrameError | None = None
    request_index: int | None = None  # a response's request, when the requests were seen
    note: str | None = None
    label: str | None = None  # which connection, when there are several

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, Any]:
        """The frame as one JSON object; ``minikafka frame --json`` reads it back."""
        out: dict[str, Any] = {}
        if self.label is not None:
            out["connection"] = self.label
        out.update({"frame": self.index, "offset": self.offset})
        if self.error is None or self.error.offset >= 0:  # else the size is not one
            out["size"] = self.size
        out["type"] = self.kind
        if self.api is not None:
            out["api"] = self.api.name
            out["api_key"] = self.api.key
        if self.api_version is not None:
            out["api_version"] = self.api_version
        if self.correlation_id is not None:
            out["correlation_id"] = self.correlation_id
        if self.kind == "request" and self.body is not None:
            out["client_id"] = self.client_id
        if self.header_tagged_fields:
            out["header_tagged_fields"] = self.header_tagged_fields
        if self.request_index is not None:
            out["request_frame"] = self.request_index
        if self.note:
            out["note"] = self.note
        if self.body is not None:
            out["body"] = self.body
        if self.error is not None:
            out["error"] = self.error.to_json(self.offset)
        return out

    def title(self) -> str:
        """The frame's first line: what it is and where it was."""
        parts = [f"#{self.index}", self.kind]
        if self.api is not None:
            parts.append(f"{self.api.name} v{self.api_version}")
        elif self.api_version is not None:
            parts.append(f"api ? v{self.api_version}")
        if self.correlation_id is not None:
            parts.append(f"correlation_id={self.correlation_id}")
        if self.kind == "request" and self.body is not None:
            parts.append(f"client_id={render_leaf(self.client_id)}")
        if self.request_index is not None:
            parts.append(f"(answers #{self.request_index})")
        if self.error is not None and self.error.offset < 0:
            parts.append(f"[unusable size prefix at byte {self.offset}]")
        else:
            parts.append(f"[{self.size} bytes at byte {self.offset}]")
        prefix = f"[{self.label}] " if self.label is not None else ""
        return prefix + " ".join(parts)

    def render(self) -> str:
        """The frame as indented text: title, note, body tree, error."""
        lines = [self.title()]
        if self.note:
            lines.append(f"  note: {self.note}")
        if self.header_tagged_fields:
            tags = ", ".join(f"{tag}: {render_leaf(value)}"
                             for tag, value in self.header_tagged_fields.items())
            lines.append(f"  header tagged_fields: {{{tags}}}")
        if self.body is not None and self.api is not None and self.api_version is not None:
            lines.extend(render(self._structure(), self.body))
        if self.error is not None and self.error.offset < 0:
            lines.append(f"  !! stopped at byte {self.offset} of the stream: {self.error.reason}")
        elif self.error is not None:
            where = f" in {self.error.field}" if self.error.field else ""
            lines.append(f"  !! stopped at byte {self.error.offset} of the frame (byte "
                         f"{self.offset + 4 + self.error.offset} of the stream){where}: "
                         f"{self.error.reason}")
        return "\n".join(lines)

    def _structure(self) -> Any:
        assert self.api is not None and self.api_version is not None
        table = self.api.requests if self.kind == "request" else self.api.responses
        return table[self.api_version]


# --- decoding ----------------------------------------------------------------

_DECODE_ERRORS = (c.ConstructError, ValueError, OverflowError, struct.error, UnicodeDecodeError)


def _decode_body(frame: DecodedFrame, structure: Any, reader: ViewReader) -> None:
    # The declared structure, not its compiled form: construct's compiled Flag
    # reads a missing byte as True instead of failing, which would hide a
    # frame cut short inside trailing booleans.
    start = reader.tell()
    try:
        value = structure.parse_stream(reader)
    except _DECODE_ERRORS:
        reader.seek(start)
        partial = parse_partial(structure, reader)
        frame.body = to_json(structure, partial.value)
        frame.error = FrameError(partial.offset, partial.reason or "does not decode",
                                 partial.path)
        return
    frame.body = to_json(structure, value)
    if reader.remaining():
        frame.error = FrameError(reader.tell(), f"{reader.remaining()} bytes left over after "
                                 "the body: the frame is longer than its structure")


def _decode_header(frame: DecodedFrame, structure: Any, reader: ViewReader) -> Any:
    """The header as a Container, or None after setting ``frame.error``."""
    try:
        return structure.parse_stream(reader)
    except _DECODE_ERRORS:
        reader.seek(0)
        partial = parse_partial(structure, reader)
        frame.error = FrameError(partial.offset, partial.reason or "does not decode",
                                 "header." + partial.path if partial.path else "header")
        return None


def _declared(api: Api) -> str:
    versions = sorted(api.requests)
    return f"{versions[0]}-{versions[-1]}" if len(versions) > 1 else str(versions[0])


def decode_request_frame(raw: RawFrame, label: str | None = None) -> DecodedFrame:
    """Decode a request frame as far as it goes."""
    frame = DecodedFrame("request", raw.index, raw.offset, raw.size, label=label)
    if raw.fatal:
        frame.error = FrameError(_IN_PREFIX, raw.fatal)
        return frame
    payload = raw.payload
    if len(payload) < _FIXED_REQUEST.size:
        frame.error = FrameError(0, f"{len(payload)} bytes is shorter than a request header "
                                 f"(api key, version, correlation id: {_FIXED_REQUEST.size})")
        return _note_truncation(frame, raw)
    api_key, version, correlation_id = _FIXED_REQUEST.unpack_from(payload)
    frame.api_version = version
    frame.correlation_id = correlation_id
    api = api_for_key(api_key)
    if api is None:
        frame.error = FrameError(0, f"unknown api key {api_key}", "header.request_api_key")
        return _note_truncation(frame, raw)
    frame.api = api
    if version not in api.requests:
        frame.api_version = version
        frame.error = FrameError(2, f"{api.name} v{version} is not declared (MiniKafka "
                                 f"declares {_declared(api)})", "header.request_api_version")
        return _note_truncation(frame, raw)
    reader = ViewReader(payload)
    header = _decode_header(frame, REQUEST_HEADERS[api.request_header_version(version)], reader)
    if header is not None:
        frame.client_id = header.get("client_id")
        frame.header_tagged_fields = _tags_json(header)
        _decode_body(frame, api.requests[version], reader)
    return _note_truncation(frame, raw)


def _tags_json(header: Any) -> dict[str, Any]:
    return {str(tag): bytes_to_json(data) for tag, data in (header.get("tagged_fields") or {}).items()}


class Pairing:
    """What each response answers: requests remembered by correlation id.

    ``fixed`` (from ``--api NAME:VERSION``) decodes every response as that
    API and version when no request matches.
    """

    def __init__(self, fixed: tuple[Api, int] | None = None) -> None:
        self.fixed = fixed
        self._pending: dict[int, tuple[Api, int, int]] = {}

    def expect(self, frame: DecodedFrame) -> None:
        """Remember a decoded request, so that its response can be decoded.

        Produce requests with acks=0 get no response, so none is expected.
        """
        if frame.api is None or frame.api_version is None or frame.correlation_id is None:
            return
        if frame.api.key == _PRODUCE_KEY and (frame.body or {}).get("acks") == 0:
            return
        self._pending[frame.correlation_id] = (frame.api, frame.api_version, frame.index)

    def answer(self, correlation_id: int) -> tuple[Api, int, int | None] | None:
        """The (api, version, request index) a response answers, forgetting the request."""
        pending = self._pending.pop(correlation_id, None)
        if pending is not None:
            return pending
        if self.fixed is not None:
            return self.fixed[0], self.fixed[1], None
        return None

    @property
    def unanswered(self) -> list[int]:
        """Correlation ids of requests still waiting for a response."""
        return list(self._pending)


def decode_response_frame(raw: RawFrame, pairing: Pairing,
                          label: str | None = None) -> DecodedFrame:
    """Decode a response frame, as the request ``pairing`` knows it answers."""
    frame = DecodedFrame("response", raw.index, raw.offset, raw.size, label=label)
    if raw.fatal:
        frame.error = FrameError(_IN_PREFIX, raw.fatal)
        return frame
    payload = raw.payload
    if len(payload) < 4:
        frame.error = FrameError(0, f"{len(payload)} bytes is shorter than a response "
                                 "header (correlation id: 4)")
        return _note_truncation(frame, raw)
    (frame.correlation_id,) = _SIZE.unpack_from(payload)
    answered = pairing.answer(frame.correlation_id)
    if answered is None:
        frame.error = FrameError(0, f"no request with correlation id {frame.correlation_id} "
                                 "was seen, so the response's API is unknown (pass "
                                 "--requests FILE or --api NAME:VERSION)",
                                 "header.correlation_id")
        return _note_truncation(frame, raw)
    api, version, frame.request_index = answered
    frame.api = api
    frame.api_version = version
    if version not in api.responses or not _decodes(api, version, payload):
        fallback = _api_versions_fallback(api, version, payload)
        if fallback is not None:
            frame.api_version = fallback
            frame.note = (f"decoded as v{fallback}: a broker answers an ApiVersions version "
                          "it does not support with v0 and UNSUPPORTED_VERSION")
            version = fallback
        elif version not in api.responses:
            frame.error = FrameError(0, f"{api.name} v{version} is not declared (MiniKafka "
                                     f"declares {_declared(api)})")
            return _note_truncation(frame, raw)
    reader = ViewReader(payload)
    header = _decode_header(frame, RESPONSE_HEADERS[api.response_header_version(version)],
                            reader)
    if header is not None:
        frame.header_tagged_fields = _tags_json(header)
        _decode_body(frame, api.responses[version], reader)
    return _note_truncation(frame, raw)


def _decodes(api: Api, version: int, payload: bytes) -> bool:
    reader = ViewReader(payload)
    try:
        RESPONSE_HEADERS[api.response_header_version(version)].parse_stream(reader)
        api.responses[version].parse_stream(reader)
    except _DECODE_ERRORS:
        return False
    return reader.remaining() == 0


def _api_versions_fallback(api: Api, version: int, payload: bytes) -> int | None:
    # ApiVersions responses always use header v0, so the error code is at byte 4.
    if api.key != _API_VERSIONS_KEY or version == 0 or len(payload) < 6:
        return None
    (error_code,) = struct.unpack_from(">h", payload, 4)
    if error_code == _UNSUPPORTED_VERSION and _decodes(api, 0, payload):
        return 0
    return None


def _note_truncation(frame: DecodedFrame, raw: RawFrame) -> DecodedFrame:
    if not raw.truncated:
        return frame
    missing = f"the stream ends after {len(raw.payload)} of the frame's {raw.size} bytes"
    if frame.error is None:
        frame.error = FrameError(len(raw.payload), missing)
    else:
        frame.error.reason = f"{frame.error.reason} ({missing})"
    return frame


# --- conversations -----------------------------------------------------------


class Conversation:
    """Both directions of one connection, decoded and paired as bytes arrive.

    Feed client bytes to ``requests`` and broker bytes to ``responses``;
    each returns the frames completed. ``finish`` reports frames cut short
    by the end of the capture.
    """

    def __init__(self, pairing: Pairing | None = None, label: str | None = None,
                 max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        self.pairing = pairing if pairing is not None else Pairing()
        self.label = label
        self._requests = FrameSplitter(max_frame_size)
        self._responses = FrameSplitter(max_frame_size)

    def requests(self, data: bytes | bytearray | memoryview) -> list[DecodedFrame]:
        return [self._request(raw) for raw in self._requests.feed(data)]

    def responses(self, data: bytes | bytearray | memoryview) -> list[DecodedFrame]:
        return [self._response(raw) for raw in self._responses.feed(data)]

    def request_frame(self, raw: RawFrame) -> DecodedFrame:
        """Decode one request frame already cut from the stream."""
        return self._request(raw)

    def response_frame(self, raw: RawFrame) -> DecodedFrame:
        """Decode one response frame already cut from the stream."""
        return self._response(raw)

    def finish(self) -> list[DecodedFrame]:
        return ([self._request(raw) for raw in self._requests.finish()]
                + [self._response(raw) for raw in self._responses.finish()])

    def _request(self, raw: RawFrame) -> DecodedFrame:
        frame = decode_request_frame(raw, self.label)
        self.pairing.expect(frame)
        return frame

    def _response(self, raw: RawFrame) -> DecodedFrame:
        return decode_response_frame(raw, self.pairing, self.label)
