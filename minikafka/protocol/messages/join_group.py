"""JoinGroup (api key 11): a consumer asks to join a group and learns its generation.

The coordinator collects every member's supported assignment protocols,
picks one, names a leader and answers each member with the generation id;
only the leader's response lists the members and their subscription
metadata. From version 4 a first join without a member id is answered with
MEMBER_ID_REQUIRED and a fresh id to rejoin with; version 5 adds static
membership (group_instance_id).
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Array, Bytes, Int16, Int32, NullableString, String

_protocol = c.Struct(
    "name" / String,
    "metadata" / Bytes,
)

JoinGroupRequestV2 = c.Struct(
    "group_id" / String,
    "session_timeout_ms" / Int32,
    "rebalance_timeout_ms" / Int32,
    "member_id" / String,
    "protocol_type" / String,
    "protocols" / Array(_protocol),
)
JoinGroupRequestV3 = JoinGroupRequestV2  # bumped: response sent before quota throttling
JoinGroupRequestV4 = JoinGroupRequestV3  # bumped: first join may get MEMBER_ID_REQUIRED
JoinGroupRequestV5 = c.Struct(
    "group_id" / String,
    "session_timeout_ms" / Int32,
    "rebalance_timeout_ms" / Int32,
    "member_id" / String,
    "group_instance_id" / NullableString,
    "protocol_type" / String,
    "protocols" / Array(_protocol),
)

JoinGroupResponseV2 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "generation_id" / Int32,
    "protocol_name" / String,
    "leader" / String,
    "member_id" / String,
    "members" / Array(
        c.Struct(
            "member_id" / String,
            "metadata" / Bytes,
        )
    ),
)
JoinGroupResponseV3 = JoinGroupResponseV2  # bumped: sent before quota throttling
JoinGroupResponseV4 = JoinGroupResponseV3  # bumped: may carry MEMBER_ID_REQUIRED
JoinGroupResponseV5 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "generation_id" / Int32,
    "protocol_name" / String,
    "leader" / String,
    "member_id" / String,
    "members" / Array(
        c.Struct(
            "member_id" / String,
            "group_instance_id" / NullableString,
            "metadata" / Bytes,
        )
    ),
)

JOIN_GROUP = Api(
    key=11,
    name="JoinGroup",
    requests={
        2: JoinGroupRequestV2,
        3: JoinGroupRequestV3,
        4: JoinGroupRequestV4,
        5: JoinGroupRequestV5,
    },
    responses={
        2: JoinGroupResponseV2,
        3: JoinGroupResponseV3,
        4: JoinGroupResponseV4,
        5: JoinGroupResponseV5,
    },
    served=range(2, 6),
)
