"""The whole request path (decode, route, handle, encode) under mutated frames.

``respond`` may answer, send nothing (acks=0), or refuse the connection with
CloseConnection; any other exception is a handler that trusted a field it
should have checked. Time is trio's autojump clock, so a long poll or a
rebalance wait with a fuzzed timeout passes instantly, and a request that
would wait forever shows up as a failure instead of a stuck test.
"""

from __future__ import annotations

import random

import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from minikafka.server.broker import Broker, CloseConnection
from minikafka.server.config import Address, Config
from minikafka.server.dispatch import respond
from minikafka.storage.memory import MemoryBackend

from .conftest import FUZZ
from .corpus import all_seeds
from .mutate import mutate

SEEDS = all_seeds()
LOCAL = Address("127.0.0.1", 9092)
VIRTUAL_TIMEOUT_S = 3600  # longer than any wait a request can ask for is a hang


async def _respond_all(payloads: list[bytes]) -> None:
    broker = Broker(MemoryBackend(), Config(max_frame_bytes=1 << 20))
    broker.storage.create_topic("fuzz", 2)
    with trio.fail_after(VIRTUAL_TIMEOUT_S):
        for payload in payloads:
            try:
                await respond(payload, broker, local_address=LOCAL, peer="fuzz")
            except CloseConnection:
                pass


def _run(payloads: list[bytes]) -> None:
    trio.run(_respond_all, payloads, clock=trio.testing.MockClock(autojump_threshold=0))


def test_every_seed_is_answered_or_refused() -> None:
    _run(list(SEEDS))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(SEEDS) - 1), st.randoms(use_true_random=False)),
                min_size=1, max_size=8))
def test_mutated_requests_through_the_dispatcher(picks: list[tuple[int, random.Random]]) -> None:
    _run([mutate(SEEDS[index], rng, SEEDS) for index, rng in picks])
