from __future__ import annotations

import attrs
import pytest

from minikafka.server.broker import Broker
from minikafka.server.config import Config
from minikafka.storage.memory import MemoryBackend


@attrs.define
class FakeClock:
    """Milliseconds since the epoch, moved by hand."""

    now: int = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def broker(clock: FakeClock) -> Broker:
    return Broker(MemoryBackend(clock), Config(), clock)
