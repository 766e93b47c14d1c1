"""Request headers as ``decode_request`` reads them: every client id and tag case.

Common headers (a client id, no tagged fields) are read without the compiled
header structure; every other header goes through it. Both must give the
same header, and bad headers the same typed errors, whichever way they went.
"""

from __future__ import annotations

import struct

import pytest

from minikafka.protocol.codec import (
    DecodeError,
    RequestHeader,
    decode_peeked_request,
    decode_request,
    encode_request,
    peek_request_header,
)
from minikafka.protocol.messages.api_versions import API_VERSIONS
from minikafka.protocol.messages.metadata import METADATA

# Metadata v1 (header v1) and v9 (flexible: header v2), asking for no topics
V1_BODY: dict[str, object] = {"topics": []}
V9_BODY: dict[str, object] = {"topics": [], "allow_auto_topic_creation": False,
           "include_cluster_authorized_operations": False,
           "include_topic_authorized_operations": False}


def _fixed(version: int) -> bytes:
    return struct.pack(">hhi", METADATA.key, version, 5)


def _v1_body_bytes() -> bytes:
    payload = encode_request(METADATA, 1, 5, V1_BODY, client_id=None)
    return payload[len(_fixed(1)) + 2:]  # after the null client id


def _v9_body_bytes() -> bytes:
    payload = encode_request(METADATA, 9, 5, V9_BODY, client_id=None)
    return payload[len(_fixed(9)) + 3:]  # after the null client id and the empty tags


@pytest.mark.parametrize("client_id", [None, "", "rdkafka", "producteur-é-☃"])
@pytest.mark.parametrize("version", [1, 9])
def test_client_id_round_trips(client_id: str | None, version: int) -> None:
    body = V1_BODY if version == 1 else V9_BODY
    payload = encode_request(METADATA, version, 5, body, client_id=client_id)
    header, decoded = decode_request(payload)
    assert header == RequestHeader(METADATA.key, version, 5, client_id)
    assert decoded["topics"] == []
    assert decode_peeked_request(METADATA, peek_request_header(payload), payload) == (
        header, decoded)


def test_flexible_header_with_tagged_fields_is_read_past_them() -> None:
    # client id "c", then one tagged field: tag 3, 2 bytes
    payload = _fixed(9) + b"\x00\x01c" + b"\x01\x03\x02hi" + _v9_body_bytes()
    header, body = decode_request(payload)
    assert header == RequestHeader(METADATA.key, 9, 5, "c")
    assert body["topics"] == []


def test_client_id_that_is_not_utf8_is_a_decode_error_with_the_fixed_header() -> None:
    payload = _fixed(1) + b"\x00\x02\xff\xfe" + _v1_body_bytes()
    with pytest.raises(DecodeError) as excinfo:
        decode_request(payload)
    assert "UTF-8" in excinfo.value.reason
    assert excinfo.value.header == RequestHeader(METADATA.key, 1, 5)
    assert excinfo.value.what == "Metadata v1 request header"


@pytest.mark.parametrize("length", [-2, -32768])
def test_negative_client_id_length_other_than_null_is_a_decode_error(length: int) -> None:
    payload = _fixed(1) + struct.pack(">h", length) + _v1_body_bytes()
    with pytest.raises(DecodeError) as excinfo:
        decode_request(payload)
    assert f"invalid length {length}" in excinfo.value.reason


def test_flexible_header_ending_before_its_tagged_fields_is_a_decode_error() -> None:
    payload = _fixed(9) + b"\x00\x01c"
    with pytest.raises(DecodeError) as excinfo:
        decode_request(payload)
    assert excinfo.value.what == "Metadata v9 request header"
    assert excinfo.value.header == RequestHeader(METADATA.key, 9, 5)


def test_header_from_a_memoryview_of_a_larger_frame() -> None:
    payload = encode_request(API_VERSIONS, 3, 9, {"client_software_name": "x",
                                                  "client_software_version": "1"},
                             client_id="viewer")
    framed = memoryview(struct.pack(">i", len(payload)) + payload)[4:]
    header, body = decode_request(framed)
    assert header == RequestHeader(API_VERSIONS.key, 3, 9, "viewer")
    assert body["client_software_name"] == "x"
