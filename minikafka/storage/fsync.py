"""When the file backend forces appended data to disk: the MINIKAFKA_FSYNC setting.

``always``
    Every append is fsynced before it is acknowledged. Appends that overlap in
    time share one fsync (group commit). A power failure loses nothing that
    was acknowledged.
an interval such as ``1s`` or ``500ms`` (the default is ``1s``)
    A background thread fsyncs whatever was appended, once per interval. A
    power failure can lose up to about one interval of acknowledged messages.
``never``
    Appends are never fsynced; the operating system writes them back when it
    chooses (on Linux typically within 30 s). A power failure can lose
    everything not yet written back, up to the whole active segment.

Whatever the policy, an append is written to the operating system before it
returns, so killing the process (even with SIGKILL) loses nothing that was
acknowledged. And whatever the policy, a segment is fsynced once when it is
rolled, before crash recovery is allowed to trust it.
"""

from __future__ import annotations

import re
from typing import Literal

import attrs

__all__ = ["DEFAULT_FSYNC", "FsyncPolicy"]

_DURATION = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000}


@attrs.frozen
class FsyncPolicy:
    """``mode`` is "always", "interval" (every ``interval_ms``) or "never"."""

    mode: Literal["always", "interval", "never"]
    interval_ms: int | None = None

    def __attrs_post_init__(self) -> None:
        if (self.mode == "interval") != (self.interval_ms is not None):
            raise ValueError("an interval is given exactly when mode is 'interval'")
        if self.interval_ms is not None and self.interval_ms <= 0:
            raise ValueError(f"fsync interval must be positive, not {self.interval_ms} ms")

    @classmethod
    def always(cls) -> FsyncPolicy:
        return cls("always")

    @classmethod
    def never(cls) -> FsyncPolicy:
        return cls("never")

    @classmethod
    def every(cls, interval_ms: int) -> FsyncPolicy:
        return cls("interval", interval_ms)

    @classmethod
    def parse(cls, text: str) -> FsyncPolicy:
        """Read a MINIKAFKA_FSYNC value: "always", "never", or a duration like "1s", "500ms", "2m".

        Raises ValueError with a message that says what is accepted.
        """
        value = text.strip().lower()
        if value == "always":
            return cls.always()
        if value == "never":
            return cls.never()
        match = _DURATION.fullmatch(value)
        if match is None:
            raise ValueError(
                f"invalid fsync policy {text!r}: expected 'always', 'never' "
                "or an interval such as '1s', '500ms' or '2m'"
            )
        interval_ms = round(float(match["number"]) * _UNIT_MS[match["unit"]])
        if interval_ms <= 0:
            raise ValueError(
                f"invalid fsync policy {text!r}: the interval must be at least 1ms "
                "(use 'always' to fsync every append)"
            )
        return cls.every(interval_ms)

    def __str__(self) -> str:
        if self.interval_ms is None:
            return self.mode
        if self.interval_ms % 1000 == 0:
            return f"{self.interval_ms // 1000}s"
        return f"{self.interval_ms}ms"


DEFAULT_FSYNC = FsyncPolicy.every(1000)
