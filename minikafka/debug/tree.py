"""Decoded Kafka structures as JSON trees and as indented text, and back.

Everything here walks the construct declarations of
``minikafka.protocol.messages`` alongside a value, so it works for every API
and version the registry declares without knowing any of them:

- ``to_json(structure, value)`` turns a decoded ``Container`` into plain JSON
  values with Kafka's field names (snake_case, as declared);
- ``from_json(structure, tree)`` turns such a tree back into a value the
  structure builds, checking types and ranges and naming the path of the
  first problem (``TreeError``);
- ``render(structure, tree)`` gives the indented text the dumper prints;
- ``template(structure)`` gives a tree of zeros and empties to edit;
- ``parse_partial(structure, data)`` decodes as far as the bytes allow and
  says where and why it stopped.

JSON conventions: bytes are a string when they are printable UTF-8 text and
``{"hex": "..."}`` otherwise; UUIDs are their canonical string; tagged fields
are ``{"tag": bytes}``; record batches (``Records`` fields) are expanded by
``minikafka.debug.batches``.
"""

from __future__ import annotations

import re
import struct
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import construct as c

from ..protocol import primitives as p
from ..protocol.errors import for_code
from . import batches
from .values import TreeError, bytes_from_json, bytes_to_json, describe, render_leaf

__all__ = [
    "PartialDecode",
    "TreeError",
    "bytes_from_json",
    "bytes_to_json",
    "from_json",
    "parse_partial",
    "render",
    "template",
    "to_json",
]

def _unwrap(con: Any) -> Any:
    while isinstance(con, (c.Renamed, c.Default)):
        con = con.subcon
    return con


def _fields(con: Any) -> list[tuple[str, Any]]:
    return [(sub.name, sub) for sub in con.subcons if sub.name]


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --- decoded value -> JSON ---------------------------------------------------


def to_json(structure: Any, value: Any) -> Any:
    """A decoded value (or a partial one: missing fields are left out) as JSON."""
    con = _unwrap(structure)
    if isinstance(con, c.Struct):
        return {name: to_json(sub, value[name]) for name, sub in _fields(con) if name in value}
    if value is None:
        return None
    if isinstance(con, p._ArrayType):
        return [to_json(con.subcon, item) for item in value]
    if isinstance(con, p._RecordsType):
        return batches.records_to_json(value)
    if isinstance(con, p._BytesType):
        return bytes_to_json(value)
    if isinstance(con, p._UUIDAdapter):
        return str(value)
    if isinstance(con, p._TaggedFieldsType):
        return {str(tag): bytes_to_json(data) for tag, data in value.items()}
    return _generic_to_json(value)


def _generic_to_json(value: Any) -> Any:
    # Constructs this module does not know (none are declared today) still print.
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes_to_json(value)
    if isinstance(value, dict):
        return {str(k): _generic_to_json(v) for k, v in value.items()
                if not str(k).startswith("_")}
    if isinstance(value, list):
        return [_generic_to_json(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


# --- JSON -> value to build --------------------------------------------------

_FORMAT_RANGES = {
    fmt: (-(2 ** (8 * size - 1)), 2 ** (8 * size - 1) - 1)
    for fmt, size in ((">b", 1), (">h", 2), (">l", 4), (">i", 4), (">q", 8))
}
_FORMAT_RANGES[">L"] = (0, 2**32 - 1)
_FORMAT_RANGES[">I"] = (0, 2**32 - 1)


def from_json(structure: Any, tree: Any, path: str = "") -> Any:
    """A value that ``structure`` builds, from a JSON tree as ``to_json`` makes them.

    Raises TreeError naming the first field that is missing, unknown, of the
    wrong type or out of range.
    """
    con = _unwrap(structure)
    if isinstance(con, c.Struct):
        if not isinstance(tree, dict):
            raise TreeError(path, f"expected an object, got {describe(tree)}")
        fields = _fields(con)
        unknown = sorted(set(tree) - {name for name, _ in fields})
        if unknown:
            raise TreeError(path, f"unknown field {unknown[0]!r} (expected one of "
                            f"{', '.join(name for name, _ in fields)})")
        out: dict[str, Any] = {}
        for name, sub in fields:
            if name in tree:
                out[name] = from_json(sub, tree[name], _child(path, name))
            elif isinstance(_unwrap(sub), p._TaggedFieldsType):
                out[name] = {}
            else:
                raise TreeError(_child(path, name), "missing")
        return out
    if tree is None:
        if getattr(con, "nullable", False):
            return None
        raise TreeError(path, "cannot be null")
    if isinstance(con, p._ArrayType):
        if not isinstance(tree, list):
            raise TreeError(path, f"expected a list, got {describe(tree)}")
        return [from_json(con.subcon, item, f"{path}[{i}]") for i, item in enumerate(tree)]
    if isinstance(con, p._RecordsType):
        return batches.records_from_json(tree, path)
    if isinstance(con, p._BytesType):
        return bytes_from_json(tree, path)
    if isinstance(con, p._StringType):
        if not isinstance(tree, str):
            raise TreeError(path, f"expected a string, got {describe(tree)}")
        return tree
    if isinstance(con, p._UUIDAdapter):
        try:
            return uuid.UUID(str(tree))
        except ValueError:
            raise TreeError(path, f"not a UUID: {describe(tree)}") from None
    if isinstance(con, p._TaggedFieldsType):
        if not isinstance(tree, dict):
            raise TreeError(path, f"expected an object of tag: bytes, got {describe(tree)}")
        tags: dict[int, bytes] = {}
        for tag, data in tree.items():
            if not str(tag).isdigit():
                raise TreeError(path, f"tag {tag!r} is not a non-negative integer")
            tags[int(tag)] = bytes_from_json(data, f"{path}.{tag}")
        return tags
    if con is p.Boolean:
        if not isinstance(tree, bool):
            raise TreeError(path, f"expected true or false, got {describe(tree)}")
        return tree
    if isinstance(con, c.FormatField):
        return _number(con.fmtstr, tree, path)
    if con is p.VarInt or con is p.UnsignedVarInt:
        if not isinstance(tree, int) or isinstance(tree, bool):
            raise TreeError(path, f"expected an integer, got {describe(tree)}")
        if con is p.UnsignedVarInt and tree < 0:
            raise TreeError(path, f"{tree} is negative")
        return tree
    return _generic_from_json(tree)


def _number(fmt: str, tree: Any, path: str) -> Any:
    if fmt in (">d", ">f"):
        if isinstance(tree, bool) or not isinstance(tree, (int, float)):
            raise TreeError(path, f"expected a number, got {describe(tree)}")
        return float(tree)
    if isinstance(tree, bool) or not isinstance(tree, int):
        raise TreeError(path, f"expected an integer, got {describe(tree)}")
    low, high = _FORMAT_RANGES.get(fmt, (None, None))
    if low is not None and high is not None and not low <= tree <= high:
        raise TreeError(path, f"{tree} is out of range {low}..{high}")
    return tree


def _generic_from_json(tree: Any) -> Any:
    if isinstance(tree, dict):
        if set(tree) == {"hex"}:
            return bytes.fromhex(tree["hex"])
        return {k: _generic_from_json(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_generic_from_json(v) for v in tree]
    return tree


# --- templates ---------------------------------------------------------------


def template(structure: Any) -> Any:
    """A JSON tree for ``structure`` with zeros, empty strings and lists, nulls where allowed."""
    con = _unwrap(structure)
    if isinstance(con, c.Struct):
        return {name: template(sub) for name, sub in _fields(con)
                if not isinstance(_unwrap(sub), p._TaggedFieldsType)}
    if getattr(con, "nullable", False):
        return None
    if isinstance(con, p._ArrayType):
        return []
    if isinstance(con, (p._StringType, p._BytesType, p._RecordsType)):
        return ""
    if isinstance(con, p._UUIDAdapter):
        return str(uuid.UUID(int=0))
    if con is p.Boolean:
        return False
    if isinstance(con, c.FormatField) and con.fmtstr in (">d", ">f"):
        return 0.0
    return 0


# --- text --------------------------------------------------------------------


def render(structure: Any, tree: Any, indent: int = 2) -> list[str]:
    """``tree`` (a JSON tree of ``structure``) as indented lines of text."""
    return list(_render_struct(_unwrap(structure), tree, " " * indent))


def _render_struct(con: Any, tree: dict[str, Any], pad: str) -> Iterator[str]:
    for name, sub in _fields(con):
        if name not in tree:
            continue
        yield from _render_field(name, _unwrap(sub), tree[name], pad)


def _render_field(name: str, con: Any, value: Any, pad: str) -> Iterator[str]:
    if isinstance(con, p._TaggedFieldsType):
        if value:
            tags = ", ".join(f"{tag}: {render_leaf(data)}" for tag, data in value.items())
            yield f"{pad}{name}: {{{tags}}}"
        return
    if isinstance(con, c.Struct) and isinstance(value, dict):
        yield f"{pad}{name}:"
        yield from _render_struct(con, value, pad + "  ")
        return
    if isinstance(con, p._ArrayType) and isinstance(value, list):
        if not value:
            yield f"{pad}{name}: []"
            return
        yield f"{pad}{name}:"
        item_con = _unwrap(con.subcon)
        for item in value:
            if isinstance(item_con, c.Struct) and isinstance(item, dict):
                lines = list(_render_struct(item_con, item, pad + "    "))
                if not lines:
                    yield f"{pad}  - {{}}"
                    continue
                yield f"{pad}  - {lines[0].lstrip()}"
                yield from lines[1:]
            else:
                yield f"{pad}  - {render_leaf(item)}"
        return
    if isinstance(con, p._RecordsType) and value is not None:
        yield from batches.render_records(name, value, pad)
        return
    if name == "error_code" and isinstance(value, int) and value != 0:
        yield f"{pad}{name}: {value} ({for_code(value).name})"
        return
    yield f"{pad}{name}: {render_leaf(value)}"


# --- partial decoding --------------------------------------------------------


@attrs.define
class PartialDecode:
    """What ``parse_partial`` got: the value so far, and where and why it stopped.

    ``offset`` is the byte (from the start of the parsed data) where the field
    that failed begins; ``path`` names that field. ``reason`` is None when
    everything decoded.
    """

    value: Any
    offset: int = 0
    path: str = ""
    reason: str | None = None

    @property
    def complete(self) -> bool:
        return self.reason is None


class _Stop(Exception):
    def __init__(self, offset: int, path: str, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.path = path
        self.reason = reason


_SHORT_READ = re.compile(r"expected (\d+), found (\d+)")


def _reason(exc: Exception) -> str:
    if isinstance(exc, c.ConstructError):
        text = str(exc).splitlines()[-1].strip() if str(exc) else type(exc).__name__
        short = _SHORT_READ.search(text)
        if isinstance(exc, c.StreamError) and short:
            need, got = short.groups()
            return f"data ends early: needs {need} bytes, {got} left"
        return text
    return str(exc) or type(exc).__name__


def parse_partial(structure: Any, reader: p.ViewReader) -> PartialDecode:
    """Decode ``structure`` from ``reader`` field by field, keeping whatever decoded.

    Used when the whole-structure decode failed, to show the user how far
    the bytes make sense. Never raises for bad input.
    """
    root: dict[str, Any] = {}
    context = c.Container(_params={}, _parsing=True, _building=False, _sizing=False, _index=None)
    con = _unwrap(structure)
    try:
        if isinstance(con, c.Struct):
            _parse_struct(con, reader, "", context, root)
        else:
            root["value"] = _parse_value(con, reader, "", context)
    except _Stop as stop:
        return PartialDecode(root, stop.offset, stop.path, stop.reason)
    return PartialDecode(root)


def _parse_struct(con: Any, reader: p.ViewReader, path: str, parent: Any,
                  out: dict[str, Any]) -> None:
    # The context mirrors construct's own Struct._parse, for constructs that read it.
    context = c.Container(_=parent, _params=parent.get("_params", {}), _root=None,
                          _parsing=True, _building=False, _sizing=False,
                          _subcons=getattr(con, "_subcons", None), _io=reader, _index=None)
    context._root = parent.get("_root", context)
    for sub in con.subcons:
        name = sub.name
        field_path = _child(path, name) if name else path
        inner = _unwrap(sub)
        if isinstance(inner, c.Struct):
            nested: dict[str, Any] = {}
            if name:
                out[name] = nested
                context[name] = nested
            _parse_struct(inner, reader, field_path, context, nested)
            continue
        value = _parse_value(inner, reader, field_path, context, out, name)
        if name:
            out[name] = value
            context[name] = value


def _parse_value(con: Any, reader: p.ViewReader, path: str, context: Any,
                 out: dict[str, Any] | None = None, name: str | None = None) -> Any:
    start = reader.tell()
    if isinstance(con, p._ArrayType):
        try:
            count = con._read_length(reader, path)
        except (c.ConstructError, ValueError, OverflowError) as exc:
            raise _Stop(start, path, _reason(exc)) from None
        if count < 0:
            if count == -1 and con.nullable:
                return None
            raise _Stop(start, path, f"invalid array length {count}")
        if count > reader.remaining():
            raise _Stop(start, path, f"array of {count} elements cannot fit in the "
                        f"{reader.remaining()} bytes left")
        items: list[Any] = []
        if out is not None and name:
            out[name] = items  # so the caller's partial tree shows the elements read so far
        item_con = _unwrap(con.subcon)
        for index in range(count):
            item_path = f"{path}[{index}]"
            if isinstance(item_con, c.Struct):
                item: dict[str, Any] = {}
                items.append(item)
                _parse_struct(item_con, reader, item_path, context, item)
            else:
                items.append(_parse_value(item_con, reader, item_path, context))
        return items
    try:
        return con._parsereport(reader, context, path)
    except (c.ConstructError, ValueError, OverflowError, UnicodeDecodeError, struct.error) as exc:
        raise _Stop(start, path, _reason(exc)) from None
