"""OffsetCommit (api key 8): a consumer stores its position in each partition.

Offsets are committed on behalf of a group, checked against the member's
generation. Versions 2-4 carry a retention time, which version 5 removes
(retention became a broker setting); version 6 adds the leader epoch of the
committed offset and version 7 static membership (group_instance_id).
Versions 8-9 (flexible) are declared for decoding but not served.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Array,
    CompactArray,
    CompactNullableString,
    CompactString,
    Int16,
    Int32,
    Int64,
    NullableString,
    String,
    TaggedFields,
)

OffsetCommitRequestV2 = c.Struct(
    "group_id" / String,
    "generation_id_or_member_epoch" / Int32,
    "member_id" / String,
    "retention_time_ms" / Int64,
    "topics" / Array(
        c.Struct(
            "name" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "committed_offset" / Int64,
                    "committed_metadata" / NullableString,
                )
            ),
        )
    ),
)
OffsetCommitRequestV3 = OffsetCommitRequestV2  # bumped: response gains throttle_time_ms
OffsetCommitRequestV4 = OffsetCommitRequestV3  # bumped: response sent before quota throttling
OffsetCommitRequestV5 = c.Struct(
    "group_id" / String,
    "generation_id_or_member_epoch" / Int32,
    "member_id" / String,
    "topics" / Array(
        c.Struct(
            "name" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "committed_offset" / Int64,
                    "committed_metadata" / NullableString,
                )
            ),
        )
    ),
)
_partition_v6 = c.Struct(
    "partition_index" / Int32,
    "committed_offset" / Int64,
    "committed_leader_epoch" / Int32,
    "committed_metadata" / NullableString,
)
OffsetCommitRequestV6 = c.Struct(
    "group_id" / String,
    "generation_id_or_member_epoch" / Int32,
    "member_id" / String,
    "topics" / Array(
        c.Struct(
            "name" / String,
            "partitions" / Array(_partition_v6),
        )
    ),
)
OffsetCommitRequestV7 = c.Struct(
    "group_id" / String,
    "generation_id_or_member_epoch" / Int32,
    "member_id" / String,
    "group_instance_id" / NullableString,
    "topics" / Array(
        c.Struct(
            "name" / String,
            "partitions" / Array(_partition_v6),
        )
    ),
)
OffsetCommitRequestV8 = c.Struct(
    "group_id" / CompactString,
    "generation_id_or_member_epoch" / Int32,
    "member_id" / CompactString,
    "group_instance_id" / CompactNullableString,
    "topics" / CompactArray(
        c.Struct(
            "name" / CompactString,
            "partitions" / CompactArray(
                c.Struct(
                    "partition_index" / Int32,
                    "committed_offset" / Int64,
                    "committed_leader_epoch" / Int32,
                    "committed_metadata" / CompactNullableString,
                    "tagged_fields" / TaggedFields,
                )
            ),
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)
# bumped: usable with the KIP-848 consumer protocol (generation is then the member epoch)
OffsetCommitRequestV9 = OffsetCommitRequestV8

_topic_result = c.Struct(
    "name" / String,
    "partitions" / Array(
        c.Struct(
            "partition_index" / Int32,
            "error_code" / Int16,
        )
    ),
)
OffsetCommitResponseV2 = c.Struct(
    "topics" / Array(_topic_result),
)
OffsetCommitResponseV3 = c.Struct(
    "throttle_time_ms" / Int32,
    "topics" / Array(_topic_result),
)
OffsetCommitResponseV4 = OffsetCommitResponseV3  # bumped: sent before quota throttling
OffsetCommitResponseV5 = OffsetCommitResponseV4  # bumped: request drops retention_time_ms
OffsetCommitResponseV6 = OffsetCommitResponseV5  # bumped: request gains committed_leader_epoch
OffsetCommitResponseV7 = OffsetCommitResponseV6  # bumped: request gains group_instance_id
OffsetCommitResponseV8 = c.Struct(
    "throttle_time_ms" / Int32,
    "topics" / CompactArray(
        c.Struct(
            "name" / CompactString,
            "partitions" / CompactArray(
                c.Struct(
                    "partition_index" / Int32,
                    "error_code" / Int16,
                    "tagged_fields" / TaggedFields,
                )
            ),
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)
# bumped: may carry STALE_MEMBER_EPOCH and GROUP_ID_NOT_FOUND (KIP-848)
OffsetCommitResponseV9 = OffsetCommitResponseV8

OFFSET_COMMIT = Api(
    key=8,
    name="OffsetCommit",
    requests={
        2: OffsetCommitRequestV2,
        3: OffsetCommitRequestV3,
        4: OffsetCommitRequestV4,
        5: OffsetCommitRequestV5,
        6: OffsetCommitRequestV6,
        7: OffsetCommitRequestV7,
        8: OffsetCommitRequestV8,
        9: OffsetCommitRequestV9,
    },
    responses={
        2: OffsetCommitResponseV2,
        3: OffsetCommitResponseV3,
        4: OffsetCommitResponseV4,
        5: OffsetCommitResponseV5,
        6: OffsetCommitResponseV6,
        7: OffsetCommitResponseV7,
        8: OffsetCommitResponseV8,
        9: OffsetCommitResponseV9,
    },
    served=range(2, 8),
    flexible_from=8,
)
