"""OffsetCommit (api key 8): a consumer stores its position in each partition.

Offsets are committed on behalf of a group, checked against the member's
generation. Versions 2-4 carry a retention time, which version 5 removes
(retention became a broker setting); version 6 adds the leader epoch of the
committed offset and version 7 static membership (group_instance_id).
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Array, Int16, Int32, Int64, NullableString, String

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
    },
    responses={
        2: OffsetCommitResponseV2,
        3: OffsetCommitResponseV3,
        4: OffsetCommitResponseV4,
        5: OffsetCommitResponseV5,
        6: OffsetCommitResponseV6,
        7: OffsetCommitResponseV7,
    },
    served=range(2, 8),
)
