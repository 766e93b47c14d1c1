"""One client connection's protocol state, with no I/O: bytes in, responses out.

``ClientProtocol`` is to a Kafka connection what h11's ``Connection`` is to
HTTP: the transport feeds it whatever bytes arrive (``receive_data``) and
sends whatever it has queued (``data_to_send``); the protocol frames and
encodes requests, assigns correlation ids, pairs each response with its
request, and negotiates API versions.

Negotiation happens first: ``start()`` queues an ApiVersions request, and
until its answer arrives the connection is not ``ready``. Every later
request is then encoded at the newest version that both the broker and
MiniKafka's declarations serve. A broker too old for our ApiVersions version
answers in version 0 with UNSUPPORTED_VERSION and its own list; we then ask
again at the newest version it serves, as Kafka's own clients do.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

from minikafka.protocol.api import Api
from minikafka.protocol.codec import decode_response, encode_request
from minikafka.protocol.errors import RemoteProtocolError, error_for_code
from minikafka.protocol.framing import DEFAULT_MAX_FRAME_SIZE, FrameBuffer, frame
from minikafka.protocol.registry import api_by_name

from .errors import ConnectionClosed, UnsupportedByBroker

__all__ = ["NEED_DATA", "ClientProtocol", "Reader", "Response"]

# What turns a response's payload (header and body) at its version into the
# response's body, for a request that brings its own (see send_request).
Reader = Callable[[int, bytes | memoryview], Any]


class _NeedData:
    """Sentinel type: no whole response is buffered yet."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = _NeedData()

_CORRELATION_ID = struct.Struct(">i")
_ERROR_CODE = struct.Struct(">h")
_UNSUPPORTED_VERSION = 35
_API_VERSIONS = api_by_name("ApiVersions")
_PRODUCE = api_by_name("Produce")
_SIZE = struct.Struct(">i")  # a frame's size prefix, and a records field's length
_MOST_PRODUCE_TEMPLATES = 64  # per connection: (topic, partition, settings) in use

# The oldest version of each API this client can use. Produce before 3 and
# Fetch before 4 carry the old message formats (v0/v1), which we neither
# build nor parse; every broker since Kafka 0.11 serves these.
_CLIENT_MINIMUM = {"Produce": 3, "Fetch": 4}


def _produce_template(version: int, body: Mapping[str, Any], topic: Mapping[str, Any],
                      partition: Mapping[str, Any], client_id: str | None
                      ) -> tuple[bytes, bytes] | None:
    """The bytes of a one-partition Produce before its correlation id, and between
    it and the batch's length; None where the encoding has another shape.

    Made by the codec itself, twice, with different correlation ids and
    batches: the template is used only when the two differ in exactly those
    places, so the layout is never assumed.
    """
    def encoded(correlation_id: int, records: bytes) -> bytes:
        one = {**body, "topic_data": [{**topic, "partition_data": [{**partition,
                                                                     "records": records}]}]}
        return encode_request(_PRODUCE, version, correlation_id, one, client_id=client_id)

    first, second = encoded(0, b""), encoded(1, b"\x00")
    head, middle = first[:4], first[8:-_SIZE.size]
    if (first != head + _CORRELATION_ID.pack(0) + middle + _SIZE.pack(0)
            or second != head + _CORRELATION_ID.pack(1) + middle + _SIZE.pack(1) + b"\x00"):
        return None  # e.g. a flexible version: compact lengths, tagged fields after
    return head, middle


class Response(NamedTuple):
    """A decoded response, paired with the request it answers.

    A named tuple rather than an attrs class: one is made per response, and
    a tuple costs a third as much to make.
    """

    correlation_id: int
    api: Api
    version: int
    body: Any


class ClientProtocol:
    """The state of one connection to a broker, driven by a transport.

    Usage: ``start()``, send ``data_to_send()``, feed what arrives to
    ``receive_data()`` and call ``next_response()`` until ``ready``; then
    ``send_request()`` and read responses the same way. Responses come back
    in request order (Kafka guarantees it per connection), so a response
    whose correlation id is not the oldest outstanding one is a
    ``RemoteProtocolError``.
    """

    def __init__(
        self,
        client_id: str = "minikafka",
        *,
        software_version: str = "0",
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        self.client_id = client_id
        self._software_version = software_version
        self._frames = FrameBuffer(max_frame_size)
        self._max_frame_size = max_frame_size
        # One whole frame received on its own (the usual answer to a request),
        # kept as it came rather than copied through the frame buffer, which
        # is then empty.
        self._whole: bytes | None = None
        self._outgoing: list[bytes] = []
        # per request awaiting its response: correlation id, api, version, reader
        self._pending: deque[tuple[int, Api, int, Reader | None]] = deque()
        self._next_id = 1
        self._broker_versions: dict[int, range] | None = None
        self._chosen: dict[int, int] = {}
        self._closed = False
        self._produce_templates: dict[tuple[Any, ...], tuple[bytes, bytes] | None] = {}

    # --- negotiation ----------------------------------------------------

    def start(self) -> None:
        """Queue the ApiVersions request that opens every connection."""
        if self._pending or self._broker_versions is not None:
            raise RuntimeError("start() must be called once, before any other request")
        self._queue_api_versions(max(_API_VERSIONS.requests))

    def _queue_api_versions(self, version: int) -> None:
        body: dict[str, Any] = {
            "client_software_name": "minikafka",
            "client_software_version": self._software_version,
        }
        self._queue(_API_VERSIONS, version, body, expect_response=True, read=None)

    @property
    def ready(self) -> bool:
        """Whether the broker's API versions are known, so requests may be sent."""
        return self._broker_versions is not None

    def version_for(self, api: Api) -> int:
        """The newest version of ``api`` that the broker and this client both serve."""
        if self._broker_versions is None:
            raise RuntimeError("API versions are not negotiated yet; wait until ready")
        chosen = self._chosen.get(api.key)
        if chosen is None:
            ours = {v for v in api.requests if v >= _CLIENT_MINIMUM.get(api.name, 0)}
            theirs = self._broker_versions.get(api.key, range(0))
            common = ours.intersection(theirs)
            if not common:
                raise UnsupportedByBroker(api.name, theirs, range(min(ours), max(ours) + 1))
            chosen = self._chosen[api.key] = max(common)
        return chosen

    def _accept_api_versions(self, version: int, payload: bytes | memoryview) -> None:
        # Every ApiVersions response begins with correlation id then error
        # code, whatever its version; an UNSUPPORTED_VERSION answer is in v0.
        (error,) = _ERROR_CODE.unpack_from(payload, _CORRELATION_ID.size)
        if error == _UNSUPPORTED_VERSION and version > 0:
            _, body = decode_response(_API_VERSIONS, 0, payload)
            theirs = {entry.api_key: entry.max_version for entry in body.api_keys}
            fallback = min(theirs.get(_API_VERSIONS.key, 0), version - 1)
            self._queue_api_versions(fallback)
            return
        _, body = decode_response(_API_VERSIONS, version, payload)
        failure = error_for_code(body.error_code, "ApiVersions request refused")
        if failure is not None:
            raise failure
        self._broker_versions = {
            entry.api_key: range(entry.min_version, entry.max_version + 1)
            for entry in body.api_keys
        }

    # --- requests ---------------------------------------------------------

    def send_request(
        self, api: Api, body: Mapping[str, Any], *, expect_response: bool = True,
        read: Reader | None = None,
    ) -> int:
        """Queue a request at the negotiated version; returns its correlation id.

        ``body`` may hold fields of every version (the encoder takes the ones
        the chosen version has). ``expect_response=False`` is for Produce
        with acks=0, which the broker never answers. ``read``, if given, is
        called with the version and the response's payload, and its result is
        the response's ``body`` instead of the decoded one.
        """
        if self._closed:
            raise ConnectionClosed("the connection is closed")
        return self._queue(api, self.version_for(api), body, expect_response=expect_response,
                           read=read)

    def _queue(self, api: Api, version: int, body: Mapping[str, Any], *,
               expect_response: bool, read: Reader | None) -> int:
        correlation_id = self._next_id
        self._next_id = correlation_id + 1 if correlation_id < 2**31 - 1 else 1
        framed = None
        if api is _PRODUCE:
            framed = self._produce_frame(version, correlation_id, body)
        if framed is None:
            framed = frame(encode_request(api, version, correlation_id, body,
                                          client_id=self.client_id))
        self._outgoing.append(framed)
        if expect_response:
            self._pending.append((correlation_id, api, version, read))
        return correlation_id

    def _produce_frame(self, version: int, correlation_id: int,
                       body: Mapping[str, Any]) -> bytes | None:
        """A Produce of one batch to one partition, framed from a template, or None.

        A producer sending messages one at a time sends the same request
        again and again but for the correlation id and the batch, so the
        codec encodes the rest once per topic, partition and settings, with
        an empty batch; the template is those bytes, around the correlation
        id (at the same place in every request header) and the batch's
        length (the last field, in the versions without tagged fields).
        """
        topics = body["topic_data"]
        if len(topics) != 1 or len(topics[0]["partition_data"]) != 1:
            return None
        topic = topics[0]
        partition = topic["partition_data"][0]
        records = partition["records"]
        if records is None:
            return None
        key = (version, body["transactional_id"], body["acks"], body["timeout_ms"],
               topic["name"], partition["index"])
        templates = self._produce_templates
        try:
            template = templates[key]
        except KeyError:
            if len(templates) >= _MOST_PRODUCE_TEMPLATES:
                return None
            # kept even when None, so a version without a template is not tried again
            template = templates[key] = _produce_template(version, body, topic, partition,
                                                          self.client_id)
        if template is None:
            return None
        head, middle = template
        size = len(head) + _CORRELATION_ID.size + len(middle) + _SIZE.size + len(records)
        return b"".join((_SIZE.pack(size), head, _CORRELATION_ID.pack(correlation_id), middle,
                         _SIZE.pack(len(records)), records))

    def data_to_send(self) -> bytes:
        """Everything queued for the broker since the last call (possibly b"")."""
        data = b"".join(self._outgoing)
        self._outgoing.clear()
        return data

    @property
    def outstanding(self) -> int:
        """Requests sent whose responses have not been returned yet."""
        return len(self._pending)

    # --- responses --------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the broker; ``b""`` means the broker closed the connection."""
        if not data:
            self._closed = True
            return
        whole = self._whole
        if whole is None and len(data) > _SIZE.size and not self._frames.buffered:
            size = _SIZE.unpack_from(data)[0]
            if size == len(data) - _SIZE.size and size <= self._max_frame_size:
                self._whole = data
                return
        if whole is not None:
            self._whole = None
            self._frames.feed(whole)
        self._frames.feed(data)

    def next_response(self) -> Response | _NeedData:
        """The next response to a request sent with ``send_request``, or ``NEED_DATA``.

        Raises ``ConnectionClosed`` when the broker closed the connection with
        responses outstanding, ``RemoteProtocolError`` for a response that does
        not decode or does not answer the oldest request, and the Kafka error
        of a refused ApiVersions request.
        """
        while True:
            whole = self._whole
            if whole is not None:
                self._whole = None
                payload: bytes | memoryview | None = memoryview(whole)[_SIZE.size:]
            elif self._frames.buffered:
                payload = self._frames.next_frame()
            else:  # nothing received: no need to ask the frame buffer
                payload = None
            if payload is None:
                if self._closed:
                    waiting = len(self._pending)
                    raise ConnectionClosed(
                        "the broker closed the connection"
                        + (f" with {waiting} request(s) unanswered" if waiting else "")
                    )
                return NEED_DATA
            if len(payload) < _CORRELATION_ID.size + (0 if self.ready else _ERROR_CODE.size):
                raise RemoteProtocolError(f"response frame of {len(payload)} bytes is too short")
            if not self._pending:
                raise RemoteProtocolError("a response arrived for no outstanding request")
            (correlation_id,) = _CORRELATION_ID.unpack_from(payload)
            expected, api, version, read = self._pending.popleft()
            if correlation_id != expected:
                raise RemoteProtocolError(
                    f"response has correlation id {correlation_id}, expected {expected}"
                )
            if api is _API_VERSIONS and not self.ready:
                self._accept_api_versions(version, payload)
                continue
            body = read(version, payload) if read is not None else \
                decode_response(api, version, payload)[1]
            return Response(correlation_id, api, version, body)
