"""FindCoordinator (api key 10): which broker coordinates a group or transaction.

MiniKafka is a single broker, so it is the coordinator for every key.
Version 1 adds the key type (0 group, 1 transaction) and an error message.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Int8,
    Int16,
    Int32,
    NullableString,
    String,
)

FindCoordinatorRequestV0 = c.Struct(
    "key" / String,
)
FindCoordinatorRequestV1 = c.Struct(
    "key" / String,
    "key_type" / Int8,
)
FindCoordinatorRequestV2 = FindCoordinatorRequestV1  # bumped: sent before quota throttling

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

FIND_COORDINATOR = Api(
    key=10,
    name="FindCoordinator",
    requests={
        0: FindCoordinatorRequestV0,
        1: FindCoordinatorRequestV1,
        2: FindCoordinatorRequestV2,
    },
    responses={
        0: FindCoordinatorResponseV0,
        1: FindCoordinatorResponseV1,
        2: FindCoordinatorResponseV2,
    },
    served=range(0, 3),
)
