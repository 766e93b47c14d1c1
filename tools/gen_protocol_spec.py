"""Regenerates the per-API layout section of protocol_spec.md from the declarations.

The layouts in the spec are printed from ``minikafka.protocol``'s construct
structures themselves, so the document cannot drift from the code:
``tests/protocol/test_protocol_spec.py`` fails when this script would change
the file. Run ``python tools/gen_protocol_spec.py`` after changing a declaration.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import construct as c

from minikafka.protocol import primitives as p
from minikafka.protocol.api import Api
from minikafka.protocol.registry import APIS

SPEC = Path(__file__).resolve().parent.parent / "protocol_spec.md"
BEGIN = "<!-- BEGIN GENERATED API LAYOUTS: tools/gen_protocol_spec.py -->"
END = "<!-- END GENERATED API LAYOUTS -->"

_FORMATS = {">b": "INT8", ">h": "INT16", ">l": "INT32", ">q": "INT64", ">L": "UINT32",
            ">d": "FLOAT64", ">?": "BOOLEAN"}


def _unwrap(con: Any) -> Any:
    while isinstance(con, (c.Renamed, c.Default)):
        con = con.subcon
    return con


def _type_name(con: Any) -> str:
    con = _unwrap(con)
    if isinstance(con, p._TaggedFieldsType):
        return "TAG_BUFFER"
    if isinstance(con, p._ArrayType):
        return type(con).__name__
    if isinstance(con, p._Sized):
        return {
            "String": "STRING", "NullableString": "NULLABLE_STRING",
            "CompactString": "COMPACT_STRING", "CompactNullableString": "COMPACT_NULLABLE_STRING",
            "Bytes": "BYTES", "NullableBytes": "NULLABLE_BYTES", "CompactBytes": "COMPACT_BYTES",
            "CompactNullableBytes": "COMPACT_NULLABLE_BYTES", "Records": "RECORDS",
            "CompactRecords": "COMPACT_RECORDS",
        }[type(con).__name__]
    if isinstance(con, p._UUIDAdapter):
        return "UUID"
    if con is p.Boolean:
        return "BOOLEAN"
    if con is p.VarInt:
        return "VARINT"
    if con is p.UnsignedVarInt:
        return "UNSIGNED_VARINT"
    if isinstance(con, c.FormatField):
        return _FORMATS[con.fmtstr]
    raise TypeError(f"no spec name for {con!r}")


def _layout(title: str, structure: Any) -> list[str]:
    """Kafka protocol-guide style: ``Name => a b [c]`` then one line per field."""
    lines: list[str] = []

    def describe(name: str, con: Any, indent: int) -> None:
        con = _unwrap(con)
        if isinstance(con, c.Struct):
            names = []
            for sub in con.subcons:
                inner = _unwrap(sub)
                is_array = isinstance(inner, p._ArrayType)
                names.append(f"[{sub.name}]" if is_array else sub.name)
            lines.append(f"{'  ' * indent}{name} => {' '.join(names)}".rstrip())
            for sub in con.subcons:
                describe(sub.name, sub, indent + 1)
        elif isinstance(con, p._ArrayType):
            element = _unwrap(con.subcon)
            if isinstance(element, c.Struct):
                lines.append(f"{'  ' * indent}{name}: {type(con).__name__.upper()} of:")
                describe(name, element, indent + 1)
            else:
                lines.append(f"{'  ' * indent}{name} => {type(con).__name__.upper()}"
                             f"({_type_name(element)})")
        else:
            lines.append(f"{'  ' * indent}{name} => {_type_name(con)}")

    describe(title, structure, 0)
    return lines


def _api_section(api: Api) -> list[str]:
    served = f"{api.served.start}-{api.served.stop - 1}" if len(api.served) else "none"
    declared = f"{api.versions.start}-{api.versions.stop - 1}"
    out = [f"### {api.name} (api key {api.key})", ""]
    out.append(f"Declared versions {declared}; served {served}"
               + (f"; advertised from {api.advertised_min}" if api.advertised_min is not None else "")
               + (f"; flexible from {api.flexible_from}" if api.flexible_from is not None else "")
               + ".")
    out.append("")
    for kind, table in (("Request", api.requests), ("Response", api.responses)):
        # Group consecutive versions that share one structure (a version bump
        # that changed nothing on the wire reuses the previous declaration).
        runs: list[list[int]] = []
        for version in api.versions:
            if runs and table[version] is table[runs[-1][0]]:
                runs[-1].append(version)
            else:
                runs.append([version])
        for run in runs:
            label = f"Version: {run[0]}" if len(run) == 1 else f"Versions: {run[0]}-{run[-1]}"
            out.append("```")
            out.extend(_layout(f"{api.name} {kind} ({label})", table[run[0]]))
            out.append("```")
            out.append("")
    return out


def generated_section() -> str:
    lines = [BEGIN, ""]
    for api in APIS.values():
        lines.extend(_api_section(api))
    lines.append(END)
    return "\n".join(lines)


def render(current: str) -> str:
    start = current.index(BEGIN)
    end = current.index(END) + len(END)
    return current[:start] + generated_section() + current[end:]


def main() -> int:
    current = SPEC.read_text()
    updated = render(current)
    if "--check" in sys.argv:
        if updated != current:
            print("protocol_spec.md is out of date: run python tools/gen_protocol_spec.py")
            return 1
        return 0
    SPEC.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
