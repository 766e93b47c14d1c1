"""CreatePartitions (api key 37): grow existing topics to a new partition count.

``count`` is the new total, not the number to add; assignments, when given,
place the new partitions' replicas. validate_only checks without changing
anything.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Array, Boolean, Int16, Int32, NullableArray, NullableString, String

CreatePartitionsRequestV0 = c.Struct(
    "topics" / Array(
        c.Struct(
            "name" / String,
            "count" / Int32,
            "assignments" / NullableArray(
                c.Struct(
                    "broker_ids" / Array(Int32),
                )
            ),
        )
    ),
    "timeout_ms" / Int32,
    "validate_only" / Boolean,
)
CreatePartitionsRequestV1 = CreatePartitionsRequestV0  # bumped: response sent before quota throttling

CreatePartitionsResponseV0 = c.Struct(
    "throttle_time_ms" / Int32,
    "results" / Array(
        c.Struct(
            "name" / String,
            "error_code" / Int16,
            "error_message" / NullableString,
        )
    ),
)
CreatePartitionsResponseV1 = CreatePartitionsResponseV0  # bumped: sent before quota throttling

CREATE_PARTITIONS = Api(
    key=37,
    name="CreatePartitions",
    requests={
        0: CreatePartitionsRequestV0,
        1: CreatePartitionsRequestV1,
    },
    responses={
        0: CreatePartitionsResponseV0,
        1: CreatePartitionsResponseV1,
    },
    served=range(0, 2),
)
