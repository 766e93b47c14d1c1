"""DescribeGroups (api key 15): the state, protocol and members of named groups.

Each group is answered with its own error code. Member metadata and
assignment are the opaque bytes the members exchanged in JoinGroup and
SyncGroup. Version 3 can ask for the caller's authorized operations on each
group; version 4 reports members' static group_instance_id.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Array, Boolean, Bytes, Int16, Int32, NullableString, String

DescribeGroupsRequestV0 = c.Struct(
    "groups" / Array(String),
)
DescribeGroupsRequestV1 = DescribeGroupsRequestV0  # bumped: response gains throttle_time_ms
DescribeGroupsRequestV2 = DescribeGroupsRequestV1  # bumped: response sent before quota throttling
DescribeGroupsRequestV3 = c.Struct(
    "groups" / Array(String),
    "include_authorized_operations" / Boolean,
)
DescribeGroupsRequestV4 = DescribeGroupsRequestV3  # bumped: response gains members' group_instance_id

_member_v0 = c.Struct(
    "member_id" / String,
    "client_id" / String,
    "client_host" / String,
    "member_metadata" / Bytes,
    "member_assignment" / Bytes,
)
DescribeGroupsResponseV0 = c.Struct(
    "groups" / Array(
        c.Struct(
            "error_code" / Int16,
            "group_id" / String,
            "group_state" / String,
            "protocol_type" / String,
            "protocol_data" / String,
            "members" / Array(_member_v0),
        )
    ),
)
DescribeGroupsResponseV1 = c.Struct(
    "throttle_time_ms" / Int32,
    "groups" / Array(
        c.Struct(
            "error_code" / Int16,
            "group_id" / String,
            "group_state" / String,
            "protocol_type" / String,
            "protocol_data" / String,
            "members" / Array(_member_v0),
        )
    ),
)
DescribeGroupsResponseV2 = DescribeGroupsResponseV1  # bumped: sent before quota throttling
DescribeGroupsResponseV3 = c.Struct(
    "throttle_time_ms" / Int32,
    "groups" / Array(
        c.Struct(
            "error_code" / Int16,
            "group_id" / String,
            "group_state" / String,
            "protocol_type" / String,
            "protocol_data" / String,
            "members" / Array(_member_v0),
            "authorized_operations" / Int32,
        )
    ),
)
DescribeGroupsResponseV4 = c.Struct(
    "throttle_time_ms" / Int32,
    "groups" / Array(
        c.Struct(
            "error_code" / Int16,
            "group_id" / String,
            "group_state" / String,
            "protocol_type" / String,
            "protocol_data" / String,
            "members" / Array(
                c.Struct(
                    "member_id" / String,
                    "group_instance_id" / NullableString,
                    "client_id" / String,
                    "client_host" / String,
                    "member_metadata" / Bytes,
                    "member_assignment" / Bytes,
                )
            ),
            "authorized_operations" / Int32,
        )
    ),
)

DESCRIBE_GROUPS = Api(
    key=15,
    name="DescribeGroups",
    requests={
        0: DescribeGroupsRequestV0,
        1: DescribeGroupsRequestV1,
        2: DescribeGroupsRequestV2,
        3: DescribeGroupsRequestV3,
        4: DescribeGroupsRequestV4,
    },
    responses={
        0: DescribeGroupsResponseV0,
        1: DescribeGroupsResponseV1,
        2: DescribeGroupsResponseV2,
        3: DescribeGroupsResponseV3,
        4: DescribeGroupsResponseV4,
    },
    served=range(0, 5),
)
