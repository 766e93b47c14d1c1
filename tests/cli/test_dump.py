"""``minikafka dump``: files, pairing options, hex input, damaged input and the exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from minikafka.cli import main

from ..debug.tcpdump_listing import ACK, PSH, SYN, Segment, listing

DATA = Path(__file__).resolve().parent.parent / "data" / "debug"
KCAT = DATA / "kcat"


def _dump(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["dump", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _titles(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


def test_a_requests_file(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _dump(capsys, str(KCAT / "conn1.requests.bin"))
    assert (status, err) == (0, "")
    assert _titles(out) == [
        '#1 request ApiVersions v3 correlation_id=1 client_id="golden-kcat" '
        "[40 bytes at byte 0]",
        '#2 request Metadata v4 correlation_id=2 client_id="golden-kcat" [39 bytes at byte 44]',
        '#3 request Produce v7 correlation_id=3 client_id="golden-kcat" [280 bytes at byte 87]',
    ]
    assert '  client_software_name: "librdkafka"' in out
    assert "compression=snappy crc=0x" in out and " ok" in out
    assert 'key "k1"  value "hello from kcat"  headers "trace"="abc"' in out


def test_responses_paired_by_correlation_id(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _dump(capsys, "--requests", str(KCAT / "conn2.requests.bin"),
                           str(KCAT / "conn2.responses.bin"))
    assert status == 0
    titles = _titles(out)
    assert titles[0].startswith("#1 response ApiVersions v3 correlation_id=1 (answers #1)")
    assert [title.split()[2] for title in titles] == [
        "ApiVersions", "Metadata", "Metadata", "ListOffsets", "Fetch", "Fetch"]
    assert 'value "hello from kcat"' in out  # the fetched records


def test_responses_of_a_named_api(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    responses = (KCAT / "conn1.responses.bin").read_bytes()
    first = tmp_path / "first.bin"
    first.write_bytes(responses[: 4 + int.from_bytes(responses[:4], "big")])
    status, out, _ = _dump(capsys, "--api", "ApiVersions:3", str(first))
    assert status == 0
    assert "  api_keys:" in out and "      max_version:" in out


def test_unpaired_responses_fail_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _dump(capsys, "--requests", str(KCAT / "conn1.requests.bin"),
                           str(KCAT / "conn2.responses.bin"))
    assert status == 1
    assert "(pass --requests FILE or --api NAME:VERSION)" in out


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _dump(capsys, "--json", str(KCAT / "conn1.requests.bin"))
    assert status == 0
    objects = [json.loads(line) for line in out.splitlines()]
    assert [(o["frame"], o["api"], o["api_version"]) for o in objects] == [
        (1, "ApiVersions", 3), (2, "Metadata", 4), (3, "Produce", 7)]
    assert objects[2]["body"]["topic_data"][0]["partition_data"][0]["records"][0][
        "compression"] == "snappy"


def test_a_truncated_file_shows_what_decoded(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    data = (KCAT / "conn1.requests.bin").read_bytes()
    cut = tmp_path / "cut.bin"
    # The Produce frame starts at byte 87; in its payload (from byte 91) the
    # records field's length is at byte 54 (header 21, transactional_id 2,
    # acks 2, timeout 4, topic count 4, "golden-kcat" 13, partition count 4,
    # index 4) and its 222-byte batch at byte 58. Keep 100 bytes of payload.
    cut.write_bytes(data[: 91 + 100])
    status, out, err = _dump(capsys, str(cut))
    assert (status, err) == (1, "")
    lines = out.splitlines()
    assert _titles(out)[-1].startswith("#3 request Produce v7 correlation_id=3")
    assert '    - name: "golden-kcat"' in lines
    assert lines[-2] == (
        "  !! stopped at byte 54 of the frame (byte 145 of the stream) in "
        "topic_data[0].partition_data[0].records: data ends early: needs 222 bytes, 42 left "
        "(the stream ends after 100 of the frame's 280 bytes)")


def test_garbage_is_reported_not_crashed_on(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\x00\x00\x05hello\xff\xff\xff\xffmore")
    status, out, _ = _dump(capsys, str(garbage))
    assert status == 1
    assert out.splitlines() == [
        "#1 request [5 bytes at byte 0]",
        "  !! stopped at byte 0 of the frame (byte 4 of the stream): 5 bytes is shorter than a "
        "request header (api key, version, correlation id: 8)",
        "",
        "#2 request [unusable size prefix at byte 9]",
        "  !! stopped at byte 9 of the stream: invalid frame size -1 (0xffffffff): 8 bytes from "
        "here on cannot be split into frames",
        "",
    ]


def test_hex_input_from_xxd(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _dump(capsys, "--hex", str(DATA / "hex" / "kcat-conn2-requests.xxd"))
    assert status == 0
    assert len(_titles(out)) == 6


def test_a_tcpdump_listing_shows_both_directions(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    client, broker = ("10.0.0.5", 40000), ("10.0.0.9", 9092)
    requests = (KCAT / "conn1.requests.bin").read_bytes()
    responses = (KCAT / "conn1.responses.bin").read_bytes()
    capture = tmp_path / "capture.txt"
    capture.write_text(listing([
        Segment(client, broker, 1, SYN),
        Segment(client, broker, 2, PSH | ACK, requests),
        Segment(broker, client, 100, PSH | ACK, responses),
    ]))
    status, out, _ = _dump(capsys, "--hex", str(capture))
    assert status == 0
    titles = _titles(out.replace("[10.0.0.5:40000 -> 10.0.0.9:9092] ", ""))
    assert [title.split()[1:3] for title in titles] == [
        ["request", "ApiVersions"], ["request", "Metadata"], ["request", "Produce"],
        ["response", "ApiVersions"], ["response", "Metadata"], ["response", "Produce"]]
    assert out.startswith("[10.0.0.5:40000 -> 10.0.0.9:9092] #1 request ApiVersions v3")


@pytest.mark.parametrize(("argv", "message"), [
    (["--api", "Metadata"], "--api needs NAME:VERSION, such as Metadata:8"),
    (["--api", "Nope:1"], "unknown API 'Nope'"),
    (["--api", "Metadata:99"], "Metadata v99 is not declared"),
    (["/nonexistent.bin"], "cannot read /nonexistent.bin: No such file or directory"),
    (["--proxy", "127.0.0.1:0"], "--proxy LISTEN_ADDR and --upstream HOST:PORT go together"),
    (["--proxy", "nonsense", "--upstream", "127.0.0.1:9092"], "'nonsense' is not HOST:PORT"),
])
def test_mistakes_are_one_line_errors(capsys: pytest.CaptureFixture[str], argv: list[str],
                                      message: str) -> None:
    status, out, err = _dump(capsys, *argv)
    assert status == 1 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("minikafka dump: ") and message in line


def test_not_hex_is_a_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "capture.txt"
    path.write_text("0000 0001\nthis is not hex\n")
    status, _, err = _dump(capsys, "--hex", str(path))
    assert status == 1
    assert err == (f"minikafka dump: {path}: line 2: neither hex nor a hex listing line: "
                   "'this is not hex'\n")


def test_random_bytes_never_crash_the_dumper(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    import random

    generator = random.Random(7)
    path = tmp_path / "random.bin"
    for size in (1, 3, 4, 9, 64, 500):
        for attempt in range(5):
            data = bytes(generator.randrange(256) for _ in range(size))
            if attempt % 2 and size >= 4:  # a plausible size prefix, so decoding gets going
                data = (len(data) - 4).to_bytes(4, "big") + data[4:]
            path.write_bytes(data)
            for extra in ([], ["--api", "Fetch:11"], ["--json"]):
                status, _, err = _dump(capsys, *extra, str(path))
                assert status in (0, 1) and err == ""


def test_a_pipe_of_garbage_exits_1_without_a_traceback() -> None:
    shown = subprocess.run([sys.executable, "-m", "minikafka", "dump"],
                           input=b"\x00\x00\x00\x08\x00\x03\x00", capture_output=True,
                           timeout=30)
    assert (shown.returncode, shown.stderr) == (1, b"")
    assert b"the stream ends after 3 of the frame's 8 bytes" in shown.stdout


def test_a_proxy_address_in_use_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, out, err = _dump(capsys, "--proxy", f"127.0.0.1:{port}", "--upstream",
                                 "127.0.0.1:9")
    assert (status, out) == (1, "")
    assert err == f"minikafka dump: cannot listen on 127.0.0.1:{port}: Address already in use\n"

