"""Produce (api key 0): append record batches to partitions.

The broker answers versions 3-8. Versions 0-2 are declared so that their
requests decode, and advertised in ApiVersions (old librdkafka only enables
compression when the broker lists Produce v0), but they are answered with
UNSUPPORTED_VERSION: they carry message format v0/v1, which MiniKafka does
not store. Version 9, the first flexible one, is declared but not served: it
lets the frame dumper decode current clients' traffic. Partition ``records``
stay raw bytes (a memoryview into the frame when decoded through the codec):
the broker checks batch headers, not records.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Array,
    CompactArray,
    CompactNullableString,
    CompactRecords,
    CompactString,
    Int16,
    Int32,
    Int64,
    NullableString,
    Records,
    String,
    TaggedFields,
)

_topic_produce_data = c.Struct(
    "name" / String,
    "partition_data" / Array(
        c.Struct(
            "index" / Int32,
            "records" / Records,
        )
    ),
)

ProduceRequestV0 = c.Struct(
    "acks" / Int16,
    "timeout_ms" / Int32,
    "topic_data" / Array(_topic_produce_data),
)
ProduceRequestV1 = ProduceRequestV0  # bumped: response gains throttle_time_ms
ProduceRequestV2 = ProduceRequestV0  # bumped: response gains log_append_time_ms
ProduceRequestV3 = c.Struct(
    "transactional_id" / NullableString,
    "acks" / Int16,
    "timeout_ms" / Int32,
    "topic_data" / Array(_topic_produce_data),
)
ProduceRequestV4 = ProduceRequestV3  # bumped: client must handle KAFKA_STORAGE_ERROR
ProduceRequestV5 = ProduceRequestV3  # bumped: response gains log_start_offset
ProduceRequestV6 = ProduceRequestV3  # bumped: no change on the wire
ProduceRequestV7 = ProduceRequestV3  # bumped: batches may be zstd-compressed (KIP-110)
ProduceRequestV8 = ProduceRequestV3  # bumped: response gains record_errors (KIP-467)
ProduceRequestV9 = c.Struct(
    "transactional_id" / CompactNullableString,
    "acks" / Int16,
    "timeout_ms" / Int32,
    "topic_data" / CompactArray(
        c.Struct(
            "name" / CompactString,
            "partition_data" / CompactArray(
                c.Struct(
                    "index" / Int32,
                    "records" / CompactRecords,
                    "tagged_fields" / TaggedFields,
                )
            ),
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)

ProduceResponseV0 = c.Struct(
    "responses" / Array(
        c.Struct(
            "name" / String,
            "partition_responses" / Array(
                c.Struct(
                    "index" / Int32,
                    "error_code" / Int16,
                    "base_offset" / Int64,
                )
            ),
        )
    ),
)
ProduceResponseV1 = c.Struct(
    "responses" / Array(
        c.Struct(
            "name" / String,
            "partition_responses" / Array(
                c.Struct(
                    "index" / Int32,
                    "error_code" / Int16,
                    "base_offset" / Int64,
                )
            ),
        )
    ),
    "throttle_time_ms" / Int32,
)
ProduceResponseV2 = c.Struct(
    "responses" / Array(
        c.Struct(
            "name" / String,
            "partition_responses" / Array(
                c.Struct(
                    "index" / Int32,
                    "error_code" / Int16,
                    "base_offset" / Int64,
                    "log_append_time_ms" / Int64,
                )
            ),
        )
    ),
    "throttle_time_ms" / Int32,
)
ProduceResponseV3 = ProduceResponseV2  # bumped: request gains transactional_id
ProduceResponseV4 = ProduceResponseV2  # bumped: KAFKA_STORAGE_ERROR may be returned
ProduceResponseV5 = c.Struct(
    "responses" / Array(
        c.Struct(
            "name" / String,
            "partition_responses" / Array(
                c.Struct(
                    "index" / Int32,
                    "error_code" / Int16,
                    "base_offset" / Int64,
                    "log_append_time_ms" / Int64,
                    "log_start_offset" / Int64,
                )
            ),
        )
    ),
    "throttle_time_ms" / Int32,
)
ProduceResponseV6 = ProduceResponseV5  # bumped: no change on the wire
ProduceResponseV7 = ProduceResponseV5  # bumped: batches may be zstd-compressed (KIP-110)
ProduceResponseV8 = c.Struct(
    "responses" / Array(
        c.Struct(
            "name" / String,
            "partition_responses" / Array(
                c.Struct(
                    "index" / Int32,
                    "error_code" / Int16,
                    "base_offset" / Int64,
                    "log_append_time_ms" / Int64,
                    "log_start_offset" / Int64,
                    "record_errors" / Array(
                        c.Struct(
                            "batch_index" / Int32,
                            "batch_index_error_message" / NullableString,
                        )
                    ),
                    "error_message" / NullableString,
                )
            ),
        )
    ),
    "throttle_time_ms" / Int32,
)
ProduceResponseV9 = c.Struct(
    "responses" / CompactArray(
        c.Struct(
            "name" / CompactString,
            "partition_responses" / CompactArray(
                c.Struct(
                    "index" / Int32,
                    "error_code" / Int16,
                    "base_offset" / Int64,
                    "log_append_time_ms" / Int64,
                    "log_start_offset" / Int64,
                    "record_errors" / CompactArray(
                        c.Struct(
                            "batch_index" / Int32,
                            "batch_index_error_message" / CompactNullableString,
                            "tagged_fields" / TaggedFields,
                        )
                    ),
                    "error_message" / CompactNullableString,
                    "tagged_fields" / TaggedFields,
                )
            ),
            "tagged_fields" / TaggedFields,
        )
    ),
    "throttle_time_ms" / Int32,
    "tagged_fields" / TaggedFields,
)

PRODUCE = Api(
    key=0,
    name="Produce",
    requests={
        0: ProduceRequestV0,
        1: ProduceRequestV1,
        2: ProduceRequestV2,
        3: ProduceRequestV3,
        4: ProduceRequestV4,
        5: ProduceRequestV5,
        6: ProduceRequestV6,
        7: ProduceRequestV7,
        8: ProduceRequestV8,
        9: ProduceRequestV9,
    },
    responses={
        0: ProduceResponseV0,
        1: ProduceResponseV1,
        2: ProduceResponseV2,
        3: ProduceResponseV3,
        4: ProduceResponseV4,
        5: ProduceResponseV5,
        6: ProduceResponseV6,
        7: ProduceResponseV7,
        8: ProduceResponseV8,
        9: ProduceResponseV9,
    },
    served=range(3, 9),
    flexible_from=9,
    advertised_min=0,
)
