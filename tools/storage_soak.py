"""Kill a process appending to the file backend again and again; check each recovery.

The long version of tests/storage/test_file_crash.py's SIGKILL test (see
tests/storage/crash_harness.py for what is checked after every kill)::

    python tools/storage_soak.py --trials 2000 [--seed N] [--segment-bytes B] [--keep DIR]

Exits with status 1 and the failed check on the first violation.
"""

from __future__ import annotations

import argparse
import collections
import logging
import sys
import tempfile
import time
from pathlib import Path

# The harness lives with the tests; run from anywhere, import it from the repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.storage.crash_harness import CrashRun


class _Recoveries(logging.Handler):
    """Counts the recovery warnings (torn tails cut) and echoes them when asked."""

    def __init__(self, echo: bool) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.echo = echo

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if self.echo:
            print(f"    {record.getMessage()}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--segment-bytes", type=int, default=65_536)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument("--verbose", action="store_true", help="print every recovery warning")
    options = parser.parse_args()
    recoveries = _Recoveries(options.verbose)
    logging.getLogger("minikafka.storage").addHandler(recoveries)
    logging.getLogger("minikafka.storage").propagate = False

    with tempfile.TemporaryDirectory(prefix="minikafka-soak-") as temporary:
        workdir = options.keep or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"seed {options.seed}, {options.trials} trials in {workdir}")
        started = time.monotonic()
        policies: collections.Counter[str] = collections.Counter()
        acknowledged = while_opening = 0
        try:
            with CrashRun(workdir, options.seed, options.segment_bytes) as run:
                for number in range(1, options.trials + 1):
                    result = run.trial()
                    policies[result.policy] += 1
                    acknowledged += result.acknowledged
                    while_opening += result.killed_while_opening
                    if number % 100 == 0 or number == options.trials:
                        print(f"{number:6d} kills, {acknowledged} appends acknowledged, "
                              f"high watermarks {result.high_watermarks}, "
                              f"log starts {result.log_starts}", flush=True)
        except AssertionError as failure:
            print(f"FAILED after {number - 1} good trials (seed {options.seed}): {failure}")
            return 1
        elapsed = time.monotonic() - started
        print(f"ok: {options.trials} kills ({while_opening} while opening; "
              f"{dict(policies)}) in {elapsed:.1f} s; {recoveries.count} recoveries cut a "
              "torn tail; every acknowledged batch survived")
    return 0


if __name__ == "__main__":
    sys.exit(main())
