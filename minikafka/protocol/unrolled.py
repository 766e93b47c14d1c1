"""Straight-line code for the one-element shape of a declared structure.

Most messages on a hot path have one shape: a Produce to one topic and one
partition, say, and its response. ``compile_unrolled_reader`` generates, from
the declared structures (header and body, in order), a function that reads
exactly that shape: every array holds exactly one element (but those named
``empty``, which hold none, and those named ``whole``, read as one value of
any length), nested structures are flattened, and the leaf values come back
as one tuple in declaration order, with no construct Container, list or
stream object made on the way. Any other shape, and any bytes the general
decoder would refuse, make it return None, so the caller falls back to the
general decoder, which then decodes the message or raises its usual error.
Leaves are read by the same code generators as ``compile_structure``'s, so a
value read here is the value the general decoder gives
(``tests/protocol/test_unrolled.py``).

``compile_unrolled_writer`` is the converse: the leaves of a one-element
shape in, the encoded bytes out, again from the declarations' own emitters.

The broker reads one-partition Produce and Fetch requests and writes their
responses with these; ``ResponseReader`` is what a client reads one-partition
Produce and Fetch responses with: a reader per version, compiled when that
version is first read, that gives the few leaves the client wants.

The declarations stay the only description of the wire layout.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import construct as c

from .api import Api
from .headers import RESPONSE_HEADERS
from .primitives import (
    _ArrayType,
    _emit_build,
    _emit_parse,
    _field_runs,
    _function,
    _import_runtime,
    _Source,
)

__all__ = ["ResponseReader", "UnrolledReader", "UnrolledWriter", "compile_unrolled_reader",
           "compile_unrolled_writer"]

# buffer (bytes or a byte memoryview) -> the leaves, or None for any other shape
UnrolledReader = Callable[[Any], "tuple[Any, ...] | None"]
UnrolledWriter = Callable[..., bytes]

# One of the structures read or written back to back: a Struct, or (prefix, Struct)
# for one whose top-level leaves are named ``prefix_name`` (a response header and
# a flexible body both have a top-level ``tagged_fields``).
Structures = Sequence[Any]


def _bare(field: Any) -> Any:
    """``field`` without its name (and default): the construct that reads it."""
    con = field
    while isinstance(con, (c.Renamed, c.Default)):
        con = con.subcon
    return con


def _fields(con: Any) -> Iterator[tuple[str | None, list[Any]]]:
    """A Struct's fields, in runs (see ``primitives._field_runs``)."""
    con = _bare(con)
    if not isinstance(con, c.Struct):
        raise TypeError(f"an unrolled structure is made of Structs, not {con!r}")
    return _field_runs(con.subcons)


def _array_element(field: Any) -> Any:
    """The element structure of an array field, or None if ``field`` is no array."""
    con = _bare(field)
    return con.subcon if isinstance(con, _ArrayType) else None


class _Leaves:
    """Leaf names in order, each a fresh local of the generated code."""

    def __init__(self, src: _Source) -> None:
        self.src = src
        self.names: list[str] = []
        self.locals: list[str] = []

    def add(self, name: str, within: str | None = None) -> str:
        """A local for the leaf ``name``, a field of an element of the array ``within``
        (None at the top level). Inside an array the leaf's name is qualified by the
        array's (``partitions_error_code``), so that names do not change between
        versions that add or drop a field of the same name elsewhere."""
        if within is not None:
            name = f"{within}_{name}"
        if name in self.names:
            raise ValueError(f"leaf {name!r} appears twice in the unrolled structure")
        self.names.append(name)
        local = self.src.fresh("leaf")
        self.locals.append(local)
        return local


def _prefixed(structures: Structures) -> Iterator[tuple[str | None, Any]]:
    """(prefix or None, Struct) for each of ``structures``."""
    for structure in structures:
        yield structure if isinstance(structure, tuple) else (None, structure)


def _check_arrays(con: Any, names: frozenset[str]) -> None:
    """Refuse a name of ``empty``, ``null`` or ``whole`` that is a field but no array:
    a mistake that would otherwise leave that field unchecked."""
    for _, run in _fields(con):
        for field in run:
            element = _array_element(field)
            if element is None and field.name in names:
                raise ValueError(f"{field.name!r} is not an array")
            if element is not None and isinstance(_bare(element), c.Struct):
                _check_arrays(element, names)


class _Reading:
    """What ``_emit_read`` emits into, and how it treats each array."""

    def __init__(self, src: _Source, empty: frozenset[str], whole: frozenset[str]) -> None:
        if empty & whole:
            raise ValueError(f"arrays {sorted(empty & whole)} cannot be both empty and whole")
        self.src = src
        self.leaves = _Leaves(src)
        self.empty = empty
        self.whole = whole


def _emit_read(con: Any, reading: _Reading, within: str | None = None) -> str:
    """Emit the reading of the Struct ``con``; the expression of its value as a dict."""
    src, leaves = reading.src, reading.leaves
    items: list[tuple[str, str]] = []
    for fmtstr, run in _fields(con):
        if fmtstr is not None:
            targets = [leaves.add(sc.name, within) for sc in run]
            src.line(f"{', '.join(targets)}, = {src.fixed(fmtstr)}.unpack_from(buf, pos)")
            src.line(f"pos += {struct.calcsize(fmtstr)}")
            items += zip((sc.name for sc in run), targets, strict=True)
            continue
        field = run[0]
        element = _array_element(field)
        if element is None or field.name in reading.whole:
            # A plain field, or an array whose length varies even in the common shape
            # (a Fetch response's aborted transactions, say): one leaf, read by the
            # general emitter.
            target = leaves.add(field.name, within)
            _emit_parse(field, src, target)
            items.append((field.name, target))
            continue
        # Exactly one element (none if named in ``empty``), else the general decoder
        # takes over.
        count = 0 if field.name in reading.empty else 1
        if _bare(field).compact:
            src.line(f"if buf[pos] != {count + 1}:")  # count + 1, as one varint byte
            src.line("    return None")
            src.line("pos += 1")
        else:
            src.line(f"if {src.fixed('>i')}.unpack_from(buf, pos)[0] != {count}:")
            src.line("    return None")
            src.line("pos += 4")
        if not count:
            items.append((field.name, "[]"))
        elif isinstance(_bare(element), c.Struct):
            items.append((field.name, f"[{_emit_read(element, reading, field.name)}]"))
        else:  # an array of plain values: its one value is the leaf
            target = leaves.add(field.name, within)
            _emit_parse(element, src, target)
            items.append((field.name, f"[{target}]"))
    return "{" + ", ".join(f"{name!r}: {value}" for name, value in items) + "}"


def compile_unrolled_reader(structures: Structures, empty: frozenset[str] = frozenset(),
                            *, whole: frozenset[str] = frozenset(), nested: bool = False,
                            picked: Sequence[str] | None = None
                            ) -> tuple[tuple[str, ...], UnrolledReader]:
    """(leaf names, reader) for ``structures`` read back to back, every array of one element
    except those named in ``empty``, which must have none, and those named in ``whole``,
    which may have any number (or be null) and are each one leaf.

    The reader takes the whole buffer (bytes or a byte memoryview, whose
    byte fields it gives as views of it) and returns the leaves as a tuple,
    or only the ``picked`` ones, in that order, None for a name the
    structures lack (so one list serves every version); or, ``nested``,
    each structure's value as plain dicts and lists, as the general decoder
    gives it. A ``whole`` array's value is the general decoder's (a list of
    Containers, or None). It returns None when the bytes are not exactly that shape, or
    are anything the general decoder would refuse (so it decides what to do
    with them).
    """
    if nested and picked is not None:
        raise ValueError("a nested reader gives whole values, not picked leaves")
    code = c.CodeGen()
    code.append("import struct\nimport construct as c")
    code.append("from construct import Container, ListContainer")  # what whole arrays are made of
    reading = _Reading(_Source(code, depth=2), empty, whole)
    values = []
    for prefix, structure in _prefixed(structures):
        _check_arrays(structure, empty | whole)
        values.append(_emit_read(structure, reading, prefix))
    src, leaves = reading.src, reading.leaves
    src.line("if pos != end:")
    src.line("    return None")
    if nested:
        returned = values
    elif picked is not None:
        local = dict(zip(leaves.names, leaves.locals, strict=True))
        returned = [local.get(name, "None") for name in picked]
    else:
        returned = leaves.locals
    src.line(f"return ({''.join(value + ', ' for value in returned)})")
    _import_runtime(code)
    code.append(_function(
        """
        def read_unrolled(buf):
            pos = 0
            end = len(buf)
            try:
                BODY
            except (c.ConstructError, struct.error, IndexError):
                return None
        """,
        src.lines,
    ))
    namespace: dict[str, Any] = {}
    exec(compile(code.toString(), "<unrolled reader>", "exec"), namespace)
    reader: UnrolledReader = namespace["read_unrolled"]
    reader.source = code.toString()  # type: ignore[attr-defined]
    return tuple(leaves.names), reader


def _emit_write(con: Any, src: _Source, leaves: _Leaves, empty: frozenset[str],
                null: frozenset[str], within: str | None = None) -> None:
    for fmtstr, run in _fields(con):
        if fmtstr is not None:
            values = ", ".join(leaves.add(sc.name, within) for sc in run)
            src.line(f"w({src.fixed(fmtstr)}.pack({values}))")
            continue
        field = run[0]
        element = _array_element(field)
        if element is None:
            _emit_build(field, src, leaves.add(field.name, within))
            continue
        array = _bare(field)
        if field.name in null and not array.nullable:
            raise ValueError(f"array {field.name!r} cannot be null")
        count = -1 if field.name in null else 0 if field.name in empty else 1
        prefix = (bytes((count + 1,)) if array.compact
                  else count.to_bytes(4, "big", signed=True))
        src.line(f"w({prefix!r})")
        if count != 1:
            continue
        if isinstance(_bare(element), c.Struct):
            _emit_write(element, src, leaves, empty, null, field.name)
        else:  # an array of plain values: its one value is the leaf
            _emit_build(element, src, leaves.add(field.name, within))


_WRITER_NAMES = frozenset({"parts", "w", "c", "struct", "exc"})  # the writer's own names


def compile_unrolled_writer(structures: Structures, empty: frozenset[str] = frozenset(),
                            null: frozenset[str] = frozenset()
                            ) -> tuple[tuple[str, ...], UnrolledWriter]:
    """(leaf names, writer) for ``structures`` written back to back, every array of one
    element except those named in ``empty``, written with none, and the nullable ones
    named in ``null``, written as null.

    The writer takes the leaves as keyword arguments and returns the bytes
    the general encoder writes for the same values. Like the general encoder
    given a dict with extra keys, it ignores keywords that are not its
    leaves, so one call can serve versions that carry fewer fields.
    """
    code = c.CodeGen()
    code.append("import struct\nimport construct as c")
    src = _Source(code, depth=2)
    leaves = _Leaves(src)
    for prefix, structure in _prefixed(structures):
        _check_arrays(structure, empty | null)
        _emit_write(structure, src, leaves, empty, null, prefix)
    _import_runtime(code)
    for name in leaves.names:
        if (not name.isidentifier() or name.startswith(("_", "fixed_"))
                or name in _WRITER_NAMES):
            raise ValueError(f"leaf {name!r} cannot be a keyword argument")
    keywords = "".join(f"{name}, " for name in ["*", *leaves.names]) if leaves.names else ""
    arguments = [f"{local} = {name}" for name, local in zip(leaves.names, leaves.locals,
                                                              strict=True)]
    code.append(_function(
        f"""
        def write_unrolled({keywords}**_unused):
            parts = []
            w = parts.append
            try:
                BODY
            except struct.error as exc:
                raise _unpackable(exc) from None
            return b''.join(parts)
        """,
        ["        " + line for line in arguments] + src.lines or ["        pass"],
    ))
    namespace: dict[str, Any] = {}
    exec(compile(code.toString(), "<unrolled writer>", "exec"), namespace)
    writer: UnrolledWriter = namespace["write_unrolled"]
    writer.source = code.toString()  # type: ignore[attr-defined]
    return tuple(leaves.names), writer


class ResponseReader:
    """Reads some leaves of ``api``'s responses that have one common shape, at any version.

    For each version, ``compile_unrolled_reader`` over the response header
    (its leaves named ``header_...``) and body, compiled when that version
    is first read, with ``whole`` arrays read whole and the ``picked``
    leaves returned. Calling it with a version and a payload gives those
    leaves' values in order (None for one the version lacks), or None where
    the payload has another shape or does not decode, or the version is not
    declared; the caller then decodes it with ``decode_response``, which
    reads every shape and says what is wrong with bad bytes.
    """

    def __init__(self, api: Api, picked: Sequence[str],
                 whole: frozenset[str] = frozenset()) -> None:
        self.api = api
        self.picked = tuple(picked)
        self.whole = whole
        self._readers: dict[int, UnrolledReader] = {}

    def __call__(self, version: int, payload: bytes | memoryview) -> tuple[Any, ...] | None:
        read = self._readers.get(version)
        if read is None:
            if version not in self.api.responses:
                return None
            header = RESPONSE_HEADERS[self.api.response_header_version(version)]
            _, read = compile_unrolled_reader([("header", header), self.api.responses[version]],
                                              whole=self.whole, picked=self.picked)
            self._readers[version] = read
        return read(payload)
