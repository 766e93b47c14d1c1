"""The description of one Kafka API: its key, name, and a structure per version.

Each module in ``minikafka.protocol.messages`` builds one ``Api``; the
registry collects them. An ``Api`` knows which of its versions are flexible
(KIP-482: compact types and tagged fields, request header v2, response header
v1) and which versions the broker serves and advertises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .primitives import compile_structure

__all__ = ["Api"]


@attrs.frozen
class Api:
    """One Kafka API, declared once.

    ``requests`` and ``responses`` map every declared version to its construct
    structure (the body, without the header). ``served`` is the range of
    versions the broker answers; ``flexible_from`` is the first flexible
    version, or ``None`` when no declared version is flexible.
    """

    key: int
    name: str
    requests: Mapping[int, Any]
    responses: Mapping[int, Any]
    served: range
    flexible_from: int | None = None
    # Versions advertised in ApiVersions but answered with UNSUPPORTED_VERSION
    # (Produce 0-2: old librdkafka only compresses when it sees version 0).
    advertised_min: int | None = None
    _compiled: dict[tuple[str, int], Any] = attrs.field(factory=dict, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if set(self.requests) != set(self.responses):
            raise ValueError(f"{self.name}: request and response versions differ")
        missing = set(self.served) - set(self.requests)
        if missing:
            raise ValueError(f"{self.name}: served versions {sorted(missing)} are not declared")

    @property
    def versions(self) -> range:
        """Every declared version, lowest to highest."""
        return range(min(self.requests), max(self.requests) + 1)

    def is_flexible(self, version: int) -> bool:
        return self.flexible_from is not None and version >= self.flexible_from

    def request_header_version(self, version: int) -> int:
        return 2 if self.is_flexible(version) else 1

    def response_header_version(self, version: int) -> int:
        # ApiVersions responses always use header v0, so that a client that
        # sent a version the broker does not know can still read the reply.
        if self.key == 18:
            return 0
        return 1 if self.is_flexible(version) else 0

    def request(self, version: int) -> Any:
        """The request structure for ``version``, compiled for parsing and building.

        KeyError if ``version`` is not declared. Compiled on first use, then kept.
        """
        return self._compile("request", version, self.requests)

    def response(self, version: int) -> Any:
        """The response structure for ``version``, compiled for parsing and building."""
        return self._compile("response", version, self.responses)

    def _compile(self, kind: str, version: int, table: Mapping[int, Any]) -> Any:
        key = (kind, version)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = compile_structure(table[version])
            self._compiled[key] = compiled
        return compiled

