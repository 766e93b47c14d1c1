"""Fetch (api key 1): read record batches from partitions, from given offsets.

The broker answers versions 4-11: from version 4 clients must accept message
format v2, the only format MiniKafka stores. Versions 0-3 are declared so the
frame dumper can decode old clients' requests, and version 12 (the first
flexible one) for current clients' traffic; the broker serves neither.
Partition ``records`` in responses are raw bytes (a memoryview when decoded
through the codec), passed through without looking inside.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Array,
    CompactArray,
    CompactNullableArray,
    CompactRecords,
    CompactString,
    Int8,
    Int16,
    Int32,
    Int64,
    NullableArray,
    Records,
    String,
    TaggedFields,
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
# v12's ClusterId (tag 0) is a tagged field; it stays in the raw tagged_fields map.
FetchRequestV12 = c.Struct(
    "replica_id" / Int32,
    "max_wait_ms" / Int32,
    "min_bytes" / Int32,
    "max_bytes" / Int32,
    "isolation_level" / Int8,
    "session_id" / Int32,
    "session_epoch" / Int32,
    "topics" / CompactArray(
        c.Struct(
            "topic" / CompactString,
            "partitions" / CompactArray(
                c.Struct(
                    "partition" / Int32,
                    "current_leader_epoch" / Int32,
                    "fetch_offset" / Int64,
                    "last_fetched_epoch" / Int32,
                    "log_start_offset" / Int64,
                    "partition_max_bytes" / Int32,
                    "tagged_fields" / TaggedFields,
                )
            ),
            "tagged_fields" / TaggedFields,
        )
    ),
    "forgotten_topics_data" / CompactArray(
        c.Struct(
            "topic" / CompactString,
            "partitions" / CompactArray(Int32),
            "tagged_fields" / TaggedFields,
        )
    ),
    "rack_id" / CompactString,
    "tagged_fields" / TaggedFields,
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
# v12's per-partition DivergingEpoch (tag 0), CurrentLeader (tag 1) and
# SnapshotId (tag 2) are tagged fields, kept raw: MiniKafka never sets them.
FetchResponseV12 = c.Struct(
    "throttle_time_ms" / Int32,
    "error_code" / Int16,
    "session_id" / Int32,
    "responses" / CompactArray(
        c.Struct(
            "topic" / CompactString,
            "partitions" / CompactArray(
                c.Struct(
                    "partition_index" / Int32,
                    "error_code" / Int16,
                    "high_watermark" / Int64,
                    "last_stable_offset" / Int64,
                    "log_start_offset" / Int64,
                    "aborted_transactions" / CompactNullableArray(
                        c.Struct(
                            "producer_id" / Int64,
                            "first_offset" / Int64,
                            "tagged_fields" / TaggedFields,
                        )
                    ),
                    "preferred_read_replica" / Int32,
                    "records" / CompactRecords,
                    "tagged_fields" / TaggedFields,
                )
            ),
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
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
        12: FetchRequestV12,
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
        12: FetchResponseV12,
    },
    served=range(4, 12),
    flexible_from=12,
)
