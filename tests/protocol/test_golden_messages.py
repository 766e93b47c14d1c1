"""Golden tests: every declared (API, version) against kafka-python's independent codec.

One table of (api, version, kind, field values) drives both directions:
kafka-python encodes the values and ours must decode its bytes to the same
values; ours encodes them and must produce the same bytes, which kafka-python
must decode to the same values.
"""

from __future__ import annotations

from typing import Any

import pytest

from minikafka.protocol.registry import APIS

from .kafka_python_classes import kafka_python_class
from .structures import plain, sample


def _protocol_valid(api: Any, kind: str, fields: Any) -> Any:
    """Adjust a sample where the protocol ties a field's value to the layout."""
    if api.name == "ApiVersions" and kind == "response":
        # A non-zero error_code means the body is laid out as version 0, whatever
        # the version asked for (so clients can read UNSUPPORTED_VERSION).
        fields["error_code"] = 0
    return fields


def _cases() -> list[Any]:
    cases = []
    for api in APIS.values():
        for version in api.versions:
            for kind, table in (("request", api.requests), ("response", api.responses)):
                for with_nulls in (False, True):
                    cases.append(
                        pytest.param(
                            api,
                            version,
                            kind,
                            _protocol_valid(
                                api,
                                kind,
                                sample(table[version], seed=api.key + version, with_nulls=with_nulls),
                            ),
                            id=f"{api.name}-v{version}-{kind}{'-nulls' if with_nulls else ''}",
                        )
                    )
    return cases


def _theirs_to_plain(value: Any, ours: Any) -> Any:
    """kafka-python's decoded object, reduced to the fields our structure declares."""
    if isinstance(ours, dict):
        out = {}
        for name, our_value in ours.items():
            if name == "tagged_fields":
                continue
            if name in _BIT_FIELDS:
                out[name] = _from_bit_set(getattr(value, name))
                continue
            out[name] = _theirs_to_plain(getattr(value, name), our_value)
        return out
    if isinstance(ours, list):
        return [_theirs_to_plain(v, o) for v, o in zip(value, ours, strict=False)]
    if isinstance(ours, bytes) and value is not None and not isinstance(value, bytes):
        # kafka-python wraps record fields in a MemoryRecords-like object
        return bytes(value.buffer() if hasattr(value, "buffer") else value)
    return value


def _without_tags(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_tags(v) for k, v in value.items() if k != "tagged_fields"}
    if isinstance(value, list):
        return [_without_tags(v) for v in value]
    return value


@pytest.mark.parametrize(("api", "version", "kind", "fields"), _cases())
def test_matches_kafka_python(api: Any, version: int, kind: str, fields: Any) -> None:
    theirs_cls = kafka_python_class(api.key, kind)[version]
    ours = (api.requests if kind == "request" else api.responses)[version]
    compiled = api.request(version) if kind == "request" else api.response(version)

    their_bytes = theirs_cls(**_kp_kwargs(fields)).encode(version=version, header=False)
    our_bytes = ours.build(fields)
    assert our_bytes == their_bytes

    for parser in (ours, compiled):
        decoded = plain(parser.parse(their_bytes))
        assert _without_tags(decoded) == _without_tags(fields)

    their_decoded = theirs_cls.decode(our_bytes, version=version, header=False)
    assert _theirs_to_plain(their_decoded, fields) == _without_tags(fields)


def _kp_kwargs(fields: Any) -> Any:
    """Our value tree as kafka-python constructor arguments (nested dicts become kwargs)."""
    return {
        k: _to_bit_set(v) if k in _BIT_FIELDS else _kp_value(v)
        for k, v in fields.items()
        if k != "tagged_fields"
    }


# Kafka declares these as int32 bit fields; kafka-python presents them as the
# set of bit numbers, with None for "not provided" (only bit 31: -2**31).
_BIT_FIELDS = frozenset({"authorized_operations"})


def _to_bit_set(value: int) -> set[int] | None:
    bits = {bit for bit in range(32) if value & (1 << bit)}
    return None if bits == {31} else bits


def _from_bit_set(bits: set[int] | None) -> int:
    raw = sum(1 << bit for bit in ({31} if bits is None else bits))
    return raw - 2**32 if raw >= 2**31 else raw


def _kp_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_kp_value(v) for v in value]
    if isinstance(value, dict):
        return _KwargsStruct(_kp_kwargs(value))
    return value


class _KwargsStruct(dict):  # type: ignore[type-arg]
    """A nested structure handed to kafka-python: it reads fields as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None
