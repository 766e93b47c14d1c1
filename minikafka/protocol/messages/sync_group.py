"""SyncGroup (api key 14): members of a group exchange the leader's assignment.

After a JoinGroup round the leader computes every member's assignment and
sends them all in its SyncGroup request; the coordinator answers each member
(leader included) with its own assignment bytes. Version 3 adds static
membership (group_instance_id). Versions 4-5 (flexible) are declared for
decoding but not served.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Array,
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

_compact_assignment = c.Struct(
    "member_id" / CompactString,
    "assignment" / CompactBytes,
    "tagged_fields" / TaggedFields,
)
SyncGroupRequestV4 = c.Struct(
    "group_id" / CompactString,
    "generation_id" / Int32,
    "member_id" / CompactString,
    "group_instance_id" / CompactNullableString,
    "assignments" / CompactArray(_compact_assignment),
    "tagged_fields" / TaggedFields,
)
# v5 names the protocol the member believes was chosen (KIP-559), so the
# broker can reject an inconsistent one.
SyncGroupRequestV5 = c.Struct(
    "group_id" / CompactString,
    "generation_id" / Int32,
    "member_id" / CompactString,
    "group_instance_id" / CompactNullableString,
    "protocol_type" / CompactNullableString,
    "protocol_name" / CompactNullableString,
    "assignments" / CompactArray(_compact_assignment),
    "tagged_fields" / TaggedFields,
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
SyncGroupResponseV4 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "assignment" / CompactBytes,
    "tagged_fields" / TaggedFields,
)
SyncGroupResponseV5 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "protocol_type" / CompactNullableString,
    "protocol_name" / CompactNullableString,
    "assignment" / CompactBytes,
    "tagged_fields" / TaggedFields,
)

SYNC_GROUP = Api(
    key=14,
    name="SyncGroup",
    requests={
        0: SyncGroupRequestV0,
        1: SyncGroupRequestV1,
        2: SyncGroupRequestV2,
        3: SyncGroupRequestV3,
        4: SyncGroupRequestV4,
        5: SyncGroupRequestV5,
    },
    responses={
        0: SyncGroupResponseV0,
        1: SyncGroupResponseV1,
        2: SyncGroupResponseV2,
        3: SyncGroupResponseV3,
        4: SyncGroupResponseV4,
        5: SyncGroupResponseV5,
    },
    served=range(0, 4),
    flexible_from=4,
)
