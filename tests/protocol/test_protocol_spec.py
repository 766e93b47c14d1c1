"""protocol_spec.md's API layouts are generated from the declarations and must match them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_TOOL = Path(__file__).resolve().parents[2] / "tools" / "gen_protocol_spec.py"


def test_spec_layouts_match_the_declarations() -> None:
    spec = importlib.util.spec_from_file_location("gen_protocol_spec", _TOOL)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    current = tool.SPEC.read_text()
    assert tool.render(current) == current, (
        "protocol_spec.md is out of date: run .venv/bin/python tools/gen_protocol_spec.py"
    )


def test_worked_example_bytes_are_a_valid_batch() -> None:
    from minikafka.protocol.batch_header import check_batch

    example = bytes.fromhex(
        "00000000000000010000004200000000025393d5ad0000000000000000018bcfe568000000018bcfe568"
        "00ffffffffffffffffffffffffffff0000000120000000026b0a68656c6c6f0202680231"
    )
    header = check_batch(example)
    assert (header.base_offset, header.records_count, header.size) == (1, 1, len(example))
