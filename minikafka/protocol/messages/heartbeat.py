"""Heartbeat (api key 12): a group member tells the coordinator it is alive.

A member that stops heartbeating for its session timeout is removed from the
group; the response's error code (REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID,
ILLEGAL_GENERATION) is how members learn they must rejoin. Version 3 adds
static membership (group_instance_id). Version 4 (flexible) is declared for
decoding but not served.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    CompactNullableString,
    CompactString,
    Int16,
    Int32,
    NullableString,
    String,
    TaggedFields,
)

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
HeartbeatRequestV4 = c.Struct(
    "group_id" / CompactString,
    "generation_id" / Int32,
    "member_id" / CompactString,
    "group_instance_id" / CompactNullableString,
    "tagged_fields" / TaggedFields,
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
HeartbeatResponseV4 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "tagged_fields" / TaggedFields,
)

HEARTBEAT = Api(
    key=12,
    name="Heartbeat",
    requests={
        0: HeartbeatRequestV0,
        1: HeartbeatRequestV1,
        2: HeartbeatRequestV2,
        3: HeartbeatRequestV3,
        4: HeartbeatRequestV4,
    },
    responses={
        0: HeartbeatResponseV0,
        1: HeartbeatResponseV1,
        2: HeartbeatResponseV2,
        3: HeartbeatResponseV3,
        4: HeartbeatResponseV4,
    },
    served=range(0, 4),
    flexible_from=4,
)
