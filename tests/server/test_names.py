"""Topic and group names, wherever they arrive, never reach outside the data directory.

Every request version the broker serves is sent with each hostile name in
every topic-name field (built from the declared structures, so a new API is
covered the day it is served); afterwards the data directory holds nothing
new and nothing was created beside it. Creating requests answer
INVALID_TOPIC_EXCEPTION. The CLI refuses the same names before connecting.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from minikafka.protocol import errors
from minikafka.protocol.codec import decode_response, encode_request
from minikafka.protocol.messages.metadata import METADATA
from minikafka.server.broker import Broker, CloseConnection
from minikafka.server.config import Config
from minikafka.server.dispatch import respond
from minikafka.storage.file import FileBackend

from ..fuzz.corpus import served_versions, with_batches
from ..protocol.structures import sample
from .helpers import LOCAL

HOSTILE = ["../escape", "..", ".", "a/b", "/etc", "x" * 250, "nul\0byte", "~lock", "sp ace",
           "ünïcode"]
_NAME_FIELDS = {"name", "topic", "topic_name"}


def _replace_names(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return {key: (name if key in _NAME_FIELDS and isinstance(item, str)
                      else _replace_names(item, name)) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_names(item, name) for item in value]
    return value


def _entries(root: Path) -> set[str]:
    """The names in ``root`` (partition directories, topic files), without the markers."""
    return {path.name for path in root.iterdir()} - {"~clean-shutdown", "~lock"}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_topic_names_create_nothing(tmp_path: Path, name: str) -> None:
    root = tmp_path / "data"
    storage = FileBackend(root, fsync="never")
    storage.create_topic("existing", 1)
    before_root, before_parent = _entries(root), {path.name for path in tmp_path.iterdir()}
    broker = Broker(storage, Config())

    async def send_all() -> None:
        for api, version in served_versions():
            if version not in api.served:
                continue
            structure = api.requests[version]
            body = _replace_names(with_batches(structure, sample(structure, seed=3)), name)
            payload = encode_request(api, version, 5, body)
            try:
                await respond(payload, broker, local_address=LOCAL, peer="names")
            except CloseConnection:
                pass

    trio.run(send_all, clock=trio.testing.MockClock(autojump_threshold=0))
    storage.close()
    assert _entries(root) == before_root
    assert {path.name for path in tmp_path.iterdir()} == before_parent
    reopened = FileBackend(root, fsync="never")
    assert set(reopened.topics()) == {"existing"}
    reopened.close()


@pytest.mark.parametrize("name", HOSTILE)
async def test_auto_creation_answers_invalid_topic(tmp_path: Path, name: str) -> None:
    storage = FileBackend(tmp_path / "data", fsync="never")
    broker = Broker(storage, Config())
    body = {"topics": [{"name": name}], "allow_auto_topic_creation": True,
            "include_cluster_authorized_operations": False,
            "include_topic_authorized_operations": False}
    response = await respond(encode_request(METADATA, 8, 1, body), broker, local_address=LOCAL)
    assert response is not None
    _, decoded = decode_response(METADATA, 8, response)
    assert decoded.topics[0].error_code == errors.InvalidTopicException.code
    storage.close()


@pytest.mark.parametrize(("arguments", "message"), [
    (["produce", "-t", "../x"], "invalid topic name '../x'"),
    (["consume", "-t", ".."], "invalid topic name '..'"),
    (["topics", "create", "a/b"], "invalid topic name 'a/b'"),
    (["topics", "delete", "ok", "/etc"], "invalid topic name '/etc'"),
    (["groups", "describe", "bad\tgroup"], "contains control characters"),
])
def test_cli_refuses_bad_names_before_connecting(arguments: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "minikafka", *arguments],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    assert message in result.stderr
