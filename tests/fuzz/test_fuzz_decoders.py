"""Every request decoder under mutated real frames and plain noise.

``decode_request`` may only fail with the protocol's own errors
(RemoteProtocolError: DecodeError, UnknownApi, UnsupportedVersion), never
with anything else, and never slowly (the hypothesis deadline turns a hang
into a failure). Seeds are the requests real clients sent (tests/data) and
one encoded request per declared (API, version).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minikafka.protocol.codec import UnsupportedVersion, decode_request, peek_request_header
from minikafka.protocol.errors import RemoteProtocolError

from .conftest import FUZZ
from .corpus import all_seeds, captured_requests, encoded_requests
from .mutate import mutate, random_bytes

SEEDS = all_seeds()


def _decode(payload: bytes) -> None:
    try:
        decode_request(payload)
    except RemoteProtocolError:
        pass


def test_seeds_decode() -> None:
    """The fuzzers start from valid frames: every seed decodes as what it says it is.

    Clients open with ApiVersions at the newest version they know, which may
    be newer than any declared; the broker answers those from the fixed header.
    """
    assert len(captured_requests()) >= 40
    for payload in SEEDS:
        try:
            header, _ = decode_request(payload)
        except UnsupportedVersion as exc:
            assert exc.api.name == "ApiVersions"
            continue
        assert header.api_key == peek_request_header(payload).api_key


@pytest.mark.parametrize(("api", "version", "payload"),
                         [pytest.param(*case, id=f"{case[0].name}-v{case[1]}")
                          for case in encoded_requests()])
def test_every_truncation_of_every_version_is_a_protocol_error(api: object, version: int,
                                                                payload: bytes) -> None:
    """Cut short anywhere, no version's decoder accepts the frame or fails untyped."""
    for end in range(len(payload)):
        with pytest.raises(RemoteProtocolError):
            decode_request(payload[:end])


@FUZZ
@given(st.integers(0, len(SEEDS) - 1), st.randoms(use_true_random=False))
def test_mutated_real_frames(index: int, rng: random.Random) -> None:
    _decode(mutate(SEEDS[index], rng, SEEDS))


@FUZZ
@given(st.randoms(use_true_random=False))
def test_random_bytes(rng: random.Random) -> None:
    _decode(random_bytes(rng))


@FUZZ
@given(st.integers(0, len(SEEDS) - 1), st.binary(max_size=64), st.integers(0, 4096))
def test_hypothesis_spliced_bytes(index: int, inserted: bytes, at: int) -> None:
    seed = SEEDS[index]
    at %= len(seed) + 1
    _decode(seed[:at] + inserted + seed[at + len(inserted):])
