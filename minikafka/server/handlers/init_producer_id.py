"""InitProducerId: a producer id and epoch for an idempotent producer.

MiniKafka has no transactions: a request carrying a transactional id is
refused with INVALID_REQUEST rather than handed an id that would later fail.
"""

from __future__ import annotations

import logging
from typing import Any

from minikafka.protocol import errors

from ..broker import RequestContext

__all__ = ["handle_init_producer_id"]

logger = logging.getLogger(__name__)


def handle_init_producer_id(request: Any, ctx: RequestContext) -> dict[str, Any]:
    if request.transactional_id is not None:
        logger.info("%s asked for transactional id %r: transactions are not supported",
                    ctx.peer, request.transactional_id)
        return {"throttle_time_ms": 0, "error_code": errors.InvalidRequestError.code,
                "producer_id": -1, "producer_epoch": -1}
    producer_id, epoch = ctx.broker.producers.new_producer_id()
    return {"throttle_time_ms": 0, "error_code": 0, "producer_id": producer_id,
            "producer_epoch": epoch}
