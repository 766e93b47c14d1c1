"""Metadata (api key 3): the brokers, and each topic's partitions and leaders.

Clients call it to find which broker leads each partition. From version 1 a
null topic list asks for every topic and an empty list for none (version 0,
not declared, used the empty list for "all"). The broker serves versions 1-8;
the flexible versions 9-12 are declared, not served, so the frame dumper can
decode current clients' traffic.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    UUID,
    Array,
    Boolean,
    CompactArray,
    CompactNullableArray,
    CompactNullableString,
    CompactString,
    Int16,
    Int32,
    NullableArray,
    NullableString,
    String,
    TaggedFields,
)

MetadataRequestV1 = c.Struct(
    "topics" / NullableArray(c.Struct("name" / String)),
)
MetadataRequestV2 = MetadataRequestV1  # bumped: response gains cluster_id
MetadataRequestV3 = MetadataRequestV1  # bumped: response gains throttle_time_ms
MetadataRequestV4 = c.Struct(
    "topics" / NullableArray(c.Struct("name" / String)),
    "allow_auto_topic_creation" / Boolean,
)
MetadataRequestV5 = MetadataRequestV4  # bumped: response gains offline_replicas
MetadataRequestV6 = MetadataRequestV4  # bumped: sent before quota throttling
MetadataRequestV7 = MetadataRequestV4  # bumped: response gains leader_epoch
MetadataRequestV8 = c.Struct(
    "topics" / NullableArray(c.Struct("name" / String)),
    "allow_auto_topic_creation" / Boolean,
    "include_cluster_authorized_operations" / Boolean,
    "include_topic_authorized_operations" / Boolean,
)
MetadataRequestV9 = c.Struct(
    "topics" / CompactNullableArray(
        c.Struct(
            "name" / CompactString,
            "tagged_fields" / TaggedFields,
        )
    ),
    "allow_auto_topic_creation" / Boolean,
    "include_cluster_authorized_operations" / Boolean,
    "include_topic_authorized_operations" / Boolean,
    "tagged_fields" / TaggedFields,
)
MetadataRequestV10 = c.Struct(
    "topics" / CompactNullableArray(
        c.Struct(
            "topic_id" / UUID,
            "name" / CompactNullableString,
            "tagged_fields" / TaggedFields,
        )
    ),
    "allow_auto_topic_creation" / Boolean,
    "include_cluster_authorized_operations" / Boolean,
    "include_topic_authorized_operations" / Boolean,
    "tagged_fields" / TaggedFields,
)
MetadataRequestV11 = c.Struct(
    "topics" / CompactNullableArray(
        c.Struct(
            "topic_id" / UUID,
            "name" / CompactNullableString,
            "tagged_fields" / TaggedFields,
        )
    ),
    "allow_auto_topic_creation" / Boolean,
    "include_topic_authorized_operations" / Boolean,
    "tagged_fields" / TaggedFields,
)
MetadataRequestV12 = MetadataRequestV11  # bumped: brokers honour topic_id lookups

_broker = c.Struct(
    "node_id" / Int32,
    "host" / String,
    "port" / Int32,
    "rack" / NullableString,
)

MetadataResponseV1 = c.Struct(
    "brokers" / Array(_broker),
    "controller_id" / Int32,
    "topics" / Array(
        c.Struct(
            "error_code" / Int16,
            "name" / String,
            "is_internal" / Boolean,
            "partitions" / Array(
                c.Struct(
                    "error_code" / Int16,
                    "partition_index" / Int32,
                    "leader_id" / Int32,
                    "replica_nodes" / Array(Int32),
                    "isr_nodes" / Array(Int32),
                )
            ),
        )
    ),
)
MetadataResponseV2 = c.Struct(
    "brokers" / Array(_broker),
    "cluster_id" / NullableString,
    "controller_id" / Int32,
    "topics" / Array(
        c.Struct(
            "error_code" / Int16,
            "name" / String,
            "is_internal" / Boolean,
            "partitions" / Array(
                c.Struct(
                    "error_code" / Int16,
                    "partition_index" / Int32,
                    "leader_id" / Int32,
                    "replica_nodes" / Array(Int32),
                    "isr_nodes" / Array(Int32),
                )
            ),
        )
    ),
)
MetadataResponseV3 = c.Struct(
    "throttle_time_ms" / Int32,
    "brokers" / Array(_broker),
    "cluster_id" / NullableString,
    "controller_id" / Int32,
    "topics" / Array(
        c.Struct(
            "error_code" / Int16,
            "name" / String,
            "is_internal" / Boolean,
            "partitions" / Array(
                c.Struct(
                    "error_code" / Int16,
                    "partition_index" / Int32,
                    "leader_id" / Int32,
                    "replica_nodes" / Array(Int32),
                    "isr_nodes" / Array(Int32),
                )
            ),
        )
    ),
)
MetadataResponseV4 = MetadataResponseV3  # bumped: request gains allow_auto_topic_creation
MetadataResponseV5 = c.Struct(
    "throttle_time_ms" / Int32,
    "brokers" / Array(_broker),
    "cluster_id" / NullableString,
    "controller_id" / Int32,
    "topics" / Array(
        c.Struct(
            "error_code" / Int16,
            "name" / String,
            "is_internal" / Boolean,
            "partitions" / Array(
                c.Struct(
                    "error_code" / Int16,
                    "partition_index" / Int32,
                    "leader_id" / Int32,
                    "replica_nodes" / Array(Int32),
                    "isr_nodes" / Array(Int32),
                    "offline_replicas" / Array(Int32),
                )
            ),
        )
    ),
)
MetadataResponseV6 = MetadataResponseV5  # bumped: sent before quota throttling
MetadataResponseV7 = c.Struct(
    "throttle_time_ms" / Int32,
    "brokers" / Array(_broker),
    "cluster_id" / NullableString,
    "controller_id" / Int32,
    "topics" / Array(
        c.Struct(
            "error_code" / Int16,
            "name" / String,
            "is_internal" / Boolean,
            "partitions" / Array(
                c.Struct(
                    "error_code" / Int16,
                    "partition_index" / Int32,
                    "leader_id" / Int32,
                    "leader_epoch" / Int32,
                    "replica_nodes" / Array(Int32),
                    "isr_nodes" / Array(Int32),
                    "offline_replicas" / Array(Int32),
                )
            ),
        )
    ),
)
MetadataResponseV8 = c.Struct(
    "throttle_time_ms" / Int32,
    "brokers" / Array(_broker),
    "cluster_id" / NullableString,
    "controller_id" / Int32,
    "topics" / Array(
        c.Struct(
            "error_code" / Int16,
            "name" / String,
            "is_internal" / Boolean,
            "partitions" / Array(
                c.Struct(
                    "error_code" / Int16,
                    "partition_index" / Int32,
                    "leader_id" / Int32,
                    "leader_epoch" / Int32,
                    "replica_nodes" / Array(Int32),
                    "isr_nodes" / Array(Int32),
                    "offline_replicas" / Array(Int32),
                )
            ),
            # Kafka's TopicAuthorizedOperations; kafka-python names it (and the
            # cluster-level field) authorized_operations, and so do we.
            "authorized_operations" / Int32,
        )
    ),
    "authorized_operations" / Int32,  # Kafka's ClusterAuthorizedOperations
)

_flexible_broker = c.Struct(
    "node_id" / Int32,
    "host" / CompactString,
    "port" / Int32,
    "rack" / CompactNullableString,
    "tagged_fields" / TaggedFields,
)
_flexible_partition = c.Struct(
    "error_code" / Int16,
    "partition_index" / Int32,
    "leader_id" / Int32,
    "leader_epoch" / Int32,
    "replica_nodes" / CompactArray(Int32),
    "isr_nodes" / CompactArray(Int32),
    "offline_replicas" / CompactArray(Int32),
    "tagged_fields" / TaggedFields,
)

MetadataResponseV9 = c.Struct(
    "throttle_time_ms" / Int32,
    "brokers" / CompactArray(_flexible_broker),
    "cluster_id" / CompactNullableString,
    "controller_id" / Int32,
    "topics" / CompactArray(
        c.Struct(
            "error_code" / Int16,
            "name" / CompactString,
            "is_internal" / Boolean,
            "partitions" / CompactArray(_flexible_partition),
            "authorized_operations" / Int32,
            "tagged_fields" / TaggedFields,
        )
    ),
    "authorized_operations" / Int32,
    "tagged_fields" / TaggedFields,
)
MetadataResponseV10 = c.Struct(
    "throttle_time_ms" / Int32,
    "brokers" / CompactArray(_flexible_broker),
    "cluster_id" / CompactNullableString,
    "controller_id" / Int32,
    "topics" / CompactArray(
        c.Struct(
            "error_code" / Int16,
            "name" / CompactString,
            "topic_id" / UUID,
            "is_internal" / Boolean,
            "partitions" / CompactArray(_flexible_partition),
            "authorized_operations" / Int32,
            "tagged_fields" / TaggedFields,
        )
    ),
    "authorized_operations" / Int32,
    "tagged_fields" / TaggedFields,
)
MetadataResponseV11 = c.Struct(
    "throttle_time_ms" / Int32,
    "brokers" / CompactArray(_flexible_broker),
    "cluster_id" / CompactNullableString,
    "controller_id" / Int32,
    "topics" / CompactArray(
        c.Struct(
            "error_code" / Int16,
            "name" / CompactString,
            "topic_id" / UUID,
            "is_internal" / Boolean,
            "partitions" / CompactArray(_flexible_partition),
            "authorized_operations" / Int32,
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)
MetadataResponseV12 = c.Struct(
    "throttle_time_ms" / Int32,
    "brokers" / CompactArray(_flexible_broker),
    "cluster_id" / CompactNullableString,
    "controller_id" / Int32,
    "topics" / CompactArray(
        c.Struct(
            "error_code" / Int16,
            "name" / CompactNullableString,
            "topic_id" / UUID,
            "is_internal" / Boolean,
            "partitions" / CompactArray(_flexible_partition),
            "authorized_operations" / Int32,
            "tagged_fields" / TaggedFields,
        )
    ),
    "tagged_fields" / TaggedFields,
)

METADATA = Api(
    key=3,
    name="Metadata",
    requests={
        1: MetadataRequestV1,
        2: MetadataRequestV2,
        3: MetadataRequestV3,
        4: MetadataRequestV4,
        5: MetadataRequestV5,
        6: MetadataRequestV6,
        7: MetadataRequestV7,
        8: MetadataRequestV8,
        9: MetadataRequestV9,
        10: MetadataRequestV10,
        11: MetadataRequestV11,
        12: MetadataRequestV12,
    },
    responses={
        1: MetadataResponseV1,
        2: MetadataResponseV2,
        3: MetadataResponseV3,
        4: MetadataResponseV4,
        5: MetadataResponseV5,
        6: MetadataResponseV6,
        7: MetadataResponseV7,
        8: MetadataResponseV8,
        9: MetadataResponseV9,
        10: MetadataResponseV10,
        11: MetadataResponseV11,
        12: MetadataResponseV12,
    },
    served=range(1, 9),
    flexible_from=9,
)
