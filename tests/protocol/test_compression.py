"""Compression codecs: what we write, Kafka's clients read, and the reverse.

kafka-python compresses with python-snappy, lz4 and zstandard; aiokafka with
cramjam. Both are checked against ours in both directions.
"""

from __future__ import annotations

import gzip
import struct
import sys
from collections.abc import Callable

import aiokafka.codec as aiokafka_codec  # type: ignore[import-untyped]
import kafka.codec as kafka_codec  # type: ignore[import-untyped]
import lz4.frame  # type: ignore[import-untyped]
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from minikafka.protocol.compression import (
    Codec,
    CodecUnavailable,
    DecompressionFailed,
    UnknownCodec,
    compress,
    decompress,
)

Coder = Callable[[bytes], bytes]

# (encode, decode) per codec, for each client library.
KAFKA_PYTHON: dict[Codec, tuple[Coder, Coder]] = {
    Codec.GZIP: (kafka_codec.gzip_encode, kafka_codec.gzip_decode),
    Codec.SNAPPY: (kafka_codec.snappy_encode, kafka_codec.snappy_decode),
    Codec.LZ4: (kafka_codec.lz4_encode, kafka_codec.lz4_decode),
    Codec.ZSTD: (kafka_codec.zstd_encode, kafka_codec.zstd_decode),
}
AIOKAFKA: dict[Codec, tuple[Coder, Coder]] = {
    Codec.GZIP: (aiokafka_codec.gzip_encode, aiokafka_codec.gzip_decode),
    Codec.SNAPPY: (aiokafka_codec.snappy_encode, aiokafka_codec.snappy_decode),
    Codec.LZ4: (aiokafka_codec.lz4_encode, aiokafka_codec.lz4_decode),
    Codec.ZSTD: (aiokafka_codec.zstd_encode, aiokafka_codec.zstd_decode),
}
LIBRARIES = {"kafka-python": KAFKA_PYTHON, "aiokafka": AIOKAFKA}
COMPRESSED = [Codec.GZIP, Codec.SNAPPY, Codec.LZ4, Codec.ZSTD]

PAYLOADS = {
    "empty": b"",
    "short": b"hello",
    "nul bytes": b"\x00" * 100 + b"\x00\xff\x00",
    # Larger than one xerial block (32 KiB) and one LZ4 block (64 KiB).
    "compressible 200 KiB": b"minikafka record batch " * 9000,
    "incompressible 100 KiB": bytes((i * 7919 + (i >> 8) * 31) & 0xFF for i in range(100_000)),
}


def _cases() -> list[object]:
    return [
        pytest.param(library, codec, payload, id=f"{library}-{codec.name}-{name}")
        for library in LIBRARIES
        for codec in COMPRESSED
        for name, payload in PAYLOADS.items()
    ]


@pytest.mark.parametrize(("library", "codec", "payload"), _cases())
def test_clients_read_what_we_compress(library: str, codec: Codec, payload: bytes) -> None:
    _, their_decode = LIBRARIES[library][codec]
    assert bytes(their_decode(compress(codec, payload))) == payload


@pytest.mark.parametrize(("library", "codec", "payload"), _cases())
def test_we_read_what_clients_compress(library: str, codec: Codec, payload: bytes) -> None:
    their_encode, _ = LIBRARIES[library][codec]
    assert decompress(codec, their_encode(payload)) == payload


@pytest.mark.parametrize("codec", list(Codec))
@settings(max_examples=30, deadline=None)
@given(payload=st.binary(max_size=5000))
def test_decompress_inverts_compress(codec: Codec, payload: bytes) -> None:
    assert decompress(codec, compress(codec, payload)) == payload


def test_none_is_identity() -> None:
    assert compress(Codec.NONE, bytearray(b"abc")) == b"abc"
    assert decompress(0, memoryview(b"abc")) == b"abc"


def test_buffers_of_every_kind_are_accepted() -> None:
    data = b"0123456789" * 500
    for codec in Codec:
        for buffer in (data, bytearray(data), memoryview(data)):
            compressed = compress(codec, buffer)
            assert decompress(codec, memoryview(compressed)) == data


def test_gzip_output_is_a_gzip_stream() -> None:
    assert gzip.decompress(compress(Codec.GZIP, b"x" * 1000)) == b"x" * 1000


def test_snappy_is_written_with_xerial_framing() -> None:
    payload = PAYLOADS["compressible 200 KiB"]
    data = compress(Codec.SNAPPY, payload)
    # snappy-java's stream header: marker, "SNAPPY", NUL, version 1, compatible 1.
    assert data[:16] == b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
    # Then one length-prefixed raw snappy block per 32 KiB of input.
    blocks = 0
    position = 16
    while position < len(data):
        (length,) = struct.unpack_from(">i", data, position)
        position += 4 + length
        blocks += 1
    assert position == len(data)
    assert blocks == -(-len(payload) // (32 * 1024))


def test_raw_snappy_is_read_too() -> None:
    payload = PAYLOADS["compressible 200 KiB"]
    raw = kafka_codec.snappy_encode(payload, xerial_compatible=False)
    assert not raw.startswith(b"\x82SNAPPY")
    assert decompress(Codec.SNAPPY, raw) == payload


def test_xerial_header_with_little_endian_version_is_read() -> None:
    # Some producers write the version fields little-endian; Kafka's clients
    # go by the magic alone, and so do we.
    payload = b"abc" * 100
    data = bytearray(compress(Codec.SNAPPY, payload))
    data[8:16] = struct.pack("<ii", 1, 1)
    assert decompress(Codec.SNAPPY, data) == payload


def test_lz4_frames_have_independent_blocks_and_no_content_checksum() -> None:
    data = compress(Codec.LZ4, PAYLOADS["compressible 200 KiB"])
    assert data[:4] == b"\x04\x22\x4d\x18"  # LZ4 frame magic
    flags = data[4]
    assert flags >> 6 == 1  # frame version 01
    assert flags & 0x20  # blocks independent (KIP-57)
    assert not flags & 0x04  # no content checksum
    assert lz4.frame.decompress(data) == PAYLOADS["compressible 200 KiB"]


def test_zstd_frames_without_content_size_are_read() -> None:
    # Kafka's Java producer streams zstd, so the frame header has no content size.
    payload = PAYLOADS["compressible 200 KiB"]
    streamed = zstandard.ZstdCompressor(write_content_size=False).compress(payload)
    assert decompress(Codec.ZSTD, streamed) == payload
    assert decompress(Codec.ZSTD, streamed + streamed) == payload * 2


@pytest.mark.parametrize("codec_id", [5, 6, 7, -1])
def test_unknown_codec_ids_are_refused(codec_id: int) -> None:
    with pytest.raises(UnknownCodec, match=f"unknown compression codec {codec_id}"):
        compress(codec_id, b"x")
    with pytest.raises(UnknownCodec):
        decompress(codec_id, b"x")


@pytest.mark.parametrize("codec", COMPRESSED)
def test_corrupt_data_is_a_decompression_error(codec: Codec) -> None:
    garbage = b"this is not compressed data at all, not in any codec" * 3
    with pytest.raises(DecompressionFailed, match=codec.name.lower()):
        decompress(codec, garbage)


@pytest.mark.parametrize("codec", COMPRESSED)
def test_truncated_data_is_a_decompression_error(codec: Codec) -> None:
    data = compress(codec, PAYLOADS["incompressible 100 KiB"])
    with pytest.raises(DecompressionFailed):
        decompress(codec, data[: len(data) // 2])


def test_xerial_block_overrunning_the_data_is_an_error() -> None:
    data = bytearray(compress(Codec.SNAPPY, b"abc" * 100))
    data[16:20] = struct.pack(">i", 10_000)
    with pytest.raises(DecompressionFailed, match="overruns"):
        decompress(Codec.SNAPPY, data)


@pytest.mark.parametrize("codec", [Codec.SNAPPY, Codec.LZ4, Codec.ZSTD])
def test_missing_cramjam_names_the_extra(codec: Codec, monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes "import cramjam" raise ImportError.
    monkeypatch.setitem(sys.modules, "cramjam", None)
    name = codec.name.lower()
    expected = (
        f"{name} compression needs the 'compression' extra: pip install 'minikafka[compression]'"
    )
    with pytest.raises(CodecUnavailable) as excinfo:
        compress(codec, b"payload")
    assert str(excinfo.value) == expected
    assert excinfo.value.codec is codec
    with pytest.raises(CodecUnavailable, match="minikafka\\[compression\\]"):
        decompress(codec, b"payload")


def test_gzip_and_none_work_without_cramjam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cramjam", None)
    for codec in (Codec.NONE, Codec.GZIP):
        assert decompress(codec, compress(codec, b"payload")) == b"payload"


def test_xerial_header_alone_is_empty() -> None:
    # What snappy-java writes for no input.
    assert decompress(Codec.SNAPPY, b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)) == b""
