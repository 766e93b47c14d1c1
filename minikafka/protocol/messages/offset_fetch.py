"""OffsetFetch (api key 9): a consumer reads the positions its group committed.

A partition with no committed offset answers offset -1. From version 2 a null
topic list asks for every committed partition of the group, and the response
gains a top-level error code; version 5 adds the committed leader epoch.
Versions 6-9 (flexible) are declared for decoding but not served; from
version 8 one request asks about several groups.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Array,
    Boolean,
    CompactArray,
    CompactNullableArray,
    CompactNullableString,
    CompactString,
    Int16,
    Int32,
    Int64,
    NullableArray,
    NullableString,
    String,
    TaggedFields,
)

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

_compact_topic = c.Struct(
    "name" / CompactString,
    "partition_indexes" / CompactArray(Int32),
    "tagged_fields" / TaggedFields,
)
OffsetFetchRequestV6 = c.Struct(
    "group_id" / CompactString,
    "topics" / CompactNullableArray(_compact_topic),
    "tagged_fields" / TaggedFields,
)
OffsetFetchRequestV7 = c.Struct(
    "group_id" / CompactString,
    "topics" / CompactNullableArray(_compact_topic),
    "require_stable" / Boolean,
    "tagged_fields" / TaggedFields,
)
OffsetFetchRequestV8 = c.Struct(
    "groups" / CompactArray(
        c.Struct(
            "group_id" / CompactString,
            "topics" / CompactNullableArray(_compact_topic),
            "tagged_fields" / TaggedFields,
        )
    ),
    "require_stable" / Boolean,
    "tagged_fields" / TaggedFields,
)
# v9 lets a KIP-848 consumer identify itself, so its member epoch can be checked.
OffsetFetchRequestV9 = c.Struct(
    "groups" / CompactArray(
        c.Struct(
            "group_id" / CompactString,
            "member_id" / CompactNullableString,
            "member_epoch" / Int32,
            "topics" / CompactNullableArray(_compact_topic),
            "tagged_fields" / TaggedFields,
        )
    ),
    "require_stable" / Boolean,
    "tagged_fields" / TaggedFields,
)

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
_compact_topic_result = c.Struct(
    "name" / CompactString,
    "partitions" / CompactArray(
        c.Struct(
            "partition_index" / Int32,
            "committed_offset" / Int64,
            "committed_leader_epoch" / Int32,
            "metadata" / CompactNullableString,
            "error_code" / Int16,
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)
OffsetFetchResponseV6 = c.Struct(
    "throttle_time_ms" / Int32,
    "topics" / CompactArray(_compact_topic_result),
    "error_code" / Int16,
    "tagged_fields" / TaggedFields,
)
OffsetFetchResponseV7 = OffsetFetchResponseV6  # bumped: may carry UNSTABLE_OFFSET_COMMIT
OffsetFetchResponseV8 = c.Struct(
    "throttle_time_ms" / Int32,
    "groups" / CompactArray(
        c.Struct(
            "group_id" / CompactString,
            "topics" / CompactArray(_compact_topic_result),
            "error_code" / Int16,
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)
# bumped: may carry STALE_MEMBER_EPOCH and UNKNOWN_MEMBER_ID (KIP-848)
OffsetFetchResponseV9 = OffsetFetchResponseV8

OFFSET_FETCH = Api(
    key=9,
    name="OffsetFetch",
    requests={
        1: OffsetFetchRequestV1,
        2: OffsetFetchRequestV2,
        3: OffsetFetchRequestV3,
        4: OffsetFetchRequestV4,
        5: OffsetFetchRequestV5,
        6: OffsetFetchRequestV6,
        7: OffsetFetchRequestV7,
        8: OffsetFetchRequestV8,
        9: OffsetFetchRequestV9,
    },
    responses={
        1: OffsetFetchResponseV1,
        2: OffsetFetchResponseV2,
        3: OffsetFetchResponseV3,
        4: OffsetFetchResponseV4,
        5: OffsetFetchResponseV5,
        6: OffsetFetchResponseV6,
        7: OffsetFetchResponseV7,
        8: OffsetFetchResponseV8,
        9: OffsetFetchResponseV9,
    },
    served=range(1, 6),
    flexible_from=6,
)
