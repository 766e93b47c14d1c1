"""Fuzzer settings: a short run in the normal suite, a long one on demand.

MINIKAFKA_FUZZ_EXAMPLES sets the examples per fuzz test (default 200, a
few seconds for the whole directory); raise it for a long local run, e.g.
``MINIKAFKA_FUZZ_EXAMPLES=20000 pytest tests/fuzz``.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("MINIKAFKA_FUZZ_EXAMPLES", "200"))

settings.register_profile(
    "fuzz",
    max_examples=EXAMPLES,
    # Any single input slower than this counts as a hang.
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
    print_blob=True,
)
FUZZ = settings.get_profile("fuzz")
