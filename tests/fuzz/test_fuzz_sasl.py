"""The SASL session before authentication, under mutated and random frames.

``SaslSession.receive`` may answer (a SaslStep) or refuse the connection
(CloseConnection), nothing else; the PLAIN and SCRAM exchanges may only
fail with AuthenticationFailed, whatever tokens arrive, and never let a
client in without the password.
"""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from minikafka.protocol.codec import encode_request
from minikafka.protocol.messages.sasl_authenticate import SASL_AUTHENTICATE
from minikafka.protocol.messages.sasl_handshake import SASL_HANDSHAKE
from minikafka.server.auth.credentials import parse_users
from minikafka.server.auth.sasl import Authenticator, SaslSession
from minikafka.server.auth.scram import AuthenticationFailed, start_exchange
from minikafka.server.broker import CloseConnection

from .conftest import FUZZ
from .mutate import mutate

USERS = parse_users(["alice:plain:secret-password"])
SEEDS = [
    encode_request(SASL_HANDSHAKE, 1, 1, {"mechanism": "SCRAM-SHA-256"}),
    encode_request(SASL_HANDSHAKE, 0, 1, {"mechanism": "PLAIN"}),
    encode_request(SASL_AUTHENTICATE, 1, 2, {"auth_bytes": b"n,,n=alice,r=abcdefgh"}),
    encode_request(SASL_AUTHENTICATE, 0, 2, {"auth_bytes": b"\0alice\0secret-password"}),
    encode_request(SASL_AUTHENTICATE, 1, 3, {"auth_bytes": b"c=biws,r=abcdefghXYZ,p=AAAA"}),
]
TOKENS = [b"n,,n=alice,r=abcdefgh", b"c=biws,r=abcdefgh,p=AAAA", b"\0alice\0wrong",
          b"y,a=alice,n=alice,r=x,m=ext", b"n,,n=al=2Cice,r=\x01"]


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(SEEDS) - 1), st.randoms(use_true_random=False)),
                min_size=1, max_size=6))
def test_session_answers_or_closes(picks: list[tuple[int, random.Random]]) -> None:
    session = SaslSession(Authenticator(USERS), "fuzz")
    for index, rng in picks:
        try:
            step = session.receive(mutate(SEEDS[index], rng, SEEDS))
        except CloseConnection:
            return
        if step.close:
            return
    assert session.authenticated_as in (None, "alice")


@FUZZ
@given(st.sampled_from(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]),
       st.lists(st.integers(0, len(TOKENS) - 1) | st.just(-1), min_size=1, max_size=3),
       st.randoms(use_true_random=False), st.binary(max_size=80))
def test_exchanges_fail_only_with_authentication_failed(mechanism: str, picks: list[int],
                                                        rng: random.Random, noise: bytes) -> None:
    exchange = start_exchange(mechanism, USERS)
    for pick in picks:
        token = noise if pick < 0 else mutate(TOKENS[pick], rng)
        try:
            _, done = exchange.step(token)
        except AuthenticationFailed:
            return
        assert not done, "a client got in without the password"
