"""Fetch (api key 1): read record batches from partitions, from given offsets.

The broker answers versions 4-11, the ones whose responses carry message
format v2 batches. Versions 0-3 are declared so the frame dumper can decode
old clients' requests; the broker does not serve them. Partition
``records`` in responses are raw bytes (a memoryview when decoded through
the codec), passed through without looking inside.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Array,
    Int8,
    Int16,
    Int32,
    Int64,
    NullableArray,
    Records,
    String,
)

FetchRequestV0 = c.Struct(
    "replica_id" / Int32,
    "max_wait_ms" / Int32,
    "min_bytes" / Int32,
    "topics" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition" / Int32,
                    "fetch_offset" / Int64,
                    "partition_max_bytes" / Int32,
                )
            ),
        )
    ),
)
FetchRequestV1 = FetchRequestV0  # bumped: response gains throttle_time_ms
FetchRequestV2 = FetchRequestV0  # bumped: client must handle message format v1
FetchRequestV3 = c.Struct(
    "replica_id" / Int32,
    "max_wait_ms" / Int32,
    "min_bytes" / Int32,
    "max_bytes" / Int32,
    "topics" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition" / Int32,
                    "fetch_offset" / Int64,
                    "partition_max_bytes" / Int32,
                )
            ),
        )
    ),
)
FetchRequestV4 = c.Struct(
    "replica_id" / Int32,
    "max_wait_ms" / Int32,
    "min_bytes" / Int32,
    "max_bytes" / Int32,
    "isolation_level" / Int8,
    "topics" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition" / Int32,
                    "fetch_offset" / Int64,
                    "partition_max_bytes" / Int32,
                )
            ),
        )
    ),
)
FetchRequestV5 = c.Struct(
    "replica_id" / Int32,
    "max_wait_ms" / Int32,
    "min_bytes" / Int32,
    "max_bytes" / Int32,
    "isolation_level" / Int8,
    "topics" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition" / Int32,
                    "fetch_offset" / Int64,
                    "log_start_offset" / Int64,
                    "partition_max_bytes" / Int32,
                )
            ),
        )
    ),
)
FetchRequestV6 = FetchRequestV5  # bumped: KAFKA_STORAGE_ERROR may be returned
FetchRequestV7 = c.Struct(
    "replica_id" / Int32,
    "max_wait_ms" / Int32,
    "min_bytes" / Int32,
    "max_bytes" / Int32,
    "isolation_level" / Int8,
    "session_id" / Int32,
    "session_epoch" / Int32,
    "topics" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition" / Int32,
                    "fetch_offset" / Int64,
                    "log_start_offset" / Int64,
                    "partition_max_bytes" / Int32,
                )
            ),
        )
    ),
    "forgotten_topics_data" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(Int32),
        )
    ),
)
FetchRequestV8 = FetchRequestV7  # bumped: responses are sent before quota throttling
FetchRequestV9 = c.Struct(
    "replica_id" / Int32,
    "max_wait_ms" / Int32,
    "min_bytes" / Int32,
    "max_bytes" / Int32,
    "isolation_level" / Int8,
    "session_id" / Int32,
    "session_epoch" / Int32,
    "topics" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition" / Int32,
                    "current_leader_epoch" / Int32,
                    "fetch_offset" / Int64,
                    "log_start_offset" / Int64,
                    "partition_max_bytes" / Int32,
                )
            ),
        )
    ),
    "forgotten_topics_data" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(Int32),
        )
    ),
)
FetchRequestV10 = FetchRequestV9  # bumped: batches may be zstd-compressed (KIP-110)
FetchRequestV11 = c.Struct(
    "replica_id" / Int32,
    "max_wait_ms" / Int32,
    "min_bytes" / Int32,
    "max_bytes" / Int32,
    "isolation_level" / Int8,
    "session_id" / Int32,
    "session_epoch" / Int32,
    "topics" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition" / Int32,
                    "current_leader_epoch" / Int32,
                    "fetch_offset" / Int64,
                    "log_start_offset" / Int64,
                    "partition_max_bytes" / Int32,
                )
            ),
        )
    ),
    "forgotten_topics_data" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(Int32),
        )
    ),
    "rack_id" / String,
)

_aborted_transaction = c.Struct(
    "producer_id" / Int64,
    "first_offset" / Int64,
)

FetchResponseV0 = c.Struct(
    "responses" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "error_code" / Int16,
                    "high_watermark" / Int64,
                    "records" / Records,
                )
            ),
        )
    ),
)
FetchResponseV1 = c.Struct(
    "throttle_time_ms" / Int32,
    "responses" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "error_code" / Int16,
                    "high_watermark" / Int64,
                    "records" / Records,
                )
            ),
        )
    ),
)
FetchResponseV2 = FetchResponseV1  # bumped: records may be message format v1
FetchResponseV3 = FetchResponseV1  # bumped: request gains max_bytes
FetchResponseV4 = c.Struct(
    "throttle_time_ms" / Int32,
    "responses" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "error_code" / Int16,
                    "high_watermark" / Int64,
                    "last_stable_offset" / Int64,
                    "aborted_transactions" / NullableArray(_aborted_transaction),
                    "records" / Records,
                )
            ),
        )
    ),
)
FetchResponseV5 = c.Struct(
    "throttle_time_ms" / Int32,
    "responses" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "error_code" / Int16,
                    "high_watermark" / Int64,
                    "last_stable_offset" / Int64,
                    "log_start_offset" / Int64,
                    "aborted_transactions" / NullableArray(_aborted_transaction),
                    "records" / Records,
                )
            ),
        )
    ),
)
FetchResponseV6 = FetchResponseV5  # bumped: KAFKA_STORAGE_ERROR may be returned
FetchResponseV7 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "session_id" / Int32,
    "responses" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "error_code" / Int16,
                    "high_watermark" / Int64,
                    "last_stable_offset" / Int64,
                    "log_start_offset" / Int64,
                    "aborted_transactions" / NullableArray(_aborted_transaction),
                    "records" / Records,
                )
            ),
        )
    ),
)
FetchResponseV8 = FetchResponseV7  # bumped: sent before quota throttling
FetchResponseV9 = FetchResponseV7  # bumped: request gains current_leader_epoch
FetchResponseV10 = FetchResponseV7  # bumped: batches may be zstd-compressed (KIP-110)
FetchResponseV11 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "session_id" / Int32,
    "responses" / Array(
        c.Struct(
            "topic" / String,
            "partitions" / Array(
                c.Struct(
                    "partition_index" / Int32,
                    "error_code" / Int16,
                    "high_watermark" / Int64,
                    "last_stable_offset" / Int64,
                    "log_start_offset" / Int64,
                    "aborted_transactions" / NullableArray(_aborted_transaction),
                    "preferred_read_replica" / Int32,
                    "records" / Records,
                )
            ),
        )
    ),
)

FETCH = Api(
    key=1,
    name="Fetch",
    requests={
        0: FetchRequestV0,
        1: FetchRequestV1,
        2: FetchRequestV2,
        3: FetchRequestV3,
        4: FetchRequestV4,
        5: FetchRequestV5,
        6: FetchRequestV6,
        7: FetchRequestV7,
        8: FetchRequestV8,
        9: FetchRequestV9,
        10: FetchRequestV10,
        11: FetchRequestV11,
    },
    responses={
        0: FetchResponseV0,
        1: FetchResponseV1,
        2: FetchResponseV2,
        3: FetchResponseV3,
        4: FetchResponseV4,
        5: FetchResponseV5,
        6: FetchResponseV6,
        7: FetchResponseV7,
        8: FetchResponseV8,
        9: FetchResponseV9,
        10: FetchResponseV10,
        11: FetchResponseV11,
    },
    served=range(4, 12),
)
