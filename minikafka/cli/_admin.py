"""What ``topics`` and ``groups`` share: one broker connection, the requests they send, tables.

Requests go through the client core (``minikafka.client``): its blocking
connection negotiates API versions and retries an unreachable broker for
``--timeout`` seconds. Request bodies carry the fields of every version, so
the encoder can use whichever version the broker serves.
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Generator, Iterable, Sequence
from typing import Any

from minikafka.client._blocking import _Link
from minikafka.client._core import Request, Send
from minikafka.protocol.registry import api_by_name

from ._client_options import DEFAULT_ADDRESS

__all__ = ["Admin", "add_broker_arguments", "broker_address", "table"]

EARLIEST = -2  # ListOffsets: the log start offset
LATEST = -1  # ListOffsets: the next offset to be written
_NO_TOPIC_ID = uuid.UUID(int=0)


def add_broker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", metavar="HOST:PORT",
                        help=f"the broker (default: $MINIKAFKA_HOST, else {DEFAULT_ADDRESS})")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                        help="how long to keep trying an unreachable broker (default 5)")


def broker_address(args: argparse.Namespace) -> str:
    """``--host``, else ``$MINIKAFKA_HOST`` (``:9092`` meaning localhost), else localhost:9092."""
    address: str = args.host or os.environ.get("MINIKAFKA_HOST", "").strip() or DEFAULT_ADDRESS
    if address.startswith(":"):
        address = "localhost" + address
    return address


def _exchange(requests: tuple[Request, ...]) -> Generator[Send, Any, list[Any]]:
    bodies: list[Any] = yield Send(requests)
    return bodies


class Admin:
    """A connection to one broker for administrative requests. Use it as a context manager."""

    def __init__(self, address: str, *, timeout: float) -> None:
        self.address = address
        self._link = _Link(address, client_id="minikafka-cli", request_timeout=max(timeout, 5.0),
                           retry_timeout=timeout)

    def __enter__(self) -> Admin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._link.close()

    def ask(self, api_name: str, body: dict[str, Any]) -> Any:
        """Send one request; its decoded response body."""
        return self.ask_many([(api_name, body)])[0]

    def ask_many(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> list[Any]:
        """Send requests pipelined on the connection; their response bodies, in order."""
        built = tuple(Request(api_by_name(name), body) for name, body in requests)
        return self._link.run(_exchange(built))

    # --- the requests ``topics`` and ``groups`` send -------------------------------------

    def metadata(self, topics: Iterable[str] | None) -> Any:
        return self.ask("Metadata", {
            "topics": None if topics is None else [{"name": name, "topic_id": _NO_TOPIC_ID}
                                                   for name in topics],
            "allow_auto_topic_creation": False,
            "include_cluster_authorized_operations": False,
            "include_topic_authorized_operations": False,
        })

    def offsets(self, partitions: Iterable[tuple[str, int]], timestamp: int) -> dict[tuple[str, int],
                                                                                     int]:
        """ListOffsets: each partition's earliest (-2) or next (-1) offset; -1 where unknown."""
        by_topic: dict[str, list[int]] = {}
        for topic, partition in partitions:
            by_topic.setdefault(topic, []).append(partition)
        if not by_topic:
            return {}
        response = self.ask("ListOffsets", {
            "replica_id": -1, "isolation_level": 0, "timeout_ms": 5000,
            "topics": [{"name": topic, "partitions": [
                {"partition_index": index, "current_leader_epoch": -1, "timestamp": timestamp,
                 "max_num_offsets": 1} for index in indexes]} for topic, indexes in by_topic.items()],
        })
        found = {}
        for topic in response.topics:
            for partition in topic.partitions:
                offset = partition.offset if partition.error_code == 0 else -1
                found[(topic.name, partition.partition_index)] = offset
        return found

    def committed(self, group: str) -> Any:
        """OffsetFetch of every partition ``group`` committed (a null topic list)."""
        return self.ask("OffsetFetch", {
            "group_id": group, "topics": None, "require_stable": False,
            "groups": [{"group_id": group, "member_id": None, "member_epoch": -1,
                        "topics": None}],
        })


def table(headings: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns, two spaces apart, headings first."""
    lines = [list(headings)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(line[column]) for line in lines) for column in range(len(headings))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                     .rstrip() for line in lines)
