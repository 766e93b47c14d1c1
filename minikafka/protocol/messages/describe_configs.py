"""DescribeConfigs (api key 32): the configuration of topics and brokers.

Resources are named by type (2 = topic, 4 = broker) and name; a null key list
asks for every config. Each entry says where its value comes from
(config_source) and, when asked, the lower-precedence synonyms it overrides;
version 3 adds each config's type and documentation.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Array, Boolean, Int8, Int16, Int32, NullableArray, NullableString, String

_resource = c.Struct(
    "resource_type" / Int8,
    "resource_name" / String,
    "configuration_keys" / NullableArray(String),
)

DescribeConfigsRequestV1 = c.Struct(
    "resources" / Array(_resource),
    "include_synonyms" / Boolean,
)
DescribeConfigsRequestV2 = DescribeConfigsRequestV1  # bumped: response sent before quota throttling
DescribeConfigsRequestV3 = c.Struct(
    "resources" / Array(_resource),
    "include_synonyms" / Boolean,
    "include_documentation" / Boolean,
)

_synonym = c.Struct(
    "name" / String,
    "value" / NullableString,
    "source" / Int8,
)
DescribeConfigsResponseV1 = c.Struct(
    "throttle_time_ms" / Int32,
    "results" / Array(
        c.Struct(
            "error_code" / Int16,
            "error_message" / NullableString,
            "resource_type" / Int8,
            "resource_name" / String,
            "configs" / Array(
                c.Struct(
                    "name" / String,
                    "value" / NullableString,
                    "read_only" / Boolean,
                    "config_source" / Int8,
                    "is_sensitive" / Boolean,
                    "synonyms" / Array(_synonym),
                )
            ),
        )
    ),
)
DescribeConfigsResponseV2 = DescribeConfigsResponseV1  # bumped: sent before quota throttling
DescribeConfigsResponseV3 = c.Struct(
    "throttle_time_ms" / Int32,
    "results" / Array(
        c.Struct(
            "error_code" / Int16,
            "error_message" / NullableString,
            "resource_type" / Int8,
            "resource_name" / String,
            "configs" / Array(
                c.Struct(
                    "name" / String,
                    "value" / NullableString,
                    "read_only" / Boolean,
                    "config_source" / Int8,
                    "is_sensitive" / Boolean,
                    "synonyms" / Array(_synonym),
                    "config_type" / Int8,
                    "documentation" / NullableString,
                )
            ),
        )
    ),
)

DESCRIBE_CONFIGS = Api(
    key=32,
    name="DescribeConfigs",
    requests={
        1: DescribeConfigsRequestV1,
        2: DescribeConfigsRequestV2,
        3: DescribeConfigsRequestV3,
    },
    responses={
        1: DescribeConfigsResponseV1,
        2: DescribeConfigsResponseV2,
        3: DescribeConfigsResponseV3,
    },
    served=range(1, 4),
)
