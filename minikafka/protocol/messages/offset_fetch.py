"""OffsetFetch (api key 9): a consumer reads the positions its group committed.

A partition with no committed offset answers offset -1. From version 2 a null
topic list asks for every committed partition of the group, and the response
gains a top-level error code; version 5 adds the committed leader epoch.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Array, Int16, Int32, Int64, NullableArray, NullableString, String

_topic = c.Struct(
    "name" / String,
    "partition_indexes" / Array(Int32),
)

OffsetFetchRequestV1 = c.Struct(
    "group_id" / String,
    "topics" / Array(_topic),
)
OffsetFetchRequestV2 = c.Struct(
    "group_id" / String,
    "topics" / NullableArray(_topic),
)
OffsetFetchRequestV3 = OffsetFetchRequestV2  # bumped: response gains throttle_time_ms
OffsetFetchRequestV4 = OffsetFetchRequestV3  # bumped: response sent before quota throttling
OffsetFetchRequestV5 = OffsetFetchRequestV4  # bumped: response gains committed_leader_epoch

_topic_result = c.Struct(
    "name" / String,
    "partitions" / Array(
        c.Struct(
            "partition_index" / Int32,
            "committed_offset" / Int64,
            "metadata" / NullableString,
            "error_code" / Int16,
        )
    ),
)
OffsetFetchResponseV1 = c.Struct(
    "topics" / Array(_topic_result),
)
OffsetFetchResponseV2 = c.Struct(
    "topics" / Array(_topic_result),
    "error_code" / Int16,
)
OffsetFetchResponseV3 = c.Struct(
    "throttle_time_ms" / Int32,
    "topics" / Array(_topic_result),
    "error_code" / Int16,
)
OffsetFetchResponseV4 = OffsetFetchResponseV3  # bumped: sent before quota throttling
OffsetFetchResponseV5 = c.Struct(
    "throttle_time_ms" / Int32,
    "topics" / Array(
        c.Struct(
            "name" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "committed_offset" / Int64,
                    "committed_leader_epoch" / Int32,
                    "metadata" / NullableString,
                    "error_code" / Int16,
                )
            ),
        )
    ),
    "error_code" / Int16,
)

OFFSET_FETCH = Api(
    key=9,
    name="OffsetFetch",
    requests={
        1: OffsetFetchRequestV1,
        2: OffsetFetchRequestV2,
        3: OffsetFetchRequestV3,
        4: OffsetFetchRequestV4,
        5: OffsetFetchRequestV5,
    },
    responses={
        1: OffsetFetchResponseV1,
        2: OffsetFetchResponseV2,
        3: OffsetFetchResponseV3,
        4: OffsetFetchResponseV4,
        5: OffsetFetchResponseV5,
    },
    served=range(1, 6),
)
