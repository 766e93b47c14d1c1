"""JoinGroup (api key 11): a consumer asks to join a group and learns its generation.

The coordinator collects every member's supported assignment protocols,
picks one, names a leader and answers each member with the generation id;
only the leader's response lists the members and their subscription
metadata. From version 4 a first join without a member id is answered with
MEMBER_ID_REQUIRED and a fresh id to rejoin with; version 5 adds static
membership (group_instance_id). Versions 6-9 (flexible) are declared for
decoding but not served.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Array,
    Boolean,
    Bytes,
    CompactArray,
    CompactBytes,
    CompactNullableString,
    CompactString,
    Int16,
    Int32,
    NullableString,
    String,
    TaggedFields,
)

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

_compact_protocol = c.Struct(
    "name" / CompactString,
    "metadata" / CompactBytes,
    "tagged_fields" / TaggedFields,
)
JoinGroupRequestV6 = c.Struct(
    "group_id" / CompactString,
    "session_timeout_ms" / Int32,
    "rebalance_timeout_ms" / Int32,
    "member_id" / CompactString,
    "group_instance_id" / CompactNullableString,
    "protocol_type" / CompactString,
    "protocols" / CompactArray(_compact_protocol),
    "tagged_fields" / TaggedFields,
)
JoinGroupRequestV7 = JoinGroupRequestV6  # bumped: response gains protocol_type
JoinGroupRequestV8 = c.Struct(
    "group_id" / CompactString,
    "session_timeout_ms" / Int32,
    "rebalance_timeout_ms" / Int32,
    "member_id" / CompactString,
    "group_instance_id" / CompactNullableString,
    "protocol_type" / CompactString,
    "protocols" / CompactArray(_compact_protocol),
    "reason" / CompactNullableString,
    "tagged_fields" / TaggedFields,
)
JoinGroupRequestV9 = JoinGroupRequestV8  # bumped: response gains skip_assignment

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

_compact_member = c.Struct(
    "member_id" / CompactString,
    "group_instance_id" / CompactNullableString,
    "metadata" / CompactBytes,
    "tagged_fields" / TaggedFields,
)
JoinGroupResponseV6 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "generation_id" / Int32,
    "protocol_name" / CompactString,
    "leader" / CompactString,
    "member_id" / CompactString,
    "members" / CompactArray(_compact_member),
    "tagged_fields" / TaggedFields,
)
# v7 sends the protocol type back (KIP-559); both it and the protocol name
# are null when the group has not chosen a protocol yet.
JoinGroupResponseV7 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "generation_id" / Int32,
    "protocol_type" / CompactNullableString,
    "protocol_name" / CompactNullableString,
    "leader" / CompactString,
    "member_id" / CompactString,
    "members" / CompactArray(_compact_member),
    "tagged_fields" / TaggedFields,
)
JoinGroupResponseV8 = JoinGroupResponseV7  # bumped: request gains reason
JoinGroupResponseV9 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "generation_id" / Int32,
    "protocol_type" / CompactNullableString,
    "protocol_name" / CompactNullableString,
    "leader" / CompactString,
    "skip_assignment" / Boolean,
    "member_id" / CompactString,
    "members" / CompactArray(_compact_member),
    "tagged_fields" / TaggedFields,
)

JOIN_GROUP = Api(
    key=11,
    name="JoinGroup",
    requests={
        2: JoinGroupRequestV2,
        3: JoinGroupRequestV3,
        4: JoinGroupRequestV4,
        5: JoinGroupRequestV5,
        6: JoinGroupRequestV6,
        7: JoinGroupRequestV7,
        8: JoinGroupRequestV8,
        9: JoinGroupRequestV9,
    },
    responses={
        2: JoinGroupResponseV2,
        3: JoinGroupResponseV3,
        4: JoinGroupResponseV4,
        5: JoinGroupResponseV5,
        6: JoinGroupResponseV6,
        7: JoinGroupResponseV7,
        8: JoinGroupResponseV8,
        9: JoinGroupResponseV9,
    },
    served=range(2, 6),
    flexible_from=6,
)
