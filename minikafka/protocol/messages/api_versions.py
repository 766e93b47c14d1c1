"""ApiVersions (api key 18): which APIs and versions a broker serves.

Clients send it first. Version 3 is flexible and adds the client's software
name and version. Responses always travel with response header v0.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Array,
    CompactArray,
    CompactString,
    Int16,
    Int32,
    TaggedFields,
)

ApiVersionsRequestV0 = c.Struct()
ApiVersionsRequestV1 = ApiVersionsRequestV0  # bumped: response gains throttle_time_ms
ApiVersionsRequestV2 = ApiVersionsRequestV0  # bumped: no change on the wire
ApiVersionsRequestV3 = c.Struct(
    "client_software_name" / CompactString,
    "client_software_version" / CompactString,
    "tagged_fields" / TaggedFields,
)
# bumped: KAFKA-17011 lets SupportedFeatures.MinVersion be 0; no change on the wire.
# Current clients (kafka-python 3, librdkafka 2.x) open every connection with v4.
ApiVersionsRequestV4 = ApiVersionsRequestV3

_api_version = c.Struct(
    "api_key" / Int16,
    "min_version" / Int16,
    "max_version" / Int16,
)
ApiVersionsResponseV0 = c.Struct(
    "error_code" / Int16,
    "api_keys" / Array(_api_version),
)
ApiVersionsResponseV1 = c.Struct(
    "error_code" / Int16,
    "api_keys" / Array(_api_version),
    "throttle_time_ms" / Int32,
)
ApiVersionsResponseV2 = ApiVersionsResponseV1  # bumped: no change on the wire
# v3's SupportedFeatures, FinalizedFeaturesEpoch, FinalizedFeatures and
# ZkMigrationReady are tagged fields; MiniKafka has no features to report, so
# they stay in the raw tagged_fields map.
ApiVersionsResponseV3 = c.Struct(
    "error_code" / Int16,
    "api_keys" / CompactArray(
        c.Struct(
            "api_key" / Int16,
            "min_version" / Int16,
            "max_version" / Int16,
            "tagged_fields" / TaggedFields,
        )
    ),
    "throttle_time_ms" / Int32,
    "tagged_fields" / TaggedFields,
)
ApiVersionsResponseV4 = ApiVersionsResponseV3  # bumped: see ApiVersionsRequestV4

API_VERSIONS = Api(
    key=18,
    name="ApiVersions",
    requests={
        0: ApiVersionsRequestV0,
        1: ApiVersionsRequestV1,
        2: ApiVersionsRequestV2,
        3: ApiVersionsRequestV3,
        4: ApiVersionsRequestV4,
    },
    responses={
        0: ApiVersionsResponseV0,
        1: ApiVersionsResponseV1,
        2: ApiVersionsResponseV2,
        3: ApiVersionsResponseV3,
        4: ApiVersionsResponseV4,
    },
    served=range(0, 5),
    flexible_from=3,
)
