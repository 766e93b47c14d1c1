"""Hex listings back to bytes: xxd -p, xxd, hexdump -C, and tcpdump captures of both directions."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikafka.debug.dump import Conversation
from minikafka.debug.hexinput import HexError, read_hex

from .tcpdump_listing import ACK, ETHERNET_IPV4, FIN, PSH, SYN, Segment, listing

DATA = Path(__file__).resolve().parent.parent / "data" / "debug"
KCAT_REQUESTS = (DATA / "kcat" / "conn2.requests.bin").read_bytes()
KCAT_RESPONSES = (DATA / "kcat" / "conn2.responses.bin").read_bytes()


@pytest.mark.parametrize("suffix", ["xxd-p", "xxd", "hexdump-C"])
def test_listings_made_by_real_tools_give_back_the_bytes(suffix: str) -> None:
    # Made with `xxd -p`, `xxd` and `hexdump -C` from kcat/conn2.requests.bin.
    text = (DATA / "hex" / f"kcat-conn2-requests.{suffix}").read_text()
    assert read_hex(text).stream == KCAT_REQUESTS


def test_repeated_rows_elided_with_a_star_are_restored() -> None:
    text = ("00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n"
            "*\n"
            "00000030  61 62                                             |ab|\n"
            "00000032\n")
    assert read_hex(text).stream == bytes(48) + b"ab"


def test_an_ascii_column_that_looks_like_hex_is_ignored() -> None:
    text = "00000000: 6361 6665 6265 6566                      cafebeef\n"
    assert read_hex(text).stream == b"cafebeef"


@pytest.mark.parametrize(("text", "message"), [
    ("00 01 0\n", "line 1: odd number of hex digits"),
    ("hello world\n", "line 1: neither hex nor a hex listing line: 'hello world'"),
    ("00000000: 0001 zz02  ..\n", "line 1: 'zz02' is not hex"),
    ("00000000: 0001\n00000010: 0203\n", "line 2: offset 0x10 does not follow the 0x2 bytes"),
])
def test_unreadable_listings_name_the_line(text: str, message: str) -> None:
    with pytest.raises(HexError, match=message):
        read_hex(text)


CLIENT = ("127.0.0.1", 50312)
BROKER = ("127.0.0.1", 9092)


def _conversation(client: tuple[str, int] = CLIENT,
                  broker: tuple[str, int] = BROKER) -> list[Segment]:
    cut = 50  # the first request is split across two segments
    client_seq, broker_seq = 1000, 5000
    return [
        Segment(client, broker, client_seq, SYN),
        Segment(broker, client, broker_seq, SYN | ACK),
        Segment(client, broker, client_seq + 1, PSH | ACK, KCAT_REQUESTS[:cut]),
        Segment(client, broker, client_seq + 1, PSH | ACK, KCAT_REQUESTS[:cut]),  # resent
        Segment(client, broker, client_seq + 1 + cut, PSH | ACK, KCAT_REQUESTS[cut:]),
        Segment(broker, client, broker_seq + 1, PSH | ACK, KCAT_RESPONSES),
        Segment(client, broker, client_seq + 1 + len(KCAT_REQUESTS), FIN | ACK),
    ]


@pytest.mark.parametrize(("ascii_column", "link"), [(True, b""), (False, b""),
                                                    (True, ETHERNET_IPV4)],
                         ids=["-X", "-x", "-XX"])
def test_tcpdump_listing_gives_both_directions_in_order(ascii_column: bool, link: bytes) -> None:
    source = read_hex(listing(_conversation(), ascii_column=ascii_column, link=link))
    assert source.stream is None and source.warnings == []
    assert source.segments is not None
    sent = b"".join(s.data for s in source.segments if s.from_client)
    received = b"".join(s.data for s in source.segments if not s.from_client)
    assert (sent, received) == (KCAT_REQUESTS, KCAT_RESPONSES)  # the resent segment dropped
    assert {s.connection for s in source.segments} == {"127.0.0.1:50312 -> 127.0.0.1:9092"}


def test_ipv6_capture_and_a_capture_that_misses_the_handshake() -> None:
    segments = _conversation(("::1", 50312), ("::1", 9092))[2:]  # no SYN: first speaker
    source = read_hex(listing(segments, ascii_column=False))
    assert source.segments is not None
    assert {s.connection for s in source.segments} == {"[::1]:50312 -> [::1]:9092"}
    conversation = Conversation()
    frames = []
    for segment in source.segments:
        feed = conversation.requests if segment.from_client else conversation.responses
        frames += feed(segment.data)
    assert all(frame.ok for frame in frames)
    assert [frame.kind for frame in frames].count("response") == 6  # the last Fetch: none


def test_missing_bytes_are_warned_about() -> None:
    segments = _conversation()
    del segments[4]  # the second half of the first request never made it into the capture
    segments[4:4] = [Segment(CLIENT, BROKER, 1001 + len(KCAT_REQUESTS), PSH | ACK, b"\0\0")]
    source = read_hex(listing(segments))
    assert any("bytes from 127.0.0.1:50312 missing from the capture" in warning
               for warning in source.warnings)
