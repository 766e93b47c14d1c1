"""Walks declared construct structures to make values for them.

``sample(structure, seed)`` gives one deterministic, non-default value tree
(every nullable present, every array with two elements), for golden tests;
``strategy(structure)`` gives a hypothesis strategy over all valid trees,
for round-trip property tests.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import construct as c
from hypothesis import strategies as st

from minikafka.protocol import primitives as p

_INT_RANGES = {
    ">b": (-(2**7), 2**7 - 1),
    ">h": (-(2**15), 2**15 - 1),
    ">l": (-(2**31), 2**31 - 1),
    ">q": (-(2**63), 2**63 - 1),
    ">L": (0, 2**32 - 1),
}


def _unwrap(con: Any) -> Any:
    while isinstance(con, (c.Renamed, c.Default)):
        con = con.subcon
    return con


def _is_tagged(con: Any) -> bool:
    return isinstance(_unwrap(con), p._TaggedFieldsType)


def sample(structure: Any, seed: int = 1, with_nulls: bool = False) -> Any:
    counter = itertools.count(seed)

    def make(con: Any) -> Any:
        con = _unwrap(con)
        n = next(counter)
        if isinstance(con, c.Struct):
            return {sub.name: make(sub) for sub in con.subcons if sub.name}
        if isinstance(con, p._TaggedFieldsType):
            return {}
        if isinstance(con, p._ArrayType):
            if with_nulls and con.nullable:
                return None
            return [make(con.subcon), make(con.subcon)]
        if isinstance(con, p._StringType):
            if with_nulls and con.nullable:
                return None
            return f"s{n}-é"
        if isinstance(con, (p._BytesType, p._RecordsType)):
            if with_nulls and con.nullable:
                return None
            return bytes([n % 256, 0, 255]) * 3
        if isinstance(con, p._UUIDAdapter):
            return uuid.UUID(int=n * 0x1000100010001)
        if con is p.Boolean or (isinstance(con, c.FormatField) and con.fmtstr == ">?"):
            return n % 2 == 0
        if isinstance(con, c.FormatField):
            if con.fmtstr == ">d":
                return n + 0.5
            lo, hi = _INT_RANGES[con.fmtstr]
            return max(lo, min(hi, n * 7 - 3)) if lo < 0 else n * 7
        if con is p.VarInt or con is p.UnsignedVarInt:
            return n
        raise TypeError(f"no sample for {con!r}")

    return make(structure)


def strategy(structure: Any) -> st.SearchStrategy[Any]:
    con = _unwrap(structure)
    if isinstance(con, c.Struct):
        return st.fixed_dictionaries(
            {sub.name: strategy(sub) for sub in con.subcons if sub.name}
        )
    if isinstance(con, p._TaggedFieldsType):
        return st.dictionaries(st.integers(0, 300), st.binary(max_size=8), max_size=3)
    if isinstance(con, p._ArrayType):
        base = st.lists(strategy(con.subcon), max_size=3)
        return st.none() | base if con.nullable else base
    if isinstance(con, p._StringType):
        base = st.text(max_size=20)
        return st.none() | base if con.nullable else base
    if isinstance(con, (p._BytesType, p._RecordsType)):
        base = st.binary(max_size=40)
        return st.none() | base if con.nullable else base
    if isinstance(con, p._UUIDAdapter):
        return st.uuids()
    if con is p.Boolean:  # construct's Flag is not a FormatField
        return st.booleans()
    if isinstance(con, c.FormatField):
        if con.fmtstr == ">?":
            return st.booleans()
        if con.fmtstr == ">d":
            return st.floats(allow_nan=False)
        lo, hi = _INT_RANGES[con.fmtstr]
        return st.integers(lo, hi)
    if con is p.VarInt:
        return st.integers(-(2**63), 2**63 - 1)
    if con is p.UnsignedVarInt:
        return st.integers(0, 2**32)
    raise TypeError(f"no strategy for {con!r}")


def plain(value: Any) -> Any:
    """A construct Container tree as plain dicts and lists (memoryviews as bytes)."""
    if isinstance(value, dict):
        return {
            k: plain(v) for k, v in value.items() if not (isinstance(k, str) and k.startswith("_"))
        }
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, memoryview):
        return bytes(value)
    return value
