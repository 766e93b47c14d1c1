"""The compression codecs a record batch can use, by Kafka's codec id.

A batch's attributes name its codec in bits 0-2; everything after the
61-byte header (the records) is compressed as one block with that codec:

    0 none
    1 gzip    stdlib ``gzip``
    2 snappy  Kafka writes xerial's block framing; readers accept it or raw snappy
    3 lz4     LZ4 frame format, independent blocks (KIP-57)
    4 zstd    zstd frame(s)

Codecs 2-4 come from ``cramjam``, an optional dependency (the
``compression`` extra). It is imported when first needed, so MiniKafka runs
without it until a batch actually uses one of those codecs; then
``CodecUnavailable`` says which extra to install.
"""

from __future__ import annotations

import enum
import gzip
import struct
import zlib
from types import ModuleType
from typing import Any

__all__ = [
    "Codec",
    "CodecUnavailable",
    "DecompressionFailed",
    "UnknownCodec",
    "compress",
    "decompress",
]

Buffer = bytes | bytearray | memoryview


class Codec(enum.IntEnum):
    """Kafka's compression codec ids (record batch attribute bits 0-2)."""

    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4


class CodecUnavailable(RuntimeError):
    """The codec needs a library that is not installed (the ``compression`` extra)."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        name = codec.name.lower()
        super().__init__(
            f"{name} compression needs the 'compression' extra: "
            "pip install 'minikafka[compression]'"
        )


class UnknownCodec(ValueError):
    """A codec id Kafka does not define (5, 6 and 7 are unused)."""

    def __init__(self, codec_id: int) -> None:
        self.codec_id = codec_id
        super().__init__(f"unknown compression codec {codec_id} (Kafka defines 0-4)")


class DecompressionFailed(ValueError):
    """Compressed data that its codec cannot decompress; the message says why."""


def _codec(codec_id: int) -> Codec:
    try:
        return Codec(codec_id)
    except ValueError:
        raise UnknownCodec(codec_id) from None


def _cramjam(codec: Codec) -> ModuleType:
    # Imported on every call (a dict lookup once loaded) rather than at module
    # import, so that a missing library only matters to batches that need it.
    try:
        import cramjam
    except ImportError:
        raise CodecUnavailable(codec) from None
    return cramjam


# xerial snappy-java's stream header: marker byte, "SNAPPY\0", version 1, compatible 1.
_XERIAL_MAGIC = b"\x82SNAPPY\x00"
_XERIAL_HEADER = _XERIAL_MAGIC + struct.pack(">ii", 1, 1)
_XERIAL_BLOCK_SIZE = 32 * 1024  # snappy-java's default, and what Kafka's producer writes
_BLOCK_LENGTH = struct.Struct(">i")

_GZIP_LEVEL = 6  # java.util.zip's default, which Kafka's producer uses
_ZSTD_LEVEL = 3  # Kafka's default (KIP-390)


def compress(codec_id: int, data: Buffer) -> bytes:
    """``data`` compressed with codec ``codec_id`` as Kafka's producer would write it.

    Raises ``UnknownCodec`` for an id outside 0-4 and ``CodecUnavailable``
    when snappy, lz4 or zstd is asked for without cramjam installed.
    """
    codec = _codec(codec_id)
    if codec is Codec.NONE:
        return bytes(data)
    if codec is Codec.GZIP:
        # mtime=0 keeps the output a function of the input alone.
        return gzip.compress(data, compresslevel=_GZIP_LEVEL, mtime=0)
    cramjam: Any = _cramjam(codec)
    if codec is Codec.SNAPPY:
        return _xerial_snappy_compress(cramjam, memoryview(data))
    if codec is Codec.LZ4:
        # KIP-57: Kafka's LZ4 reader expects frames of independent blocks.
        compressor = cramjam.lz4.Compressor(content_checksum=False, block_linked=False)
        compressor.compress(data if isinstance(data, bytes) else bytes(data))  # bytes only
        return bytes(compressor.finish())
    return bytes(cramjam.zstd.compress(data, level=_ZSTD_LEVEL))


def decompress(codec_id: int, data: Buffer) -> bytes:
    """The bytes that codec ``codec_id`` compressed into ``data``.

    Raises ``DecompressionFailed`` for data the codec rejects, ``UnknownCodec``
    and ``CodecUnavailable`` as ``compress`` does.
    """
    codec = _codec(codec_id)
    if codec is Codec.NONE:
        return bytes(data)
    if codec is Codec.GZIP:
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DecompressionFailed(f"gzip: {exc}") from None
    cramjam: Any = _cramjam(codec)
    try:
        if codec is Codec.SNAPPY:
            return _snappy_decompress(cramjam, memoryview(data))
        if codec is Codec.LZ4:
            return bytes(cramjam.lz4.decompress(data))
        return bytes(cramjam.zstd.decompress(data))
    except cramjam.DecompressionError as exc:
        raise DecompressionFailed(f"{codec.name.lower()}: {exc}") from None


def _xerial_snappy_compress(cramjam: Any, data: memoryview) -> bytes:
    # Kafka's producer wraps snappy in snappy-java's stream format: a header,
    # then blocks of at most 32 KiB of input, each as int32 length + raw snappy.
    if not data:
        # A bare header is empty to snappy-java but kafka-python and aiokafka
        # take it for raw snappy and fail; every reader accepts raw empty.
        return bytes(cramjam.snappy.compress_raw(b""))
    parts = [_XERIAL_HEADER]
    for start in range(0, len(data), _XERIAL_BLOCK_SIZE):
        block = bytes(cramjam.snappy.compress_raw(data[start : start + _XERIAL_BLOCK_SIZE]))
        parts.append(_BLOCK_LENGTH.pack(len(block)))
        parts.append(block)
    return b"".join(parts)


def _snappy_decompress(cramjam: Any, data: memoryview) -> bytes:
    # Kafka's Java clients write xerial framing; librdkafka and some others
    # write raw snappy. Like Kafka and kafka-python, accept both. Only the
    # magic is checked: some producers write version/compat little-endian.
    if len(data) < len(_XERIAL_HEADER) or data[: len(_XERIAL_MAGIC)] != _XERIAL_MAGIC:
        return bytes(cramjam.snappy.decompress_raw(data))
    parts = []
    position = len(_XERIAL_HEADER)
    while position < len(data):
        if len(data) - position < _BLOCK_LENGTH.size:
            raise DecompressionFailed("snappy: xerial block length is truncated")
        (length,) = _BLOCK_LENGTH.unpack_from(data, position)
        position += _BLOCK_LENGTH.size
        if length < 0 or position + length > len(data):
            raise DecompressionFailed(
                f"snappy: xerial block of {length} bytes overruns the data "
                f"({len(data) - position} bytes left)"
            )
        parts.append(bytes(cramjam.snappy.decompress_raw(data[position : position + length])))
        position += length
    return b"".join(parts)
