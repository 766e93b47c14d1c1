"""The pytest plugin MiniKafka registers (entry point ``pytest11``): a broker fixture.

``minikafka_broker`` starts a MiniKafka broker with in-memory storage on a
free loopback port for one test and yields its address, ``"127.0.0.1:PORT"``;
the broker stops when the test ends. It runs in a background thread, so
plain tests, trio tests and any Kafka client can use it::

    def test_orders_are_published(minikafka_broker):
        publish_orders(bootstrap_servers=minikafka_broker)
        ...
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from minikafka.testing import running_broker

__all__ = ["minikafka_broker"]


@pytest.fixture
def minikafka_broker() -> Iterator[str]:
    """The address of a fresh in-memory MiniKafka broker, for this test only."""
    with running_broker() as broker:
        yield broker.address
