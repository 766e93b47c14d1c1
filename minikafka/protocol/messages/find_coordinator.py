"""FindCoordinator (api key 10): which broker coordinates a group or transaction.

MiniKafka is a single broker, so it is the coordinator for every key.
Version 1 adds the key type (0 group, 1 transaction) and an error message;
version 4 looks up several keys at once. The broker serves versions 0-2; the
flexible versions 3-4 are declared, not served, for the frame dumper.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    CompactArray,
    CompactNullableString,
    CompactString,
    Int8,
    Int16,
    Int32,
    NullableString,
    String,
    TaggedFields,
)

FindCoordinatorRequestV0 = c.Struct(
    "key" / String,
)
FindCoordinatorRequestV1 = c.Struct(
    "key" / String,
    "key_type" / Int8,
)
FindCoordinatorRequestV2 = FindCoordinatorRequestV1  # bumped: sent before quota throttling
FindCoordinatorRequestV3 = c.Struct(
    "key" / CompactString,
    "key_type" / Int8,
    "tagged_fields" / TaggedFields,
)
FindCoordinatorRequestV4 = c.Struct(
    "key_type" / Int8,
    "coordinator_keys" / CompactArray(CompactString),
    "tagged_fields" / TaggedFields,
)

FindCoordinatorResponseV0 = c.Struct(
    "error_code" / Int16,
    "node_id" / Int32,
    "host" / String,
    "port" / Int32,
)
FindCoordinatorResponseV1 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "error_message" / NullableString,
    "node_id" / Int32,
    "host" / String,
    "port" / Int32,
)
FindCoordinatorResponseV2 = FindCoordinatorResponseV1  # bumped: sent before quota throttling
FindCoordinatorResponseV3 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "error_message" / CompactNullableString,
    "node_id" / Int32,
    "host" / CompactString,
    "port" / Int32,
    "tagged_fields" / TaggedFields,
)
FindCoordinatorResponseV4 = c.Struct(
    "throttle_time_ms" / Int32,
    "coordinators" / CompactArray(
        c.Struct(
            "key" / CompactString,
            "node_id" / Int32,
            "host" / CompactString,
            "port" / Int32,
            "error_code" / Int16,
            "error_message" / CompactNullableString,
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)

FIND_COORDINATOR = Api(
    key=10,
    name="FindCoordinator",
    requests={
        0: FindCoordinatorRequestV0,
        1: FindCoordinatorRequestV1,
        2: FindCoordinatorRequestV2,
        3: FindCoordinatorRequestV3,
        4: FindCoordinatorRequestV4,
    },
    responses={
        0: FindCoordinatorResponseV0,
        1: FindCoordinatorResponseV1,
        2: FindCoordinatorResponseV2,
        3: FindCoordinatorResponseV3,
        4: FindCoordinatorResponseV4,
    },
    served=range(0, 3),
    flexible_from=3,
)
