"""Records fields in the dumper: batches expanded, CRC checked, odd bytes kept, rebuilt exactly."""

from __future__ import annotations

import copy

import pytest

from minikafka.debug.batches import records_from_json, records_to_json, render_records
from minikafka.debug.values import TreeError
from minikafka.protocol.compression import Codec
from minikafka.protocol.records import (
    Record,
    RecordBatchBuilder,
    TimestampType,
    build_batch,
    parse_batch,
)

T0 = 1_700_000_000_000


def _batch(**kwargs: object) -> bytes:
    return build_batch([Record(10, T0, b"k", b"hello", (("trace", b"\x00\x01"),)),
                        Record(11, T0 + 5, None, b"\xff\xfe")], **kwargs)  # type: ignore[arg-type]


def test_a_batch_is_expanded_into_header_fields_and_records() -> None:
    (item,) = records_to_json(_batch(producer_id=42, producer_epoch=1, base_sequence=7))
    assert item["base_offset"] == 10
    assert item["crc_ok"] is True
    assert item["compression"] == "none"
    assert (item["producer_id"], item["producer_epoch"], item["base_sequence"]) == (42, 1, 7)
    assert item["records"] == [
        {"offset": 10, "timestamp": T0, "key": "k", "value": "hello",
         "headers": [{"key": "trace", "value": {"hex": "0001"}}]},
        {"offset": 11, "timestamp": T0 + 5, "key": None, "value": {"hex": "fffe"},
         "headers": []},
    ]
    assert "raw" not in item  # rebuilding from the fields gives the same bytes


@pytest.mark.parametrize("codec", list(Codec), ids=lambda codec: codec.name.lower())
def test_every_codec_round_trips_exactly(codec: Codec) -> None:
    data = _batch(compression=codec) + _batch(compression=codec, base_offset=10)
    items = records_to_json(data)
    assert [item["compression"] for item in items] == [codec.name.lower()] * 2
    assert [record["value"] for record in items[0]["records"]] == ["hello", {"hex": "fffe"}]
    assert records_from_json(items, "records") == data


def test_a_crc_mismatch_is_reported_and_kept() -> None:
    data = bytearray(_batch())
    value_at = data.index(b"\xff\xfe")
    data[value_at] = 0xEE
    (item,) = records_to_json(bytes(data))
    assert item["crc_ok"] is False
    assert item["crc_computed"] != item["crc"]
    assert item["records"][1]["value"] == {"hex": "eefe"}  # records shown anyway
    assert "raw" in item
    assert records_from_json([item], "r") == bytes(data)  # sent again as captured
    text = "\n".join(render_records("records", [item], ""))
    assert f"crc=0x{item['crc']:08x} MISMATCH (computed 0x{item['crc_computed']:08x})" in text


def test_an_edited_batch_is_rebuilt_with_fresh_lengths_and_crc() -> None:
    (item,) = records_to_json(_batch(compression=Codec.GZIP))
    edited = copy.deepcopy(item)
    edited["records"][0]["value"] = "a longer value than before"
    edited["records"].append({"value": "third", "timestamp": T0 + 9})
    rebuilt = parse_batch(records_from_json([edited], "records"))
    assert [record.value for record in rebuilt.records] == [
        b"a longer value than before", b"\xff\xfe", b"third"]
    assert rebuilt.records[2].offset == 12
    assert rebuilt.compression is Codec.GZIP
    assert rebuilt.header.max_timestamp == T0 + 9


def test_log_append_time_batches_keep_their_bytes() -> None:
    builder = RecordBatchBuilder(timestamp_type=TimestampType.LOG_APPEND_TIME,
                                 max_timestamp=T0 + 100)
    builder.append(b"a", timestamp=T0)
    builder.append(b"b", timestamp=T0 + 1)
    data = builder.build()
    (item,) = records_to_json(data)
    assert [record["timestamp"] for record in item["records"]] == [T0 + 100, T0 + 100]
    assert records_from_json([item], "r") == data


def test_a_cut_off_last_batch_is_kept_as_raw_bytes() -> None:
    whole = _batch()
    data = whole + whole[:70]
    items = records_to_json(data)
    assert items[0]["crc_ok"] is True
    assert items[1]["error"].startswith(f"batch of {len(whole)} bytes is truncated to 70")
    assert "partial batch" in items[1]["error"]
    assert items[1]["raw"] == {"hex": whole[:70].hex()}
    assert records_from_json(items, "r") == data


def test_bad_chunks_are_stepped_over_by_their_length() -> None:
    legacy = (0).to_bytes(8, "big") + (14).to_bytes(4, "big") + b"\x00" * 4 + b"\x01" + b"\x00" * 9
    data = legacy + _batch() + b"junk"
    items = records_to_json(data)
    assert items[0]["error"] == "magic 1 message set (Kafka before 0.11), not decoded"
    assert items[1]["crc_ok"] is True
    assert items[2] == {"error": "4 bytes is shorter than a batch header",
                        "raw": {"hex": b"junk".hex()}}
    assert records_from_json(items, "r") == data


@pytest.mark.parametrize(("tree", "path"), [
    ("nope", "r"),
    (["nope"], "r[0]"),
    ([{"error": "x"}], "r[0]"),
    ([{"records": [], "compression": "brotli"}], "r[0].compression"),
    ([{"records": [{"value": "v", "colour": 1}]}], "r[0].records[0].colour"),
    ([{"records": [{"value": "v", "headers": [["a", "b"]]}]}], "r[0].records[0].headers[0]"),
    ([{"records": [{"offset": 5, "value": "a"}, {"offset": 4, "value": "b"}]}],
     "r[0].records[1]"),
    ([{"records": [], "producer_id": "x"}], "r[0].producer_id"),
])
def test_bad_batch_json_names_the_field(tree: object, path: str) -> None:
    with pytest.raises(TreeError) as caught:
        records_from_json(tree, "r")
    assert caught.value.path == path


def test_render_lists_each_record() -> None:
    lines = list(render_records("records", records_to_json(_batch()), "  "))
    assert lines[0] == f"  records: 1 batch, 2 records, {len(_batch())} bytes"
    assert lines[3] == ('      offset 10  timestamp 1700000000000 (2023-11-14T22:13:20.000Z)'
                        '  key "k"  value "hello"  headers "trace"=0x0001')
    assert lines[4].endswith('key null  value 0xfffe')
