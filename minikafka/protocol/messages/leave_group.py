"""LeaveGroup (api key 13): members leave a group so it rebalances at once.

Versions 0-2 name one member; version 3 leaves in batches, each member named
by member id and/or static group_instance_id, and the response reports an
error code per member. Versions 4-5 (flexible) are declared for decoding but
not served.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Array,
    CompactArray,
    CompactNullableString,
    CompactString,
    Int16,
    Int32,
    NullableString,
    String,
    TaggedFields,
)

LeaveGroupRequestV0 = c.Struct(
    "group_id" / String,
    "member_id" / String,
)
LeaveGroupRequestV1 = LeaveGroupRequestV0  # bumped: response gains throttle_time_ms
LeaveGroupRequestV2 = LeaveGroupRequestV1  # bumped: response sent before quota throttling
LeaveGroupRequestV3 = c.Struct(
    "group_id" / String,
    "members" / Array(
        c.Struct(
            "member_id" / String,
            "group_instance_id" / NullableString,
        )
    ),
)
LeaveGroupRequestV4 = c.Struct(
    "group_id" / CompactString,
    "members" / CompactArray(
        c.Struct(
            "member_id" / CompactString,
            "group_instance_id" / CompactNullableString,
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)
LeaveGroupRequestV5 = c.Struct(
    "group_id" / CompactString,
    "members" / CompactArray(
        c.Struct(
            "member_id" / CompactString,
            "group_instance_id" / CompactNullableString,
            "reason" / CompactNullableString,
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)

LeaveGroupResponseV0 = c.Struct(
    "error_code" / Int16,
)
LeaveGroupResponseV1 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
)
LeaveGroupResponseV2 = LeaveGroupResponseV1  # bumped: sent before quota throttling
LeaveGroupResponseV3 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "members" / Array(
        c.Struct(
            "member_id" / String,
            "group_instance_id" / NullableString,
            "error_code" / Int16,
        )
    ),
)
LeaveGroupResponseV4 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "members" / CompactArray(
        c.Struct(
            "member_id" / CompactString,
            "group_instance_id" / CompactNullableString,
            "error_code" / Int16,
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)
LeaveGroupResponseV5 = LeaveGroupResponseV4  # bumped: request gains reason

LEAVE_GROUP = Api(
    key=13,
    name="LeaveGroup",
    requests={
        0: LeaveGroupRequestV0,
        1: LeaveGroupRequestV1,
        2: LeaveGroupRequestV2,
        3: LeaveGroupRequestV3,
        4: LeaveGroupRequestV4,
        5: LeaveGroupRequestV5,
    },
    responses={
        0: LeaveGroupResponseV0,
        1: LeaveGroupResponseV1,
        2: LeaveGroupResponseV2,
        3: LeaveGroupResponseV3,
        4: LeaveGroupResponseV4,
        5: LeaveGroupResponseV5,
    },
    served=range(0, 4),
    flexible_from=4,
)
