"""Heartbeat (api key 12): a group member tells the coordinator it is alive.

A member that stops heartbeating for its session timeout is removed from the
group; the response's error code (REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID,
ILLEGAL_GENERATION) is how members learn they must rejoin. Version 3 adds
static membership (group_instance_id).
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Int16, Int32, NullableString, String

HeartbeatRequestV0 = c.Struct(
    "group_id" / String,
    "generation_id" / Int32,
    "member_id" / String,
)
HeartbeatRequestV1 = HeartbeatRequestV0  # bumped: response gains throttle_time_ms
HeartbeatRequestV2 = HeartbeatRequestV1  # bumped: response sent before quota throttling
HeartbeatRequestV3 = c.Struct(
    "group_id" / String,
    "generation_id" / Int32,
    "member_id" / String,
    "group_instance_id" / NullableString,
)

HeartbeatResponseV0 = c.Struct(
    "error_code" / Int16,
)
HeartbeatResponseV1 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
)
HeartbeatResponseV2 = HeartbeatResponseV1  # bumped: sent before quota throttling
HeartbeatResponseV3 = HeartbeatResponseV2  # bumped: request gains group_instance_id

HEARTBEAT = Api(
    key=12,
    name="Heartbeat",
    requests={
        0: HeartbeatRequestV0,
        1: HeartbeatRequestV1,
        2: HeartbeatRequestV2,
        3: HeartbeatRequestV3,
    },
    responses={
        0: HeartbeatResponseV0,
        1: HeartbeatResponseV1,
        2: HeartbeatResponseV2,
        3: HeartbeatResponseV3,
    },
    served=range(0, 4),
)
