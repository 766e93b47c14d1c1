"""frame -> dump --json -> frame --json gives back the same bytes, for every declared (API, version).

Driven by the registry, so a newly declared API or version is covered the
moment it exists. Bodies come from ``tests.protocol.structures.sample``;
records fields hold undecodable sample bytes in one variant and real record
batches (plain and compressed) in another, and flexible versions carry
header tagged fields.
"""

from __future__ import annotations

import json
from typing import Any

import construct as c
import pytest

from minikafka.debug.build import encode_frame, frames_from_json
from minikafka.debug.dump import Conversation, Pairing
from minikafka.protocol import primitives as p
from minikafka.protocol.records import Record, build_batch
from minikafka.protocol.registry import APIS

from ..protocol.structures import plain, sample


def _cases() -> list[Any]:
    cases = []
    for api in APIS.values():
        for version in api.versions:
            for kind in ("request", "response"):
                for variant in ("sample", "nulls", "batches"):
                    cases.append(pytest.param(api, version, kind, variant,
                                              id=f"{api.name}-v{version}-{kind}-{variant}"))
    return cases


def _with_batches(structure: Any, value: Any, counter: list[int]) -> Any:
    """``value`` with every records field replaced by two real batches."""
    while isinstance(structure, (c.Renamed, c.Default)):
        structure = structure.subcon
    if isinstance(structure, c.Struct):
        return {sub.name: _with_batches(sub, value[sub.name], counter)
                for sub in structure.subcons if sub.name}
    if isinstance(structure, p._ArrayType) and value is not None:
        return [_with_batches(structure.subcon, item, counter) for item in value]
    if isinstance(structure, p._RecordsType):
        counter[0] += 1
        first = build_batch([Record(5, 1_700_000_000_000, b"key", b"value",
                                    (("h", b"\x00\x01"),)),
                             Record(6, 1_700_000_000_001, None, None)])
        second = build_batch([Record(7, 1_700_000_000_002, b"k", b"x" * 200)],
                             compression=1 + counter[0] % 4)
        return first + second
    return value


@pytest.mark.parametrize(("api", "version", "kind", "variant"), _cases())
def test_dump_json_rebuilds_the_same_frame(api: Any, version: int, kind: str,
                                           variant: str) -> None:
    structure = (api.requests if kind == "request" else api.responses)[version]
    body = sample(structure, seed=api.key + version, with_nulls=variant == "nulls")
    if variant == "batches":
        body = _with_batches(structure, body, [0])
    flexible = api.is_flexible(version) and not (kind == "response" and api.key == 18)
    tags = {0: b"\x01\x02", 5: b"tag"} if flexible else {}
    data = encode_frame(kind, api, version, 2_000_000_001, body, client_id="golden",
                        header_tagged_fields=tags)

    conversation = Conversation(Pairing(fixed=(api, version)))
    frames = (conversation.requests(data) if kind == "request"
              else conversation.responses(data)) + conversation.finish()
    assert len(frames) == 1
    (frame,) = frames
    assert frame.ok, frame.render()
    assert (frame.api, frame.api_version, frame.correlation_id) == (api, version, 2_000_000_001)

    if variant == "batches":
        # Every batch, compressed or not, is expanded into its records.
        items = list(_batch_items(frame.body))
        assert all("error" not in item for item in items)
        assert [len(item["records"]) for item in items] == [2, 1] * (len(items) // 2)

    printed = json.dumps(frame.to_json(), ensure_ascii=False)
    assert frames_from_json(printed) == [data]


def _batch_items(tree: Any) -> Any:
    if isinstance(tree, dict):
        if "records_count" in tree or "error" in tree:
            yield tree
            return
        for value in tree.values():
            yield from _batch_items(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _batch_items(value)


@pytest.mark.parametrize("api", list(APIS.values()), ids=lambda api: api.name)
def test_dumped_fields_are_the_decoded_fields(api: Any) -> None:
    # The JSON tree carries the same values construct decodes, field for field.
    version = max(api.requests)
    body = sample(api.requests[version], seed=3)
    data = encode_frame("request", api, version, 1, body)
    (frame,) = Conversation().requests(data)
    from minikafka.debug.tree import from_json

    assert plain(from_json(api.requests[version], frame.body)) == plain(body)
