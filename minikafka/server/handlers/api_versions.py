"""ApiVersions: which APIs, in which versions, this broker serves.

Only APIs with a handler are listed (the protocol registry declares more,
for the frame dumper and for later features). A request in a version above
those served is answered in version 0's format with UNSUPPORTED_VERSION and
the same list, as Kafka does, so that any client can read the reply and
retry with a version both sides know.
"""

from __future__ import annotations

from typing import Any

from minikafka.protocol import errors
from minikafka.protocol.api import Api

from ..broker import RequestContext

__all__ = ["api_versions_body", "handle_api_versions", "unsupported_version_body"]


def _advertised(apis: list[Api]) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = []
    for api in sorted(apis, key=lambda api: api.key):
        low = api.served.start if api.advertised_min is None else api.advertised_min
        keys.append({"api_key": api.key, "min_version": low, "max_version": api.served.stop - 1,
                     "tagged_fields": {}})
    return keys


def api_versions_body(apis: list[Api], error_code: int = 0) -> dict[str, Any]:
    """An ApiVersions response body (any version) advertising ``apis``."""
    return {"error_code": error_code, "api_keys": _advertised(apis), "throttle_time_ms": 0,
            "tagged_fields": {}}


def unsupported_version_body(apis: list[Api]) -> dict[str, Any]:
    """The version-0 reply to an ApiVersions request in a version this broker does not know."""
    return api_versions_body(apis, errors.UnsupportedVersionError.code)


def handle_api_versions(request: Any, ctx: RequestContext) -> dict[str, Any]:
    # Imported here: the handler table imports this module.
    from . import served_apis

    return api_versions_body(served_apis())
