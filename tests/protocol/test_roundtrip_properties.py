"""Property tests: decode(encode(x)) == x for every declared structure."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikafka.protocol.headers import REQUEST_HEADERS, RESPONSE_HEADERS
from minikafka.protocol.registry import APIS

from .structures import plain, strategy


def _structures() -> list[Any]:
    out = []
    for api in APIS.values():
        for version in api.versions:
            out.append(pytest.param(api.requests[version], id=f"{api.name}-v{version}-request"))
            out.append(pytest.param(api.responses[version], id=f"{api.name}-v{version}-response"))
    for version, header in REQUEST_HEADERS.items():
        out.append(pytest.param(header, id=f"RequestHeader-v{version}"))
    for version, header in RESPONSE_HEADERS.items():
        out.append(pytest.param(header, id=f"ResponseHeader-v{version}"))
    return out


@pytest.mark.parametrize("structure", _structures())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_decode_inverts_encode(structure: Any, data: st.DataObject) -> None:
    value = data.draw(strategy(structure))
    encoded = structure.build(value)
    assert plain(structure.parse(encoded)) == value
    assert plain(structure.compile().parse(encoded)) == value
