"""The broker killed with SIGKILL under an acks=-1 producer: 12 times per fsync policy, 24 in all.

Everything acknowledged must be read back afterwards, with its number,
exactly once, in order (see network_crash). tools/crash_soak.py runs the
same test for hundreds of kills.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .network_crash import run_crash_test

KILLS = int(os.environ.get("MINIKAFKA_CRASH_KILLS", "12"))


@pytest.mark.parametrize("fsync", ["always", None], ids=["fsync-always", "fsync-default"])
def test_acknowledged_messages_survive_sigkill(tmp_path: Path, fsync: str | None) -> None:
    report = run_crash_test(tmp_path, kills=KILLS, fsync=fsync, seed=KILLS * 31 + len(str(fsync)),
                            max_delay_s=0.6)
    assert report.kills == KILLS
    assert report.acknowledged >= KILLS, report.summary()  # the producer got work done
    assert not report.lost, report.lost[:10]
    assert not report.misplaced, report.misplaced[:10]
    assert not report.duplicated, report.duplicated[:10]
    assert report.out_of_order == 0 and report.offset_gaps == 0, report.summary()
    assert not report.corrupt, report.corrupt[:5]
