"""InitProducerId (api key 22): a producer id and epoch for an idempotent producer.

Idempotent producers call it once before producing, then stamp every batch
with the id, the epoch and per-partition sequence numbers so the broker can
drop duplicates. A null transactional id asks for a plain idempotent id.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Int16,
    Int32,
    Int64,
    NullableString,
)

InitProducerIdRequestV0 = c.Struct(
    "transactional_id" / NullableString,
    "transaction_timeout_ms" / Int32,
)
InitProducerIdRequestV1 = InitProducerIdRequestV0  # bumped: sent before quota throttling

InitProducerIdResponseV0 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "producer_id" / Int64,
    "producer_epoch" / Int16,
)
InitProducerIdResponseV1 = InitProducerIdResponseV0  # bumped: sent before quota throttling

INIT_PRODUCER_ID = Api(
    key=22,
    name="InitProducerId",
    requests={
        0: InitProducerIdRequestV0,
        1: InitProducerIdRequestV1,
    },
    responses={
        0: InitProducerIdResponseV0,
        1: InitProducerIdResponseV1,
    },
    served=range(0, 2),
)
