"""CreateTopics (api key 19): create topics with a partition count or an explicit assignment.

Each topic gives either num_partitions and replication_factor, or (with both
-1) a replica assignment per partition, plus initial configs. validate_only
checks the request without creating anything. Each topic is answered with its
own error code and message.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Array, Boolean, Int16, Int32, NullableString, String

CreateTopicsRequestV2 = c.Struct(
    "topics" / Array(
        c.Struct(
            "name" / String,
            "num_partitions" / Int32,
            "replication_factor" / Int16,
            "assignments" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "broker_ids" / Array(Int32),
                )
            ),
            "configs" / Array(
                c.Struct(
                    "name" / String,
                    "value" / NullableString,
                )
            ),
        )
    ),
    "timeout_ms" / Int32,
    "validate_only" / Boolean,
)
CreateTopicsRequestV3 = CreateTopicsRequestV2  # bumped: response sent before quota throttling
# bumped: num_partitions and replication_factor may be -1 (broker defaults) without assignments
CreateTopicsRequestV4 = CreateTopicsRequestV3

CreateTopicsResponseV2 = c.Struct(
    "throttle_time_ms" / Int32,
    "topics" / Array(
        c.Struct(
            "name" / String,
            "error_code" / Int16,
            "error_message" / NullableString,
        )
    ),
)
CreateTopicsResponseV3 = CreateTopicsResponseV2  # bumped: sent before quota throttling
CreateTopicsResponseV4 = CreateTopicsResponseV3  # bumped: request may leave partitions to defaults

CREATE_TOPICS = Api(
    key=19,
    name="CreateTopics",
    requests={
        2: CreateTopicsRequestV2,
        3: CreateTopicsRequestV3,
        4: CreateTopicsRequestV4,
    },
    responses={
        2: CreateTopicsResponseV2,
        3: CreateTopicsResponseV3,
        4: CreateTopicsResponseV4,
    },
    served=range(2, 5),
)
