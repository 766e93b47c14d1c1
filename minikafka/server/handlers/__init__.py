"""The request handlers, one module per API, and the table that routes to them.

A handler is a function of ``(request body, RequestContext)`` returning the
response body as a dict (the codec encodes it for the request's version,
ignoring keys that version lacks), or None when nothing is to be sent.
Most are plain functions; Produce and Fetch are ``async`` because they may
wait (for the disk, for data to arrive), each built on a ``*_nowait`` core
that does not.

The table decides what ApiVersions advertises: an API the protocol package
declares but no handler serves is never offered to clients.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from minikafka.protocol.api import Api
from minikafka.protocol.messages.api_versions import API_VERSIONS
from minikafka.protocol.messages.fetch import FETCH
from minikafka.protocol.messages.find_coordinator import FIND_COORDINATOR
from minikafka.protocol.messages.init_producer_id import INIT_PRODUCER_ID
from minikafka.protocol.messages.list_offsets import LIST_OFFSETS
from minikafka.protocol.messages.metadata import METADATA
from minikafka.protocol.messages.produce import PRODUCE
from minikafka.protocol.registry import api_by_name

from ..auth.sasl import handle_sasl_authenticate, handle_sasl_handshake
from ..broker import RequestContext
from .api_versions import handle_api_versions
from .fetch import handle_fetch
from .find_coordinator import handle_find_coordinator
from .groups import (
    handle_delete_groups,
    handle_describe_groups,
    handle_heartbeat,
    handle_join_group,
    handle_leave_group,
    handle_list_groups,
    handle_sync_group,
)
from .init_producer_id import handle_init_producer_id
from .list_offsets import handle_list_offsets
from .metadata import handle_metadata
from .offsets import handle_offset_commit, handle_offset_fetch
from .produce import handle_produce
from .topics import (
    handle_create_partitions,
    handle_create_topics,
    handle_delete_topics,
    handle_describe_configs,
)

__all__ = ["HANDLERS", "Handler", "served_apis"]

Handler = Callable[[Any, RequestContext], Any | Awaitable[Any]]

HANDLERS: dict[int, tuple[Api, Handler]] = {
    api.key: (api, handler)
    for api, handler in [
        (PRODUCE, handle_produce),
        (FETCH, handle_fetch),
        (LIST_OFFSETS, handle_list_offsets),
        (METADATA, handle_metadata),
        (FIND_COORDINATOR, handle_find_coordinator),
        (API_VERSIONS, handle_api_versions),
        (INIT_PRODUCER_ID, handle_init_producer_id),
        # consumer groups and committed offsets
        (api_by_name("OffsetCommit"), handle_offset_commit),
        (api_by_name("OffsetFetch"), handle_offset_fetch),
        (api_by_name("JoinGroup"), handle_join_group),
        (api_by_name("Heartbeat"), handle_heartbeat),
        (api_by_name("LeaveGroup"), handle_leave_group),
        (api_by_name("SyncGroup"), handle_sync_group),
        (api_by_name("DescribeGroups"), handle_describe_groups),
        (api_by_name("ListGroups"), handle_list_groups),
        (api_by_name("DeleteGroups"), handle_delete_groups),
        # topic administration
        (api_by_name("CreateTopics"), handle_create_topics),
        (api_by_name("DeleteTopics"), handle_delete_topics),
        (api_by_name("CreatePartitions"), handle_create_partitions),
        (api_by_name("DescribeConfigs"), handle_describe_configs),
        # SASL: answered here only once authenticated (or without SASL): see auth.sasl
        (api_by_name("SaslHandshake"), handle_sasl_handshake),
        (api_by_name("SaslAuthenticate"), handle_sasl_authenticate),
    ]
}


def served_apis() -> list[Api]:
    """The APIs with a handler, by key: what ApiVersions advertises."""
    return [api for _, (api, _) in sorted(HANDLERS.items())]
