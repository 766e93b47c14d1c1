"""DeleteTopics (api key 20): delete topics by name.

Each topic is answered with its own error code (UNKNOWN_TOPIC_OR_PARTITION
for a topic that does not exist).
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Array, Int16, Int32, String

DeleteTopicsRequestV1 = c.Struct(
    "topic_names" / Array(String),
    "timeout_ms" / Int32,
)
DeleteTopicsRequestV2 = DeleteTopicsRequestV1  # bumped: response sent before quota throttling
DeleteTopicsRequestV3 = DeleteTopicsRequestV2  # bumped: response may carry TOPIC_DELETION_DISABLED

DeleteTopicsResponseV1 = c.Struct(
    "throttle_time_ms" / Int32,
    "responses" / Array(
        c.Struct(
            "name" / String,
            "error_code" / Int16,
        )
    ),
)
DeleteTopicsResponseV2 = DeleteTopicsResponseV1  # bumped: sent before quota throttling
DeleteTopicsResponseV3 = DeleteTopicsResponseV2  # bumped: may carry TOPIC_DELETION_DISABLED

DELETE_TOPICS = Api(
    key=20,
    name="DeleteTopics",
    requests={
        1: DeleteTopicsRequestV1,
        2: DeleteTopicsRequestV2,
        3: DeleteTopicsRequestV3,
    },
    responses={
        1: DeleteTopicsResponseV1,
        2: DeleteTopicsResponseV2,
        3: DeleteTopicsResponseV3,
    },
    served=range(1, 4),
)
