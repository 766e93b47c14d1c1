"""JSON trees of declared structures: conversions both ways, errors with paths, templates."""

from __future__ import annotations

import uuid
from typing import Any

import construct as c
import pytest

from minikafka.debug.tree import from_json, parse_partial, render, template, to_json
from minikafka.debug.values import TreeError, bytes_from_json, bytes_to_json
from minikafka.protocol import primitives as p
from minikafka.protocol.registry import APIS, api_by_name

_EXAMPLE = c.Struct(
    "name" / p.String,
    "maybe" / p.NullableString,
    "count" / p.Int16,
    "flag" / p.Boolean,
    "id" / p.UUID,
    "blob" / p.NullableBytes,
    "items" / p.Array(c.Struct("index" / p.Int32, "tagged_fields" / p.TaggedFields)),
    "numbers" / p.CompactArray(p.Int64),
    "tagged_fields" / p.TaggedFields,
)
_VALUE = {
    "name": "topic-é", "maybe": None, "count": -3, "flag": True,
    "id": uuid.UUID(int=7), "blob": b"\x00\xff", "items": [{"index": 1, "tagged_fields": {}}],
    "numbers": [2**40], "tagged_fields": {3: b"\x01"},
}
_TREE = {
    "name": "topic-é", "maybe": None, "count": -3, "flag": True,
    "id": "00000000-0000-0000-0000-000000000007", "blob": {"hex": "00ff"},
    "items": [{"index": 1, "tagged_fields": {}}], "numbers": [2**40],
    "tagged_fields": {"3": {"hex": "01"}},
}


def test_to_json_uses_field_names_and_json_leaves() -> None:
    assert to_json(_EXAMPLE, _EXAMPLE.parse(_EXAMPLE.build(_VALUE))) == _TREE


def test_from_json_inverts_to_json() -> None:
    assert _EXAMPLE.build(from_json(_EXAMPLE, _TREE)) == _EXAMPLE.build(_VALUE)


def test_bytes_are_text_when_printable_and_hex_otherwise() -> None:
    assert bytes_to_json(b"hello world") == "hello world"
    assert bytes_to_json("ünïcode".encode()) == "ünïcode"
    assert bytes_to_json(b"a\x00b") == {"hex": "610062"}
    assert bytes_to_json(b"\xff") == {"hex": "ff"}
    for data in (b"hello", b"a\x00b", b"", "é".encode()):
        assert bytes_from_json(bytes_to_json(data), "x") == data


def test_tagged_fields_may_be_left_out() -> None:
    tree = {key: value for key, value in _TREE.items() if key != "tagged_fields"}
    assert from_json(_EXAMPLE, tree)["tagged_fields"] == {}


@pytest.mark.parametrize(("change", "path", "message"), [
    ({"name": 5}, "name", "expected a string, got 5"),
    ({"name": None}, "name", "cannot be null"),
    ({"count": 40000}, "count", "40000 is out of range -32768..32767"),
    ({"count": "3"}, "count", 'expected an integer, got "3"'),
    ({"flag": 1}, "flag", "expected true or false, got 1"),
    ({"id": "not-a-uuid"}, "id", "not a UUID"),
    ({"blob": {"hex": "zz"}}, "blob", "not hex"),
    ({"blob": 12}, "blob", 'expected text or {"hex": "..."}'),
    ({"items": [{"index": 1, "extra": 2}]}, "items[0]", "unknown field 'extra'"),
    ({"items": [{}]}, "items[0].index", "missing"),
    ({"items": {}}, "items", "expected a list"),
    ({"tagged_fields": {"x": "y"}}, "tagged_fields", "tag 'x' is not a non-negative integer"),
])
def test_from_json_names_the_bad_field(change: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(TreeError) as caught:
        from_json(_EXAMPLE, {**_TREE, **change})
    assert caught.value.path == path
    assert message in caught.value.message


def test_missing_field_is_an_error() -> None:
    tree = {key: value for key, value in _TREE.items() if key != "count"}
    with pytest.raises(TreeError, match="count: missing"):
        from_json(_EXAMPLE, tree)


@pytest.mark.parametrize(
    ("api", "version", "kind"),
    [(api, version, kind) for api in APIS.values() for version in api.versions
     for kind in ("request", "response")],
    ids=lambda value: getattr(value, "name", str(value)),
)
def test_every_template_builds(api: Any, version: int, kind: str) -> None:
    structure = (api.requests if kind == "request" else api.responses)[version]
    built = structure.build(from_json(structure, template(structure)))
    assert structure.parse(built) is not None


def test_partial_parse_keeps_what_decoded_and_names_the_stop() -> None:
    data = _EXAMPLE.build(_VALUE)
    cut = data[: data.index(b"\x00\x00\x00\x01", 20) + 6]  # inside items[0].index
    partial = parse_partial(_EXAMPLE, p.ViewReader(cut))
    assert not partial.complete
    assert partial.path == "items[0].index"
    assert partial.offset == len(cut) - 2
    assert partial.reason == "data ends early: needs 4 bytes, 2 left"
    tree = to_json(_EXAMPLE, partial.value)
    assert tree["name"] == "topic-é" and tree["blob"] == {"hex": "00ff"}
    assert tree["items"] == [{}]
    assert "numbers" not in tree


def test_partial_parse_refuses_impossible_array_counts() -> None:
    structure = c.Struct("items" / p.Array(p.Int32))
    partial = parse_partial(structure, p.ViewReader(b"\x7f\xff\xff\xff\x00\x00"))
    assert partial.path == "items"
    assert partial.reason == "array of 2147483647 elements cannot fit in the 2 bytes left"


def test_render_shows_names_values_and_error_names() -> None:
    api = api_by_name("Metadata")
    structure = api.responses[max(api.responses)]
    (topics,) = [sub for sub in structure.subcons if sub.name == "topics"]
    topic = {**template(topics.subcon.subcon), "error_code": 3, "name": "demo"}
    lines = render(structure, {**template(structure), "topics": [topic]})
    assert "  topics:" in lines
    assert '    - error_code: 3 (UNKNOWN_TOPIC_OR_PARTITION)' in lines
    assert '      name: "demo"' in lines
