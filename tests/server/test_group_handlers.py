"""Consumer-group and offset APIs through the dispatcher, in every served version, with no network.

Every test takes ``autojump_clock`` (pytest-trio only uses a clock the test
itself asks for), so initial rebalance delays take no real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

from minikafka.protocol import errors
from minikafka.protocol.registry import api_by_name
from minikafka.server.broker import Broker
from minikafka.server.config import Config
from minikafka.storage.memory import MemoryBackend

from .helpers import call

JOIN_GROUP = api_by_name("JoinGroup")
SYNC_GROUP = api_by_name("SyncGroup")
HEARTBEAT = api_by_name("Heartbeat")
LEAVE_GROUP = api_by_name("LeaveGroup")
LIST_GROUPS = api_by_name("ListGroups")
DESCRIBE_GROUPS = api_by_name("DescribeGroups")
DELETE_GROUPS = api_by_name("DeleteGroups")
OFFSET_COMMIT = api_by_name("OffsetCommit")
OFFSET_FETCH = api_by_name("OffsetFetch")
FIND_COORDINATOR = api_by_name("FindCoordinator")

MEMBER_ID_REQUIRED = errors.MemberIdRequiredError.code
REBALANCE_IN_PROGRESS = errors.RebalanceInProgressError.code
UNKNOWN_MEMBER_ID = errors.UnknownMemberIdError.code


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    broker = Broker(MemoryBackend(), Config(group_initial_rebalance_delay_ms=300))
    broker.storage.create_topic("t", 2)
    async with trio.open_nursery() as nursery:
        await nursery.start(broker.groups.serve_timers)
        yield broker
        nursery.cancel_scope.cancel()


def join_body(member_id: str = "", *, group: str = "g", metadata: bytes = b"subscription",
              instance_id: str | None = None) -> dict[str, Any]:
    return {"group_id": group, "session_timeout_ms": 10_000, "rebalance_timeout_ms": 30_000,
            "member_id": member_id, "group_instance_id": instance_id, "protocol_type": "consumer",
            "protocols": [{"name": "range", "metadata": metadata}]}


async def join(broker: Broker, version: int, **kwargs: Any) -> Any:
    """A full join in ``version``: with the MEMBER_ID_REQUIRED round trip from version 4."""
    response = await call(broker, JOIN_GROUP, version, join_body(**kwargs))
    if version >= 4:
        assert response.error_code == MEMBER_ID_REQUIRED
        assert response.member_id.startswith("minikafka-")  # the client id, a dash, a UUID
        assert response.generation_id == -1
        response = await call(broker, JOIN_GROUP, version,
                              join_body(response.member_id, **kwargs))
    assert response.error_code == 0
    return response


async def stable_member(broker: Broker) -> Any:
    """The only member of group "g", joined and synced (offsets may be committed)."""
    member = await join(broker, 5)
    await call(broker, SYNC_GROUP, 3, sync_body(member.member_id, member.generation_id,
                                                {member.member_id: b""}))
    return member


def sync_body(member_id: str, generation: int, assignments: dict[str, bytes],
              group: str = "g") -> dict[str, Any]:
    return {"group_id": group, "generation_id": generation, "member_id": member_id,
            "group_instance_id": None,
            "assignments": [{"member_id": m, "assignment": a} for m, a in assignments.items()]}


def commit_body(generation: int, member_id: str, offsets: dict[tuple[str, int], int],
                group: str = "g", metadata: str | None = "meta") -> dict[str, Any]:
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for (topic, partition), offset in offsets.items():
        by_topic.setdefault(topic, []).append({
            "partition_index": partition, "committed_offset": offset,
            "committed_leader_epoch": 4, "committed_metadata": metadata})
    return {"group_id": group, "generation_id_or_member_epoch": generation,
            "member_id": member_id, "group_instance_id": None, "retention_time_ms": -1,
            "topics": [{"name": name, "partitions": parts} for name, parts in by_topic.items()]}


def fetch_body(group: str, topics: dict[str, list[int]] | None) -> dict[str, Any]:
    return {"group_id": group, "topics": None if topics is None else [
        {"name": name, "partition_indexes": indexes} for name, indexes in topics.items()]}


@pytest.mark.parametrize("version", range(2, 6))
async def test_join_sync_heartbeat_leave_in_every_version(
    autojump_clock: trio.testing.MockClock, broker: Broker, version: int
) -> None:
    results: dict[str, Any] = {}

    async def member(name: str) -> None:
        results[name] = await join(broker, version, metadata=name.encode())

    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(member, "a")
        nursery.start_soon(member, "b")
    assert trio.current_time() - started < 1  # the initial delay, extended once
    leader = next(r for r in results.values() if r.leader == r.member_id)
    follower = next(r for r in results.values() if r.leader != r.member_id)
    assert leader.generation_id == follower.generation_id == 1
    assert leader.protocol_name == "range"
    assert sorted(bytes(m.metadata) for m in leader.members) == [b"a", b"b"]
    assert follower.members == []

    assignments = {leader.member_id: b"\x00\x01leader", follower.member_id: b"\x00\x01follower"}
    sync_version = min(version - 2, 3)
    synced: dict[str, bytes] = {}

    async def sync(member_id: str, body_assignments: dict[str, bytes]) -> None:
        response = await call(broker, SYNC_GROUP, sync_version, sync_body(member_id, 1, body_assignments))
        assert response.error_code == 0
        synced[member_id] = bytes(response.assignment)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(sync, follower.member_id, {})
        await trio.sleep(1)  # the follower waits for the leader's assignment
        assert not synced
        nursery.start_soon(sync, leader.member_id, assignments)
    assert synced == assignments

    heartbeat = {"group_id": "g", "generation_id": 1, "member_id": follower.member_id,
                 "group_instance_id": None}
    assert (await call(broker, HEARTBEAT, sync_version, heartbeat)).error_code == 0

    if version >= 5:  # LeaveGroup v3: members in a batch, an error each
        leave = {"group_id": "g", "members": [{"member_id": leader.member_id,
                                               "group_instance_id": None},
                                              {"member_id": "nobody", "group_instance_id": None}]}
        response = await call(broker, LEAVE_GROUP, 3, leave)
        assert response.error_code == 0
        assert [m.error_code for m in response.members] == [0, UNKNOWN_MEMBER_ID]
    else:
        leave = {"group_id": "g", "member_id": leader.member_id}
        assert (await call(broker, LEAVE_GROUP, sync_version, leave)).error_code == 0
        leave = {"group_id": "g", "member_id": "nobody"}
        assert (await call(broker, LEAVE_GROUP, sync_version, leave)).error_code == UNKNOWN_MEMBER_ID
    assert (await call(broker, HEARTBEAT, sync_version, heartbeat)).error_code == REBALANCE_IN_PROGRESS


async def test_find_coordinator_names_this_broker_for_groups(
    autojump_clock: trio.testing.MockClock, broker: Broker
) -> None:
    response = await call(broker, FIND_COORDINATOR, 2, {"key": "g", "key_type": 0})
    assert (response.error_code, response.node_id, response.port) == (0, 0, 9092)


@pytest.mark.parametrize("version", range(0, 5))
async def test_list_and_describe_groups(
    autojump_clock: trio.testing.MockClock, broker: Broker, version: int
) -> None:
    first = await join(broker, 5, metadata=b"meta")
    await call(broker, SYNC_GROUP, 3, sync_body(first.member_id, 1, {first.member_id: b"mine"}))
    listed = await call(broker, LIST_GROUPS, min(version, 2), {})
    assert [(g.group_id, g.protocol_type) for g in listed.groups] == [("g", "consumer")]
    body = {"groups": ["g", "nope"], "include_authorized_operations": True}
    described = await call(broker, DESCRIBE_GROUPS, version, body)
    group, unknown = described.groups
    assert (group.error_code, group.group_state, group.protocol_type, group.protocol_data) == (
        0, "Stable", "consumer", "range")
    (member,) = group.members
    assert (member.member_id, member.client_id, member.client_host) == (
        first.member_id, "minikafka", "/test")
    assert (bytes(member.member_metadata), bytes(member.member_assignment)) == (b"meta", b"mine")
    assert (unknown.error_code, unknown.group_state, unknown.members) == (0, "Dead", [])
    if version >= 3:
        assert group.authorized_operations == (1 << 3) | (1 << 6) | (1 << 8)


async def test_delete_groups(
    autojump_clock: trio.testing.MockClock, broker: Broker
) -> None:
    member = await join(broker, 5)
    await call(broker, OFFSET_COMMIT, 7, commit_body(-1, "", {("t", 0): 5}, group="idle"))
    body = {"groups_names": ["g", "idle", "nope"]}
    response = await call(broker, DELETE_GROUPS, 1, body)
    assert [(r.group_id, r.error_code) for r in response.results] == [
        ("g", errors.NonEmptyGroupError.code), ("idle", 0),
        ("nope", errors.GroupIdNotFoundError.code)]
    fetched = await call(broker, OFFSET_FETCH, 5, fetch_body("idle", {"t": [0]}))
    assert fetched.topics[0].partitions[0].committed_offset == -1
    assert member.member_id


@pytest.mark.parametrize("version", range(2, 8))
async def test_offsets_are_committed_and_fetched(
    autojump_clock: trio.testing.MockClock, broker: Broker, version: int
) -> None:
    member = await stable_member(broker)
    body = commit_body(member.generation_id, member.member_id, {("t", 0): 10, ("t", 1): 20,
                                                               ("missing", 0): 1, ("t", 9): 1})
    response = await call(broker, OFFSET_COMMIT, version, body)
    assert {(t.name, p.partition_index): p.error_code
            for t in response.topics for p in t.partitions} == {
        ("t", 0): 0, ("t", 1): 0,
        ("missing", 0): errors.UnknownTopicOrPartitionError.code,
        ("t", 9): errors.UnknownTopicOrPartitionError.code}
    for fetch_version in range(1, 6):
        fetched = await call(broker, OFFSET_FETCH, fetch_version, fetch_body("g", {"t": [0, 1]}))
        partitions = {p.partition_index: p for p in fetched.topics[0].partitions}
        assert (partitions[0].committed_offset, partitions[1].committed_offset) == (10, 20)
        assert partitions[0].metadata == "meta"
        if fetch_version >= 5:
            assert partitions[0].committed_leader_epoch == (4 if version >= 6 else -1)


async def test_offset_fetch_answers_minus_one_where_nothing_was_committed(
    autojump_clock: trio.testing.MockClock, broker: Broker
) -> None:
    fetched = await call(broker, OFFSET_FETCH, 1, fetch_body("never-seen", {"t": [0, 1]}))
    assert [(p.partition_index, p.committed_offset, p.error_code)
            for p in fetched.topics[0].partitions] == [(0, -1, 0), (1, -1, 0)]


async def test_offset_fetch_with_null_topics_lists_everything_committed(
    autojump_clock: trio.testing.MockClock, broker: Broker
) -> None:
    await call(broker, OFFSET_COMMIT, 7, commit_body(-1, "", {("t", 1): 7, ("t", 0): 3},
                                                     metadata=None))
    fetched = await call(broker, OFFSET_FETCH, 2, fetch_body("g", None))
    assert fetched.error_code == 0
    assert [(t.name, p.partition_index, p.committed_offset, p.metadata)
            for t in fetched.topics for p in t.partitions] == [("t", 0, 3, ""), ("t", 1, 7, "")]


async def test_commits_from_outside_the_generation_are_refused(
    autojump_clock: trio.testing.MockClock, broker: Broker
) -> None:
    member = await stable_member(broker)
    stale = commit_body(member.generation_id + 1, member.member_id, {("t", 0): 1})
    response = await call(broker, OFFSET_COMMIT, 7, stale)
    assert response.topics[0].partitions[0].error_code == errors.IllegalGenerationError.code
    stranger = commit_body(member.generation_id, "stranger", {("t", 0): 1})
    response = await call(broker, OFFSET_COMMIT, 7, stranger)
    assert response.topics[0].partitions[0].error_code == UNKNOWN_MEMBER_ID
