"""ListOffsets (api key 2): the offset of a partition at a timestamp.

Consumers use it to find where to start: timestamp -2 asks for the earliest
offset, -1 for the latest (the high watermark), anything else for the first
offset whose batch timestamp is at or after it. The broker serves versions
1-5; version 0 (a list of offsets per partition) is not declared, and the
flexible versions 6-7 are declared, not served, for the frame dumper.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Array,
    CompactArray,
    CompactString,
    Int8,
    Int16,
    Int32,
    Int64,
    String,
    TaggedFields,
)

ListOffsetsRequestV1 = c.Struct(
    "replica_id" / Int32,
    "topics" / Array(
        c.Struct(
            "name" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "timestamp" / Int64,
                )
            ),
        )
    ),
)
ListOffsetsRequestV2 = c.Struct(
    "replica_id" / Int32,
    "isolation_level" / Int8,
    "topics" / Array(
        c.Struct(
            "name" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "timestamp" / Int64,
                )
            ),
        )
    ),
)
ListOffsetsRequestV3 = ListOffsetsRequestV2  # bumped: sent before quota throttling
ListOffsetsRequestV4 = c.Struct(
    "replica_id" / Int32,
    "isolation_level" / Int8,
    "topics" / Array(
        c.Struct(
            "name" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "current_leader_epoch" / Int32,
                    "timestamp" / Int64,
                )
            ),
        )
    ),
)
ListOffsetsRequestV5 = ListOffsetsRequestV4  # bumped: OFFSET_NOT_AVAILABLE may be returned
ListOffsetsRequestV6 = c.Struct(
    "replica_id" / Int32,
    "isolation_level" / Int8,
    "topics" / CompactArray(
        c.Struct(
            "name" / CompactString,
            "partitions" / CompactArray(
                c.Struct(
                    "partition_index" / Int32,
                    "current_leader_epoch" / Int32,
                    "timestamp" / Int64,
                    "tagged_fields" / TaggedFields,
                )
            ),
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)
ListOffsetsRequestV7 = ListOffsetsRequestV6  # bumped: timestamp -3 asks for the max timestamp (KIP-734)

ListOffsetsResponseV1 = c.Struct(
    "topics" / Array(
        c.Struct(
            "name" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "error_code" / Int16,
                    "timestamp" / Int64,
                    "offset" / Int64,
                )
            ),
        )
    ),
)
ListOffsetsResponseV2 = c.Struct(
    "throttle_time_ms" / Int32,
    "topics" / Array(
        c.Struct(
            "name" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "error_code" / Int16,
                    "timestamp" / Int64,
                    "offset" / Int64,
                )
            ),
        )
    ),
)
ListOffsetsResponseV3 = ListOffsetsResponseV2  # bumped: sent before quota throttling
ListOffsetsResponseV4 = c.Struct(
    "throttle_time_ms" / Int32,
    "topics" / Array(
        c.Struct(
            "name" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "error_code" / Int16,
                    "timestamp" / Int64,
                    "offset" / Int64,
                    "leader_epoch" / Int32,
                )
            ),
        )
    ),
)
ListOffsetsResponseV5 = ListOffsetsResponseV4  # bumped: OFFSET_NOT_AVAILABLE may be returned
ListOffsetsResponseV6 = c.Struct(
    "throttle_time_ms" / Int32,
    "topics" / CompactArray(
        c.Struct(
            "name" / CompactString,
            "partitions" / CompactArray(
                c.Struct(
                    "partition_index" / Int32,
                    "error_code" / Int16,
                    "timestamp" / Int64,
                    "offset" / Int64,
                    "leader_epoch" / Int32,
                    "tagged_fields" / TaggedFields,
                )
            ),
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)
ListOffsetsResponseV7 = ListOffsetsResponseV6  # bumped: request may ask for the max timestamp

LIST_OFFSETS = Api(
    key=2,
    name="ListOffsets",
    requests={
        1: ListOffsetsRequestV1,
        2: ListOffsetsRequestV2,
        3: ListOffsetsRequestV3,
        4: ListOffsetsRequestV4,
        5: ListOffsetsRequestV5,
        6: ListOffsetsRequestV6,
        7: ListOffsetsRequestV7,
    },
    responses={
        1: ListOffsetsResponseV1,
        2: ListOffsetsResponseV2,
        3: ListOffsetsResponseV3,
        4: ListOffsetsResponseV4,
        5: ListOffsetsResponseV5,
        6: ListOffsetsResponseV6,
        7: ListOffsetsResponseV7,
    },
    served=range(1, 6),
    flexible_from=6,
)
