"""FindCoordinator: which broker coordinates a consumer group (this one, always).

Clients ask for it even when they only assign partitions themselves
(confluent-kafka with a group.id). Transaction coordinators (key type 1)
are refused: MiniKafka has no transactions.
"""

from __future__ import annotations

from typing import Any

from minikafka.protocol import errors

from ..broker import NODE_ID, RequestContext

__all__ = ["GROUP", "TRANSACTION", "handle_find_coordinator"]

GROUP = 0
TRANSACTION = 1


def handle_find_coordinator(request: Any, ctx: RequestContext) -> dict[str, Any]:
    key_type = getattr(request, "key_type", GROUP)
    if key_type != GROUP:
        return {"throttle_time_ms": 0, "error_code": errors.InvalidRequestError.code,
                "error_message": f"no coordinator of key type {key_type}: MiniKafka "
                                 "coordinates consumer groups only",
                "node_id": -1, "host": "", "port": -1}
    host, port = ctx.advertised_address()
    return {"throttle_time_ms": 0, "error_code": 0, "error_message": None,
            "node_id": NODE_ID, "host": host, "port": port}
