"""DeleteGroups (api key 42): remove empty consumer groups and their offsets.

A group that still has members is not deleted (NON_EMPTY_GROUP); each group
gets its own error code.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Array, Int16, Int32, String

DeleteGroupsRequestV0 = c.Struct(
    "groups_names" / Array(String),
)
DeleteGroupsRequestV1 = DeleteGroupsRequestV0  # bumped: response sent before quota throttling

DeleteGroupsResponseV0 = c.Struct(
    "throttle_time_ms" / Int32,
    "results" / Array(
        c.Struct(
            "group_id" / String,
            "error_code" / Int16,
        )
    ),
)
DeleteGroupsResponseV1 = DeleteGroupsResponseV0  # bumped: sent before quota throttling

DELETE_GROUPS = Api(
    key=42,
    name="DeleteGroups",
    requests={
        0: DeleteGroupsRequestV0,
        1: DeleteGroupsRequestV1,
    },
    responses={
        0: DeleteGroupsResponseV0,
        1: DeleteGroupsResponseV1,
    },
    served=range(0, 2),
)
