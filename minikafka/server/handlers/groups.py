"""Consumer groups: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, ListGroups, DescribeGroups, DeleteGroups.

Each handler translates between the wire and ``GroupCoordinator`` (see
minikafka.server.groups), which holds the state machine. JoinGroup and
SyncGroup are ``async``: their answers wait for the group's rebalance, while
other connections carry on.
"""

from __future__ import annotations

from typing import Any

from minikafka.protocol import errors

from ..broker import RequestContext
from ..groups import JoinRequest, SyncRequest

__all__ = [
    "handle_delete_groups",
    "handle_describe_groups",
    "handle_heartbeat",
    "handle_join_group",
    "handle_leave_group",
    "handle_list_groups",
    "handle_sync_group",
]

# authorized_operations when the client did not ask for them (Kafka's INT32_MIN).
_OPERATIONS_NOT_REQUESTED = -(2**31)
# Without ACLs every client may do what Kafka allows on a group: READ (3), DELETE (6),
# DESCRIBE (8), as a bit set of ACL operation codes.
_GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8)


def client_host(ctx: RequestContext) -> str:
    """The client's address as Kafka reports it in DescribeGroups: ``/127.0.0.1``."""
    peer = ctx.peer
    if peer.startswith("["):
        host = peer[1:].partition("]")[0]
    else:
        host = peer.rpartition(":")[0] or peer
    return f"/{host}"


async def handle_join_group(request: Any, ctx: RequestContext) -> dict[str, Any]:
    result = await ctx.broker.groups.join_group(JoinRequest(
        group_id=request.group_id,
        member_id=request.member_id,
        session_timeout_ms=request.session_timeout_ms,
        rebalance_timeout_ms=request.rebalance_timeout_ms,
        protocol_type=request.protocol_type,
        protocols=tuple((protocol.name, bytes(protocol.metadata)) for protocol in request.protocols),
        group_instance_id=getattr(request, "group_instance_id", None),
        require_known_member_id=ctx.version >= 4,
        client_id=ctx.header.client_id or "",
        client_host=client_host(ctx),
    ))
    return {
        "throttle_time_ms": 0,
        "error_code": result.error_code,
        "generation_id": result.generation_id,
        "protocol_type": result.protocol_type,
        "protocol_name": result.protocol_name or "",
        "leader": result.leader,
        "member_id": result.member_id,
        "members": [
            {"member_id": member.member_id, "group_instance_id": member.group_instance_id,
             "metadata": member.metadata}
            for member in result.members
        ],
    }


async def handle_sync_group(request: Any, ctx: RequestContext) -> dict[str, Any]:
    result = await ctx.broker.groups.sync_group(SyncRequest(
        group_id=request.group_id,
        generation_id=request.generation_id,
        member_id=request.member_id,
        group_instance_id=getattr(request, "group_instance_id", None),
        assignments={each.member_id: bytes(each.assignment) for each in request.assignments},
    ))
    return {"throttle_time_ms": 0, "error_code": result.error_code,
            "assignment": result.assignment}


def handle_heartbeat(request: Any, ctx: RequestContext) -> dict[str, Any]:
    error_code = ctx.broker.groups.heartbeat(
        request.group_id, request.generation_id, request.member_id,
        getattr(request, "group_instance_id", None),
    )
    return {"throttle_time_ms": 0, "error_code": error_code}


def handle_leave_group(request: Any, ctx: RequestContext) -> dict[str, Any]:
    if ctx.version >= 3:
        leaving = [(member.member_id, member.group_instance_id) for member in request.members]
    else:
        leaving = [(request.member_id, None)]
    results = ctx.broker.groups.leave_group(request.group_id, leaving)
    return {
        "throttle_time_ms": 0,
        # Versions 0-2 name one member: its error is the response's.
        "error_code": 0 if ctx.version >= 3 else results[0],
        "members": [
            {"member_id": member_id, "group_instance_id": instance_id, "error_code": error_code}
            for (member_id, instance_id), error_code in zip(leaving, results, strict=True)
        ],
    }


def handle_list_groups(request: Any, ctx: RequestContext) -> dict[str, Any]:
    return {
        "throttle_time_ms": 0,
        "error_code": 0,
        "groups": [{"group_id": group_id, "protocol_type": protocol_type}
                   for group_id, protocol_type in ctx.broker.groups.list_groups()],
    }


def handle_describe_groups(request: Any, ctx: RequestContext) -> dict[str, Any]:
    operations = (_GROUP_OPERATIONS if getattr(request, "include_authorized_operations", False)
                  else _OPERATIONS_NOT_REQUESTED)
    groups = []
    for group_id in request.groups:
        if not group_id:
            groups.append({"error_code": errors.InvalidGroupIdError.code, "group_id": group_id,
                           "group_state": "", "protocol_type": "", "protocol_data": "",
                           "members": [], "authorized_operations": operations})
            continue
        description = ctx.broker.groups.describe_group(group_id)
        groups.append({
            "error_code": 0,
            "group_id": group_id,
            "group_state": description.state.value,
            "protocol_type": description.protocol_type,
            "protocol_data": description.protocol_name,
            "members": [
                {"member_id": member.member_id, "group_instance_id": member.group_instance_id,
                 "client_id": member.client_id, "client_host": member.client_host,
                 "member_metadata": member.metadata, "member_assignment": member.assignment}
                for member in description.members
            ],
            "authorized_operations": operations,
        })
    return {"throttle_time_ms": 0, "groups": groups}


def handle_delete_groups(request: Any, ctx: RequestContext) -> dict[str, Any]:
    return {
        "throttle_time_ms": 0,
        "results": [{"group_id": group_id, "error_code": ctx.broker.groups.delete_group(group_id)}
                    for group_id in request.groups_names],
    }
