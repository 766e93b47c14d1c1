"""ListGroups (api key 16): every consumer group the broker coordinates.

The request has no fields in these versions; the response names each group
and its protocol type ("consumer" for consumer groups).
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Array, Int16, Int32, String

ListGroupsRequestV0 = c.Struct()
ListGroupsRequestV1 = ListGroupsRequestV0  # bumped: response gains throttle_time_ms
ListGroupsRequestV2 = ListGroupsRequestV1  # bumped: response sent before quota throttling

_listed_group = c.Struct(
    "group_id" / String,
    "protocol_type" / String,
)
ListGroupsResponseV0 = c.Struct(
    "error_code" / Int16,
    "groups" / Array(_listed_group),
)
ListGroupsResponseV1 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "groups" / Array(_listed_group),
)
ListGroupsResponseV2 = ListGroupsResponseV1  # bumped: sent before quota throttling

LIST_GROUPS = Api(
    key=16,
    name="ListGroups",
    requests={
        0: ListGroupsRequestV0,
        1: ListGroupsRequestV1,
        2: ListGroupsRequestV2,
    },
    responses={
        0: ListGroupsResponseV0,
        1: ListGroupsResponseV1,
        2: ListGroupsResponseV2,
    },
    served=range(0, 3),
)
