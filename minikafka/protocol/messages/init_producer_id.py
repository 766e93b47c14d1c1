"""InitProducerId (api key 22): a producer id and epoch for an idempotent producer.

Idempotent producers call it once before producing, then stamp every batch
with the id, the epoch and per-partition sequence numbers so the broker can
drop duplicates. A null transactional id asks for a plain idempotent id.
The broker serves versions 0-1; the flexible versions 2-4 are declared, not
served, for the frame dumper.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    CompactNullableString,
    Int16,
    Int32,
    Int64,
    NullableString,
    TaggedFields,
)

InitProducerIdRequestV0 = c.Struct(
    "transactional_id" / NullableString,
    "transaction_timeout_ms" / Int32,
)
InitProducerIdRequestV1 = InitProducerIdRequestV0  # bumped: sent before quota throttling
InitProducerIdRequestV2 = c.Struct(
    "transactional_id" / CompactNullableString,
    "transaction_timeout_ms" / Int32,
    "tagged_fields" / TaggedFields,
)
InitProducerIdRequestV3 = c.Struct(
    "transactional_id" / CompactNullableString,
    "transaction_timeout_ms" / Int32,
    "producer_id" / Int64,
    "producer_epoch" / Int16,
    "tagged_fields" / TaggedFields,
)
InitProducerIdRequestV4 = InitProducerIdRequestV3  # bumped: PRODUCER_FENCED may be returned

InitProducerIdResponseV0 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "producer_id" / Int64,
    "producer_epoch" / Int16,
)
InitProducerIdResponseV1 = InitProducerIdResponseV0  # bumped: sent before quota throttling
InitProducerIdResponseV2 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "producer_id" / Int64,
    "producer_epoch" / Int16,
    "tagged_fields" / TaggedFields,
)
InitProducerIdResponseV3 = InitProducerIdResponseV2  # bumped: request gains producer_id and epoch
InitProducerIdResponseV4 = InitProducerIdResponseV2  # bumped: PRODUCER_FENCED may be returned

INIT_PRODUCER_ID = Api(
    key=22,
    name="InitProducerId",
    requests={
        0: InitProducerIdRequestV0,
        1: InitProducerIdRequestV1,
        2: InitProducerIdRequestV2,
        3: InitProducerIdRequestV3,
        4: InitProducerIdRequestV4,
    },
    responses={
        0: InitProducerIdResponseV0,
        1: InitProducerIdResponseV1,
        2: InitProducerIdResponseV2,
        3: InitProducerIdResponseV3,
        4: InitProducerIdResponseV4,
    },
    served=range(0, 2),
    flexible_from=2,
)
