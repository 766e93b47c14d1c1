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

from ..broker import RequestContext
from .api_versions import handle_api_versions
from .fetch import handle_fetch
from .find_coordinator import handle_find_coordinator
from .init_producer_id import handle_init_producer_id
from .list_offsets import handle_list_offsets
from .metadata import handle_metadata
from .produce import handle_produce

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
    ]
}


def served_apis() -> list[Api]:
    """The APIs with a handler, by key: what ApiVersions advertises."""
    return [api for _, (api, _) in sorted(HANDLERS.items())]
