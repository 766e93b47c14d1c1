"""Fixtures for the interoperability tests: a real broker process per module, fresh topics."""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Iterator

import pytest

from .daemon import Daemon

_topics = itertools.count(1)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One broker with file storage for the whole module, stopped with SIGTERM at the end."""
    root = tmp_path_factory.mktemp("broker") / "data"
    broker = Daemon(root, MINIKAFKA_LOG_LEVEL="info").start()
    yield broker
    if broker.process is not None:
        assert broker.stop() == 0, broker.log()
    log = broker.log()
    # Real clients speak the protocol correctly: nothing may have been refused or gone wrong.
    assert " WARNING " not in log and " ERROR " not in log and "Traceback" not in log, log


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses (the broker creates it on first metadata request)."""
    name = request.node.name.replace("[", "-").replace("]", "")
    cleaned = "".join(char if char.isalnum() or char in "-_." else "-" for char in name)
    return f"{cleaned[:60]}-{next(_topics)}-{uuid.uuid4().hex[:6]}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kcat: needs Debian's kcat on PATH")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if shutil.which("kcat") is None:
        skip = pytest.mark.skip(reason="kcat is not installed (.ci/run installs it)")
        for item in items:
            if "kcat" in item.keywords:
                item.add_marker(skip)
