"""Hundreds of SIGKILLs under an acks=-1 producer: nothing acknowledged may be lost.

    python tools/crash_soak.py --kills 200            # 200 per fsync policy
    python tools/crash_soak.py --kills 50 --fsync always

Runs tests/crash/network_crash.py's test (the broker as a subprocess with
file storage, killed with SIGKILL at random moments and restarted) for each
fsync policy, and prints a JSON report per policy: kills, numbers sent,
acknowledged and stored, and the lost, misplaced, duplicated, out-of-order
and corrupt counts (all must be 0; exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.crash.network_crash import run_crash_test


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200, help="kills per fsync policy")
    parser.add_argument("--fsync", action="append", choices=["always", "default", "never", "1s"],
                        help="policy to test (repeatable; default: always and the default)")
    parser.add_argument("--max-delay", type=float, default=1.0,
                        help="longest run between kills, in seconds")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    failed = False
    for policy in args.fsync or ["always", "default"]:
        with tempfile.TemporaryDirectory(prefix="crash-soak-") as workdir:
            report = run_crash_test(
                Path(workdir), kills=args.kills, fsync=None if policy == "default" else policy,
                seed=seed, max_delay_s=args.max_delay,
                log=lambda line, policy=policy: print(f"  [{policy}] {line}", file=sys.stderr,
                                                      flush=True))
        summary = {"seed": seed, **report.summary()}
        print(json.dumps(summary), flush=True)
        failed |= not report.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
