"""SyncGroup (api key 14): members of a group exchange the leader's assignment.

After a JoinGroup round the leader computes every member's assignment and
sends them all in its SyncGroup request; the coordinator answers each member
(leader included) with its own assignment bytes. Version 3 adds static
membership (group_instance_id).
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Array, Bytes, Int16, Int32, NullableString, String

_assignment = c.Struct(
    "member_id" / String,
    "assignment" / Bytes,
)

SyncGroupRequestV0 = c.Struct(
    "group_id" / String,
    "generation_id" / Int32,
    "member_id" / String,
    "assignments" / Array(_assignment),
)
SyncGroupRequestV1 = SyncGroupRequestV0  # bumped: response gains throttle_time_ms
SyncGroupRequestV2 = SyncGroupRequestV1  # bumped: response sent before quota throttling
SyncGroupRequestV3 = c.Struct(
    "group_id" / String,
    "generation_id" / Int32,
    "member_id" / String,
    "group_instance_id" / NullableString,
    "assignments" / Array(_assignment),
)

SyncGroupResponseV0 = c.Struct(
    "error_code" / Int16,
    "assignment" / Bytes,
)
SyncGroupResponseV1 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "assignment" / Bytes,
)
SyncGroupResponseV2 = SyncGroupResponseV1  # bumped: sent before quota throttling
SyncGroupResponseV3 = SyncGroupResponseV2  # bumped: request gains group_instance_id

SYNC_GROUP = Api(
    key=14,
    name="SyncGroup",
    requests={
        0: SyncGroupRequestV0,
        1: SyncGroupRequestV1,
        2: SyncGroupRequestV2,
        3: SyncGroupRequestV3,
    },
    responses={
        0: SyncGroupResponseV0,
        1: SyncGroupResponseV1,
        2: SyncGroupResponseV2,
        3: SyncGroupResponseV3,
    },
    served=range(0, 4),
)
