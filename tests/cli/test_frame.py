"""``minikafka frame``: request frames from options or JSON, exactly as ``dump`` reads them back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from minikafka.cli import main
from minikafka.debug.dump import Conversation, DecodedFrame
from minikafka.protocol.registry import api_by_name

DATA = Path(__file__).resolve().parent.parent / "data" / "debug"


def _frame(capsysbinary: pytest.CaptureFixture[bytes], *argv: str) -> bytes:
    assert main(["frame", *argv]) == 0
    out: bytes = capsysbinary.readouterr().out
    return out


def _decoded(data: bytes) -> DecodedFrame:
    conversation = Conversation()
    frames = conversation.requests(data) + conversation.finish()
    assert len(frames) == 1
    assert frames[0].ok, frames[0].render()
    return frames[0]


def _versions(name: str) -> list[Any]:
    return [pytest.param(version, id=f"v{version}") for version in api_by_name(name).requests]


@pytest.mark.parametrize("version", _versions("ApiVersions"))
def test_api_versions(capsysbinary: pytest.CaptureFixture[bytes], version: int) -> None:
    frame = _decoded(_frame(capsysbinary, "ApiVersions", "--version", str(version)))
    assert (frame.api.name, frame.api_version, frame.correlation_id, frame.client_id) == (
        "ApiVersions", version, 1, "minikafka")
    if version >= 3:
        assert frame.body["client_software_name"] == "minikafka"


@pytest.mark.parametrize("version", _versions("Metadata"))
def test_metadata(capsysbinary: pytest.CaptureFixture[bytes], version: int) -> None:
    frame = _decoded(_frame(capsysbinary, "metadata", "--version", str(version), "--topic", "a",
                            "--topic", "b", "--correlation-id", "9", "--client-id", "me"))
    assert (frame.correlation_id, frame.client_id) == (9, "me")
    assert [topic["name"] for topic in frame.body["topics"]] == ["a", "b"]
    every = _decoded(_frame(capsysbinary, "Metadata", "--version", str(version)))
    assert every.body["topics"] is None  # null asks for every topic


@pytest.mark.parametrize("version", _versions("Produce"))
def test_produce_builds_a_real_batch(capsysbinary: pytest.CaptureFixture[bytes],
                                     version: int) -> None:
    frame = _decoded(_frame(capsysbinary, "Produce", "--version", str(version), "--topic", "t",
                            "--partition", "2", "--key", "k", "--value", "one", "--value",
                            "two", "--acks", "1", "--timestamp", "1700000000000"))
    assert frame.body["acks"] == 1
    assert frame.body.get("transactional_id") is None  # declared from v3
    (topic,) = frame.body["topic_data"]
    (partition,) = topic["partition_data"]
    assert (topic["name"], partition["index"]) == ("t", 2)
    (batch,) = partition["records"]
    assert batch["crc_ok"] is True
    assert [(r["offset"], r["timestamp"], r["key"], r["value"]) for r in batch["records"]] == [
        (0, 1_700_000_000_000, "k", "one"), (1, 1_700_000_000_000, "k", "two")]


@pytest.mark.parametrize("version", _versions("Fetch"))
def test_fetch(capsysbinary: pytest.CaptureFixture[bytes], version: int) -> None:
    frame = _decoded(_frame(capsysbinary, "Fetch", "--version", str(version), "--topic", "t",
                            "--offset", "42", "--max-wait-ms", "10"))
    assert (frame.body["replica_id"], frame.body["max_wait_ms"]) == (-1, 10)
    (partition,) = frame.body["topics"][0]["partitions"]
    assert (partition["partition"], partition["fetch_offset"]) == (0, 42)


@pytest.mark.parametrize("version", _versions("ListOffsets"))
def test_list_offsets(capsysbinary: pytest.CaptureFixture[bytes], version: int) -> None:
    frame = _decoded(_frame(capsysbinary, "ListOffsets", "--version", str(version), "--topic",
                            "t", "--timestamp", "-2"))
    (partition,) = frame.body["topics"][0]["partitions"]
    assert (partition["partition_index"], partition["timestamp"]) == (0, -2)


def test_the_default_version_is_the_highest_the_broker_serves(
        capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    produce = api_by_name("Produce")
    frame = _decoded(_frame(capsysbinary, "Produce", "--topic", "t", "--value", "v"))
    assert frame.api_version == max(produce.served)


def test_template_filled_in_is_accepted_by_json(capsysbinary: pytest.CaptureFixture[bytes],
                                                tmp_path: Path) -> None:
    template = json.loads(_frame(capsysbinary, "JoinGroup", "--version", "5", "--template"))
    assert template["api"] == "JoinGroup" and template["body"]["group_id"] == ""
    template["body"].update(group_id="g", protocol_type="consumer", session_timeout_ms=10000)
    template["body"]["protocols"] = [{"name": "range", "metadata": {"hex": "0001"}}]
    path = tmp_path / "join.json"
    path.write_text(json.dumps(template))
    frame = _decoded(_frame(capsysbinary, "--json", str(path)))
    assert frame.body["protocols"] == [{"name": "range", "metadata": {"hex": "0001"}}]
    assert frame.body["group_id"] == "g"


def test_json_from_dump_rebuilds_a_captured_stream(capsysbinary: pytest.CaptureFixture[bytes],
                                                   tmp_path: Path) -> None:
    captured = (DATA / "confluent-kafka" / "conn2.requests.bin").read_bytes()
    source = tmp_path / "requests.bin"
    source.write_bytes(captured)
    assert main(["dump", "--json", str(source)]) == 0
    dumped = tmp_path / "dump.jsonl"
    dumped.write_bytes(capsysbinary.readouterr().out)
    assert _frame(capsysbinary, "--json", str(dumped)) == captured


def test_hex_output_reads_back_with_dump_hex(capsysbinary: pytest.CaptureFixture[bytes],
                                             tmp_path: Path) -> None:
    raw = _frame(capsysbinary, "Metadata", "--topic", "t")
    text = _frame(capsysbinary, "Metadata", "--topic", "t", "--hex")
    assert bytes.fromhex(text.decode().replace("\n", "")) == raw
    assert all(len(line) <= 60 for line in text.decode().splitlines())


@pytest.mark.parametrize(("argv", "message"), [
    (["Nope"], "unknown API 'Nope'; declared: Produce, Fetch"),
    (["Metadata", "--version", "99"], "Metadata v99 is not declared"),
    (["Produce", "--topic", "t"], "Produce needs at least one --value"),
    (["Fetch"], "Fetch needs exactly one --topic"),
    (["Fetch", "--topic", "t"], "Fetch needs --offset"),
    (["JoinGroup"], "for JoinGroup write JSON (see --template) and use --json"),
    ([], "name an API"),
    (["Metadata", "--json", "x.json"], "--json takes the API and fields from the file"),
    (["--json", "/nonexistent/x.json"], "cannot read /nonexistent/x.json"),
])
def test_mistakes_are_one_line_errors(capsys: pytest.CaptureFixture[str], argv: list[str],
                                      message: str) -> None:
    assert main(["frame", *argv]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("minikafka frame: ") and message in line


@pytest.mark.parametrize(("document", "message"), [
    ("{", "not JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
    ("[]", "JSON object 1: expected an object"),
    ('{"api": "Metadata", "api_version": 8, "body": {}}', "JSON object 1: topics: missing"),
    ('{"api": "Metadata", "api_version": 8, "error": {"reason": "cut"}, "body": {}}',
     "JSON object 1: this frame did not decode (cut)"),
    ('{"api": "Metadata", "api_version": 8, "colour": 1, "body": {}}', "unknown key 'colour'"),
    ('{"api": "Metadata", "api_key": 1, "api_version": 8, "body": {}}',
     "api Metadata has key 3, not 1"),
    ('{"type": "request", "api": "ApiVersions", "api_version": 3, "body": '
     '{"client_software_name": 7, "client_software_version": "1"}}',
     "client_software_name: expected a string, got 7"),
])
def test_bad_json_is_a_one_line_error(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                      document: str, message: str) -> None:
    path = tmp_path / "frame.json"
    path.write_text(document)
    assert main(["frame", "--json", str(path)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert message in line


def test_pipes_into_dump_as_a_user_runs_it() -> None:
    command = [sys.executable, "-m", "minikafka"]
    built = subprocess.run([*command, "frame", "Produce", "--topic", "t", "--value", "hi"],
                           capture_output=True, check=True, timeout=30)
    shown = subprocess.run([*command, "dump"], input=built.stdout, capture_output=True,
                           timeout=30)
    assert shown.returncode == 0 and shown.stderr == b""
    assert b'key null  value "hi"' in shown.stdout
