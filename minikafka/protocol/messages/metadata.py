"""Metadata (api key 3): the brokers, and each topic's partitions and leaders.

Clients call it to find which broker leads each partition. From version 1 a
null topic list asks for every topic and an empty list for none (version 0,
not declared, used the empty list for "all").
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import (
    Array,
    Boolean,
    Int16,
    Int32,
    NullableArray,
    NullableString,
    String,
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
    },
    served=range(1, 9),
)
