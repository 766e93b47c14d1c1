"""List, describe and delete consumer groups.

  list               every group, its state and how many members it has
  describe GROUP     state, members with what each was assigned, and per partition
                     the committed offset, the log end and the lag between them
  delete GROUP...    groups with no members, with their committed offsets

The lag of a partition is how many messages the group has not committed yet
(log end minus committed offset); "-" where the group committed nothing.

Examples:
  minikafka groups list
  minikafka groups describe billing
"""

from __future__ import annotations

import argparse
from typing import Any

from minikafka.cli._names import group_id
from minikafka.protocol.consumer_protocol import (
    CONSUMER_PROTOCOL_TYPE,
    InvalidConsumerProtocol,
    decode_assignment,
)
from minikafka.protocol.errors import for_code

from . import CommandError
from ._admin import LATEST, Admin, add_broker_arguments, broker_address, table
from ._client_options import reported_errors

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every group, its state and member count")
    add_broker_arguments(listing)
    describe = actions.add_parser("describe",
                                  help="members, assignments, committed offsets and lag")
    describe.add_argument("group", type=group_id)
    add_broker_arguments(describe)
    delete = actions.add_parser("delete", help="delete empty groups and their offsets")
    delete.add_argument("groups", nargs="+", metavar="GROUP", type=group_id)
    add_broker_arguments(delete)


def run(args: argparse.Namespace) -> int:
    address = broker_address(args)
    with reported_errors(address), Admin(address, timeout=args.timeout) as admin:
        if args.action == "list":
            return _list(admin)
        if args.action == "describe":
            return _describe(admin, args.group)
        return _delete(admin, args.groups)


def _describe_groups(admin: Admin, groups: list[str]) -> list[Any]:
    if not groups:
        return []
    response = admin.ask("DescribeGroups", {"groups": groups,
                                            "include_authorized_operations": False})
    return list(response.groups)


def _list(admin: Admin) -> int:
    listed = admin.ask("ListGroups", {"states_filter": [], "types_filter": []})
    if listed.error_code:
        raise CommandError(f"the broker refused to list groups: {for_code(listed.error_code).name}")
    described = _describe_groups(admin, sorted(group.group_id for group in listed.groups))
    print(table(["GROUP", "STATE", "MEMBERS", "PROTOCOL"], [
        (group.group_id, group.group_state, len(group.members), group.protocol_type or "-")
        for group in described]))
    return 0


def _assignment(member: Any, protocol_type: str) -> dict[str, tuple[int, ...]]:
    if protocol_type != CONSUMER_PROTOCOL_TYPE:
        return {}
    try:
        return dict(decode_assignment(bytes(member.member_assignment)).partitions)
    except InvalidConsumerProtocol:
        return {}


def _format_assignment(assigned: dict[str, tuple[int, ...]]) -> str:
    if not assigned:
        return "-"
    return " ".join(f"{topic}[{','.join(map(str, partitions))}]"
                    for topic, partitions in sorted(assigned.items()))


def _committed_topics(response: Any) -> list[Any]:
    # OffsetFetch v8+ answers per group; earlier versions answer for the one group asked.
    return list(response.groups[0].topics if hasattr(response, "groups") else response.topics)


def _describe(admin: Admin, group_id: str) -> int:
    (group,) = _describe_groups(admin, [group_id])
    if group.error_code:
        raise CommandError(f"cannot describe {group_id}: {for_code(group.error_code).name}")
    committed_response = admin.committed(group_id)
    committed = {
        (topic.name, partition.partition_index): partition.committed_offset
        for topic in _committed_topics(committed_response) for partition in topic.partitions
        if partition.error_code == 0 and partition.committed_offset >= 0
    }
    if group.group_state == "Dead" and not committed:
        raise CommandError(f"no group {group_id}")
    owners: dict[tuple[str, int], str] = {}
    members = []
    for member in group.members:
        assigned = _assignment(member, group.protocol_type)
        for topic, partitions in assigned.items():
            for partition in partitions:
                owners[(topic, partition)] = member.member_id
        members.append((member.member_id, member.client_id, member.client_host,
                        _format_assignment(assigned)))
    protocol = "/".join(part for part in (group.protocol_type, group.protocol_data) if part)
    print(f"group {group_id}: {group.group_state}, {len(members)} "
          f"member{'' if len(members) == 1 else 's'}" + (f", protocol {protocol}" if protocol else ""))
    if members:
        print()
        print(table(["MEMBER", "CLIENT", "HOST", "ASSIGNMENT"], members))
    shown = sorted(set(committed) | set(owners))
    if shown:
        ends = admin.offsets(shown, LATEST)
        rows = []
        for key in shown:
            offset, end = committed.get(key), ends.get(key, -1)
            lag = "-" if offset is None or end < 0 else max(end - offset, 0)
            rows.append((key[0], key[1], "-" if offset is None else offset,
                         "-" if end < 0 else end, lag, owners.get(key, "-")))
        print()
        print(table(["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "MEMBER"], rows))
    return 0


def _delete(admin: Admin, groups: list[str]) -> int:
    response = admin.ask("DeleteGroups", {"groups_names": groups})
    failed = []
    for result in response.results:
        if result.error_code:
            error = for_code(result.error_code)
            reason = {"GROUP_ID_NOT_FOUND": "no such group",
                      "NON_EMPTY_GROUP": "it still has members"}.get(error.name, error.name)
            failed.append(f"{result.group_id}: {reason}")
        else:
            print(f"deleted {result.group_id}")
    if failed:
        raise CommandError("cannot delete " + "; ".join(failed))
    return 0
