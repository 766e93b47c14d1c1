"""Record batches in the dumper: a ``Records`` field as JSON, as text, and back.

A records field holds zero or more record batches. ``records_to_json``
expands each into its header fields, whether its CRC-32C checks, and its
records (offset, timestamp, key, value, headers), decompressing as needed
through ``minikafka.protocol.records``. Bytes that are not a whole batch
(a Fetch response's cut-off last batch, legacy magic 0/1 message sets,
garbage) become ``{"error": why, "raw": {"hex": ...}}`` items.

``records_from_json`` goes back: a batch is built from its fields with
``RecordBatchBuilder``, so an edited batch gets fresh lengths and CRC. When
rebuilding would not give back the original bytes (compression libraries
differ, the CRC was wrong, log-append-time stamps hide the deltas), the
JSON carries the batch's ``raw`` bytes as well, and those are used as long
as the decoded fields were left as they were.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from typing import Any

import crc32c

from ..protocol.batch_header import (
    BATCH_HEADER_SIZE,
    CRC_OFFSET,
    CRC_START,
    LOG_OVERHEAD,
    BatchHeader,
    CorruptBatch,
    InvalidBatch,
)
from ..protocol.compression import Codec, CodecUnavailable
from ..protocol.records import Record, RecordBatchBuilder, TimestampType, parse_batch
from .values import TreeError, bytes_from_json, bytes_to_json, render_leaf

__all__ = ["records_from_json", "records_to_json", "render_records"]

Buffer = bytes | bytearray | memoryview

# Fields a decoded batch shows but that are recomputed when it is built again.
_DERIVED = ("batch_length", "magic", "crc", "crc_ok", "crc_computed", "attributes",
            "last_offset_delta", "base_timestamp", "records_count")
# Fields that say how to build the batch, with the defaults a producer uses.
_INPUTS: dict[str, Any] = {
    "base_offset": 0,
    "partition_leader_epoch": -1,
    "compression": "none",
    "timestamp_type": "create_time",
    "transactional": False,
    "control": False,
    "max_timestamp": None,
    "producer_id": -1,
    "producer_epoch": -1,
    "base_sequence": -1,
}
_RECORD_FIELDS = ("offset", "timestamp", "key", "value", "headers")



def _bytes_to_json(data: bytes | None) -> Any:
    return None if data is None else bytes_to_json(data)


def _bytes_from_json(value: Any, path: str) -> bytes | None:
    return None if value is None else bytes_from_json(value, path)


# --- bytes -> JSON -----------------------------------------------------------


def records_to_json(data: Buffer) -> list[dict[str, Any]]:
    """Every batch (or undecodable chunk) of a records field, as JSON items."""
    view = memoryview(data).cast("B")
    items: list[dict[str, Any]] = []
    position = 0
    while position < len(view):
        item, size = _chunk_to_json(view, position)
        items.append(item)
        position += size
    return items


def _chunk_to_json(view: memoryview, position: int) -> tuple[dict[str, Any], int]:
    remaining = len(view) - position
    size = remaining
    if remaining >= LOG_OVERHEAD:
        # Every message format (magic 0, 1 and 2) starts with offset and size,
        # so a bad batch can be stepped over when its size is plausible.
        length = int.from_bytes(view[position + 8 : position + 12], "big", signed=True)
        if 0 <= length <= remaining - LOG_OVERHEAD:
            size = length + LOG_OVERHEAD
    chunk = bytes(view[position : position + size])
    magic_at = LOG_OVERHEAD + 4  # after partitionLeaderEpoch (magic 2) or crc (magic 0 and 1)
    if len(chunk) > magic_at and chunk[magic_at] != 2:
        return {"error": f"magic {chunk[magic_at]} message set (Kafka before 0.11), "
                f"not decoded", "raw": {"hex": chunk.hex()}}, size
    try:
        return _batch_to_json(chunk), size
    except (InvalidBatch, CodecUnavailable) as exc:
        reason = str(exc)
        if size == remaining and remaining >= BATCH_HEADER_SIZE and "truncated" in reason:
            reason += " (a Fetch response may end with a partial batch)"
        return {"error": reason, "raw": {"hex": chunk.hex()}}, size


def _batch_to_json(chunk: bytes) -> dict[str, Any]:
    header = BatchHeader.parse(chunk)
    computed = crc32c.crc32c(memoryview(chunk)[CRC_START:])
    try:
        batch = parse_batch(chunk)
    except CorruptBatch:
        # Show the records anyway: parse a copy whose CRC is made to match.
        fixed = bytearray(chunk)
        fixed[CRC_OFFSET : CRC_OFFSET + 4] = computed.to_bytes(4, "big")
        batch = parse_batch(fixed)
    item = _header_json(header, computed)
    item["records"] = [_record_json(record) for record in batch.records]
    if _build(item, "") != chunk:
        item["raw"] = {"hex": chunk.hex()}
    return item


def _header_json(header: BatchHeader, computed_crc: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "base_offset": header.base_offset,
        "batch_length": header.batch_length,
        "partition_leader_epoch": header.partition_leader_epoch,
        "magic": header.magic,
        "crc": header.crc,
        "crc_ok": header.crc == computed_crc,
    }
    if header.crc != computed_crc:
        item["crc_computed"] = computed_crc
    item.update({
        "attributes": header.attributes,
        "compression": _codec_name(header.compression),
        "timestamp_type": "log_append_time" if header.uses_log_append_time else "create_time",
        "transactional": header.is_transactional,
        "control": header.is_control,
        "last_offset_delta": header.last_offset_delta,
        "base_timestamp": header.base_timestamp,
        "max_timestamp": header.max_timestamp,
        "producer_id": header.producer_id,
        "producer_epoch": header.producer_epoch,
        "base_sequence": header.base_sequence,
        "records_count": header.records_count,
    })
    return item


def _codec_name(codec: int) -> str:
    try:
        return Codec(codec).name.lower()
    except ValueError:
        return str(codec)


def _record_json(record: Any) -> dict[str, Any]:
    return {
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": _bytes_to_json(record.key),
        "value": _bytes_to_json(record.value),
        "headers": [{"key": name, "value": _bytes_to_json(value)}
                    for name, value in record.headers],
    }


# --- JSON -> bytes -----------------------------------------------------------


def records_from_json(tree: Any, path: str) -> bytes:
    """The bytes of a records field from its JSON items (see the module docstring)."""
    if not isinstance(tree, list):
        raise TreeError(path, "expected a list of record batches")
    return b"".join(_item_from_json(item, f"{path}[{i}]") for i, item in enumerate(tree))


def _item_from_json(item: Any, path: str) -> bytes:
    if not isinstance(item, dict):
        raise TreeError(path, "expected a record batch object")
    raw = item.get("raw")
    raw_bytes = _bytes_from_json(raw, f"{path}.raw") if raw is not None else None
    if "error" in item:
        if raw_bytes is None:
            raise TreeError(path, "an undecoded chunk needs its raw bytes")
        return raw_bytes
    if raw_bytes is not None:
        # Unchanged since it was dumped: send exactly what was captured.
        try:
            original = _batch_to_json(raw_bytes)
        except (InvalidBatch, CodecUnavailable):
            original = None
        if original is not None and _without_raw(original) == _without_raw(item):
            return raw_bytes
    return _build(item, path)


def _without_raw(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "raw"}


def _build(item: dict[str, Any], path: str) -> bytes:
    unknown = sorted(set(item) - set(_INPUTS) - set(_DERIVED) - {"records", "raw"})
    if unknown:
        raise TreeError(f"{path}.{unknown[0]}", "unknown record batch field")
    settings = {name: item.get(name, default) for name, default in _INPUTS.items()}
    try:
        compression = Codec[str(settings["compression"]).upper()]
    except KeyError:
        raise TreeError(f"{path}.compression", "expected one of "
                          + ", ".join(codec.name.lower() for codec in Codec)) from None
    try:
        timestamp_type = TimestampType[str(settings["timestamp_type"]).upper()]
    except KeyError:
        raise TreeError(f"{path}.timestamp_type",
                          "expected create_time or log_append_time") from None
    for name in ("base_offset", "partition_leader_epoch", "producer_id", "producer_epoch",
                 "base_sequence"):
        _require_int(settings[name], f"{path}.{name}")
    for name in ("transactional", "control"):
        if not isinstance(settings[name], bool):
            raise TreeError(f"{path}.{name}", "expected true or false")
    # Under CREATE_TIME the maximum follows from the records (and may have been
    # edited); under LOG_APPEND_TIME it is the broker's stamp and must be kept.
    max_timestamp = None
    if timestamp_type is TimestampType.LOG_APPEND_TIME:
        max_timestamp = settings["max_timestamp"]
        _require_int(max_timestamp, f"{path}.max_timestamp")
    builder = RecordBatchBuilder(
        base_offset=settings["base_offset"],
        compression=compression,
        timestamp_type=timestamp_type,
        transactional=settings["transactional"],
        control=settings["control"],
        producer_id=settings["producer_id"],
        producer_epoch=settings["producer_epoch"],
        base_sequence=settings["base_sequence"],
        partition_leader_epoch=settings["partition_leader_epoch"],
        max_timestamp=max_timestamp,
    )
    records = item.get("records", [])
    if not isinstance(records, list):
        raise TreeError(f"{path}.records", "expected a list of records")
    for index, record in enumerate(records):
        _append_record(builder, record, f"{path}.records[{index}]")
    try:
        return builder.build()
    except (ValueError, CodecUnavailable) as exc:
        raise TreeError(path, str(exc)) from None


def _require_int(value: Any, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TreeError(path, "expected an integer")


def _append_record(builder: RecordBatchBuilder, record: Any, path: str) -> None:
    if not isinstance(record, dict):
        raise TreeError(path, "expected a record object")
    unknown = sorted(set(record) - set(_RECORD_FIELDS))
    if unknown:
        raise TreeError(f"{path}.{unknown[0]}", "unknown record field "
                          f"(expected {', '.join(_RECORD_FIELDS)})")
    offset = record.get("offset", builder.next_offset)
    timestamp = record.get("timestamp")
    _require_int(offset, f"{path}.offset")
    if timestamp is not None:
        _require_int(timestamp, f"{path}.timestamp")
    headers_json = record.get("headers", [])
    if not isinstance(headers_json, list):
        raise TreeError(f"{path}.headers", "expected a list of {key, value} objects")
    headers: list[tuple[str, bytes | None]] = []
    for index, header in enumerate(headers_json):
        where = f"{path}.headers[{index}]"
        if (not isinstance(header, dict) or set(header) != {"key", "value"}
                or not isinstance(header["key"], str)):
            raise TreeError(where, 'expected {"key": text, "value": bytes}')
        headers.append((header["key"], _bytes_from_json(header["value"], f"{where}.value")))
    key = _bytes_from_json(record.get("key"), f"{path}.key")
    value = _bytes_from_json(record.get("value"), f"{path}.value")
    if timestamp is None:
        timestamp = time.time_ns() // 1_000_000
    try:
        builder.append_record(Record(offset, timestamp, key, value, tuple(headers)))
    except ValueError as exc:
        raise TreeError(path, str(exc)) from None


# --- text --------------------------------------------------------------------


def render_records(name: str, items: list[dict[str, Any]], pad: str) -> Iterator[str]:
    """A records field as text: a summary line, then each batch and its records."""
    decoded = [item for item in items if "error" not in item]
    record_count = sum(len(item.get("records", [])) for item in decoded)
    size = sum(item.get("batch_length", 0) + LOG_OVERHEAD for item in decoded) + sum(
        len(item["raw"]["hex"]) // 2 for item in items if "error" in item)
    yield (f"{pad}{name}: {_plural(len(items), 'batch', 'batches')}, "
           f"{_plural(record_count, 'record', 'records')}, {size} bytes")
    for item in items:
        if "error" in item:
            raw = item["raw"]["hex"]
            shown = raw if len(raw) <= 64 else raw[:64] + "..."
            yield f"{pad}  - undecoded {len(raw) // 2} bytes: {item['error']}"
            yield f"{pad}    0x{shown}"
            continue
        crc = f"crc=0x{item['crc']:08x} " + (
            "ok" if item["crc_ok"] else f"MISMATCH (computed 0x{item['crc_computed']:08x})")
        flags = [flag for flag in ("transactional", "control") if item.get(flag)]
        yield (f"{pad}  - batch base_offset={item['base_offset']} "
               f"records={item['records_count']} compression={item['compression']} {crc}"
               + "".join(f" {flag}" for flag in flags))
        yield (f"{pad}    producer_id={item['producer_id']} "
               f"producer_epoch={item['producer_epoch']} base_sequence={item['base_sequence']} "
               f"partition_leader_epoch={item['partition_leader_epoch']} "
               f"timestamp_type={item['timestamp_type']}")
        for record in item.get("records", []):
            yield f"{pad}    {_record_line(record)}"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _record_line(record: dict[str, Any]) -> str:
    line = (f"offset {record['offset']}  timestamp {record['timestamp']}"
            f"{_when(record['timestamp'])}  key {render_leaf(record['key'])}"
            f"  value {render_leaf(record['value'])}")
    if record["headers"]:
        line += "  headers " + ", ".join(
            f"{render_leaf(header['key'])}={render_leaf(header['value'])}"
            for header in record["headers"])
    return line


def _when(timestamp: int) -> str:
    if timestamp < 0:
        return ""
    try:
        moment = datetime.datetime.fromtimestamp(timestamp / 1000, datetime.UTC)
    except (OverflowError, ValueError, OSError):
        return ""
    return f" ({moment.isoformat(timespec='milliseconds').replace('+00:00', 'Z')})"
