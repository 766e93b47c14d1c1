"""The group coordinator without a network: its state machine by hand, its timers on trio's clock.

Most tests drive ``GroupCoordinator``'s plain core with a clock they move
themselves and record what the callbacks deliver; the last ones run the
awaitable layer and ``serve_timers`` under trio's autojump clock, so
session and rebalance timeouts take no real time.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import attrs
import pytest
import trio
import trio.testing

from minikafka.protocol import errors
from minikafka.server.groups import (
    GroupCoordinator,
    GroupSettings,
    GroupState,
    JoinRequest,
    JoinResult,
    SyncRequest,
    SyncResult,
)
from minikafka.storage.offsets import CommittedOffset, MemoryOffsets

T = TypeVar("T")

REBALANCE_IN_PROGRESS = errors.RebalanceInProgressError.code
UNKNOWN_MEMBER_ID = errors.UnknownMemberIdError.code
ILLEGAL_GENERATION = errors.IllegalGenerationError.code
MEMBER_ID_REQUIRED = errors.MemberIdRequiredError.code

DELAY_MS = 300
SESSION_MS = 10_000
REBALANCE_MS = 30_000


class SecondsClock:
    """A monotonic clock in seconds that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Box(Generic[T]):
    """Catches what a callback delivers."""

    def __init__(self) -> None:
        self.values: list[T] = []

    def __call__(self, value: T) -> None:
        self.values.append(value)

    @property
    def answered(self) -> bool:
        return bool(self.values)

    @property
    def result(self) -> T:
        assert len(self.values) == 1, f"expected one answer, got {self.values}"
        return self.values[0]


@attrs.define
class Harness:
    """A coordinator on a hand-moved clock, with shorthand for requests."""

    settings: GroupSettings = attrs.Factory(lambda: GroupSettings(initial_rebalance_delay_ms=DELAY_MS))
    clock: SecondsClock = attrs.Factory(SecondsClock)
    offsets: MemoryOffsets = attrs.Factory(MemoryOffsets)
    coordinator: GroupCoordinator = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.coordinator = GroupCoordinator(self.offsets, self.settings, clock=self.clock)

    def advance(self, ms: int) -> None:
        self.clock.now += ms / 1000
        self.coordinator.expire_nowait()

    def settle(self) -> None:
        """Let the initial delay run out: once, and once more if others joined meanwhile."""
        self.advance(DELAY_MS)
        self.advance(DELAY_MS)

    def join(self, member_id: str = "", *, group: str = "g",
             protocols: tuple[tuple[str, bytes], ...] = (("range", b"range-meta"),),
             protocol_type: str = "consumer", client_id: str = "client",
             session_ms: int = SESSION_MS, rebalance_ms: int = REBALANCE_MS,
             instance_id: str | None = None, require_known_member_id: bool = True,
             ) -> Box[JoinResult]:
        box: Box[JoinResult] = Box()
        self.coordinator.join_group_nowait(JoinRequest(
            group_id=group, member_id=member_id, session_timeout_ms=session_ms,
            rebalance_timeout_ms=rebalance_ms, protocol_type=protocol_type, protocols=protocols,
            group_instance_id=instance_id, require_known_member_id=require_known_member_id,
            client_id=client_id, client_host="/127.0.0.1",
        ), box)
        return box

    def join_with_id(self, **kwargs: Any) -> tuple[str, Box[JoinResult]]:
        """The two-step join of version 4+: get a member id, join with it."""
        first = self.join(**kwargs)
        assert first.result.error_code == MEMBER_ID_REQUIRED
        member_id = first.result.member_id
        return member_id, self.join(member_id, **kwargs)

    def sync(self, member_id: str, generation: int, assignments: dict[str, bytes] | None = None,
             *, group: str = "g", instance_id: str | None = None) -> Box[SyncResult]:
        box: Box[SyncResult] = Box()
        self.coordinator.sync_group_nowait(SyncRequest(
            group_id=group, generation_id=generation, member_id=member_id,
            assignments=assignments or {}, group_instance_id=instance_id,
        ), box)
        return box

    def heartbeat(self, member_id: str, generation: int, *, group: str = "g") -> int:
        return self.coordinator.heartbeat(group, generation, member_id)

    def state(self, group: str = "g") -> GroupState:
        return self.coordinator.describe_group(group).state

    def stable_group(self, count: int, **kwargs: Any) -> list[str]:
        """``count`` members joined in one generation and synced; their ids, leader first."""
        joins = [self.join_with_id(**kwargs) for _ in range(count)]
        self.settle()
        results = [box.result for _, box in joins]
        generation = results[0].generation_id
        leader = results[0].leader
        ids = [member_id for member_id, _ in joins]
        syncs = [self.sync(member_id, generation) for member_id in ids if member_id != leader]
        self.sync(leader, generation, {member_id: member_id.encode() for member_id in ids})
        assert all(box.result.error_code == 0 for box in syncs)
        assert self.state(kwargs.get("group", "g")) is GroupState.STABLE
        return [leader] + [member_id for member_id in ids if member_id != leader]


@pytest.fixture
def h() -> Harness:
    return Harness()


# --- joining ----------------------------------------------------------------------------


def test_a_first_join_without_a_member_id_is_given_one(h: Harness) -> None:
    box = h.join(client_id="my-app")
    assert box.result.error_code == MEMBER_ID_REQUIRED
    assert box.result.member_id.startswith("my-app-")
    assert h.state() is GroupState.EMPTY  # nobody has joined yet


def test_joining_with_the_given_id_completes_after_the_initial_delay(h: Harness) -> None:
    member_id, box = h.join_with_id()
    assert not box.answered
    assert h.state() is GroupState.PREPARING_REBALANCE
    h.advance(DELAY_MS - 1)
    assert not box.answered
    h.advance(1)
    result = box.result
    assert (result.error_code, result.generation_id, result.leader, result.member_id) == (
        0, 1, member_id, member_id)
    assert result.protocol_type == "consumer"
    assert result.protocol_name == "range"
    assert [(m.member_id, m.metadata) for m in result.members] == [(member_id, b"range-meta")]
    assert h.state() is GroupState.COMPLETING_REBALANCE


def test_versions_before_4_join_without_the_member_id_round_trip(h: Harness) -> None:
    box = h.join(require_known_member_id=False, client_id="old")
    h.advance(DELAY_MS)
    assert box.result.error_code == 0
    assert box.result.member_id.startswith("old-")


def test_members_arriving_during_the_delay_share_the_first_generation(h: Harness) -> None:
    first_id, first = h.join_with_id()
    h.advance(200)
    second_id, second = h.join_with_id()  # arrives within the delay: it is extended
    h.advance(DELAY_MS - 200)
    assert not first.answered
    h.advance(DELAY_MS)
    assert first.result.generation_id == second.result.generation_id == 1
    assert {m.member_id for m in first.result.members} == {first_id, second_id}
    assert first.result.leader == first_id
    assert second.result.members == ()  # only the leader learns the members


def test_the_initial_delay_stops_growing_at_the_rebalance_timeout(h: Harness) -> None:
    _, first = h.join_with_id(rebalance_ms=1000)
    waited = 0
    while not first.answered:  # a new member every 250 ms keeps extending the delay...
        h.join_with_id(rebalance_ms=1000)
        h.advance(250)
        waited += 250
    assert waited == 1000  # ...but not past the rebalance timeout
    assert first.result.generation_id == 1
    assert len(first.result.members) == 5


def test_the_protocol_is_one_every_member_supports(h: Harness) -> None:
    a, first = h.join_with_id(protocols=(("range", b"a-r"), ("roundrobin", b"a-rr")))
    b, second = h.join_with_id(protocols=(("sticky", b"b-s"), ("roundrobin", b"b-rr")))
    h.settle()
    assert first.result.protocol_name == second.result.protocol_name == "roundrobin"
    assert {m.member_id: m.metadata for m in first.result.members} == {a: b"a-rr", b: b"b-rr"}


def test_the_protocol_most_members_prefer_wins(h: Harness) -> None:
    h.join_with_id(protocols=(("range", b""), ("roundrobin", b"")))
    h.join_with_id(protocols=(("roundrobin", b""), ("range", b"")))
    _, third = h.join_with_id(protocols=(("roundrobin", b""), ("range", b"")))
    h.settle()
    assert third.result.protocol_name == "roundrobin"


def test_a_member_without_a_common_protocol_is_refused(h: Harness) -> None:
    h.join_with_id(protocols=(("range", b""),))
    box = h.join(protocols=(("sticky", b""),))
    assert box.result.error_code == errors.InconsistentGroupProtocolError.code
    other_type = h.join(protocol_type="connect")
    assert other_type.result.error_code == errors.InconsistentGroupProtocolError.code


@pytest.mark.parametrize("session_ms", [5_999, 1_800_001])
def test_session_timeouts_outside_the_limits_are_refused(h: Harness, session_ms: int) -> None:
    assert h.join(session_ms=session_ms).result.error_code == errors.InvalidSessionTimeoutError.code


def test_an_empty_group_id_is_refused(h: Harness) -> None:
    assert h.join(group="").result.error_code == errors.InvalidGroupIdError.code


def test_an_unknown_member_id_is_refused(h: Harness) -> None:
    assert h.join("made-up").result.error_code == UNKNOWN_MEMBER_ID
    h.join_with_id()
    assert h.join("made-up").result.error_code == UNKNOWN_MEMBER_ID


# --- syncing ------------------------------------------------------------------------------


def test_the_leaders_assignment_is_handed_out_byte_for_byte(h: Harness) -> None:
    a, first = h.join_with_id()
    b, _ = h.join_with_id()
    h.settle()
    generation = first.result.generation_id
    follower = h.sync(b, generation)
    assert not follower.answered  # waits for the leader
    blob = bytes(range(256)) * 3
    leader = h.sync(a, generation, {a: b"", b: blob, "not-a-member": b"ignored"})
    assert leader.result.error_code == 0
    assert leader.result.assignment == b""
    assert follower.result.assignment == blob
    assert follower.result.protocol_name == "range"
    assert h.state() is GroupState.STABLE
    again = h.sync(b, generation)  # a retry once stable is answered at once
    assert again.result.assignment == blob


def test_members_the_leader_left_out_get_an_empty_assignment(h: Harness) -> None:
    a, first = h.join_with_id()
    b, _ = h.join_with_id()
    h.settle()
    follower = h.sync(b, first.result.generation_id)
    h.sync(a, first.result.generation_id, {a: b"x"})
    assert (follower.result.error_code, follower.result.assignment) == (0, b"")


def test_sync_errors(h: Harness) -> None:
    assert h.sync("nobody", 1).result.error_code == UNKNOWN_MEMBER_ID  # no such group
    a, first = h.join_with_id()
    assert h.sync(a, 5).result.error_code == ILLEGAL_GENERATION
    assert h.sync(a, 0).result.error_code == REBALANCE_IN_PROGRESS  # generation 1 is not out yet
    h.settle()
    assert h.sync(a, first.result.generation_id + 1).result.error_code == ILLEGAL_GENERATION
    assert h.sync("stranger", first.result.generation_id).result.error_code == UNKNOWN_MEMBER_ID


# --- heartbeats and rebalances ------------------------------------------------------------


def test_heartbeats_answer_rebalance_in_progress_until_members_rejoin(h: Harness) -> None:
    (a,) = h.stable_group(1)
    assert h.heartbeat(a, 1) == 0
    b, newcomer = h.join_with_id()
    assert h.state() is GroupState.PREPARING_REBALANCE
    assert h.heartbeat(a, 1) == REBALANCE_IN_PROGRESS
    assert not newcomer.answered  # waits for a to rejoin
    rejoin = h.join(a)
    # Everyone is in: no need to wait for the rebalance timeout.
    assert rejoin.result.generation_id == newcomer.result.generation_id == 2
    assert rejoin.result.leader == a
    assert {m.member_id for m in rejoin.result.members} == {a, b}
    assert h.heartbeat(a, 2) == 0  # CompletingRebalance: heartbeats are fine
    assert h.heartbeat(a, 1) == ILLEGAL_GENERATION
    assert h.heartbeat("stranger", 2) == UNKNOWN_MEMBER_ID
    assert h.heartbeat(a, 2, group="other") == UNKNOWN_MEMBER_ID


def test_a_member_rejoining_without_changes_while_stable_gets_its_generation_back(h: Harness) -> None:
    leader, follower = h.stable_group(2)
    again = h.join(follower)
    assert again.result.generation_id == 1
    assert again.result.members == ()
    assert h.state() is GroupState.STABLE
    h.join(leader)  # the leader rejoining asks for a new assignment
    assert h.state() is GroupState.PREPARING_REBALANCE


def test_a_rebalance_voids_the_assignment_being_handed_out(h: Harness) -> None:
    _, first = h.join_with_id()
    b, _ = h.join_with_id()
    h.settle()
    waiting = h.sync(b, first.result.generation_id)
    h.join_with_id()  # a third member arrives before the leader synced
    assert waiting.result.error_code == REBALANCE_IN_PROGRESS


def test_a_member_that_leaves_starts_a_rebalance_the_others_complete(h: Harness) -> None:
    leader, follower = h.stable_group(2)
    assert h.coordinator.leave_group("g", [(leader, None)]) == [0]
    assert h.state() is GroupState.PREPARING_REBALANCE
    assert h.heartbeat(follower, 1) == REBALANCE_IN_PROGRESS
    rejoin = h.join(follower)
    assert rejoin.result.generation_id == 2
    assert rejoin.result.leader == follower  # leadership passed on
    assert h.coordinator.leave_group("g", [(leader, None), ("", "no-such-instance")]) == [
        UNKNOWN_MEMBER_ID, UNKNOWN_MEMBER_ID]
    assert h.coordinator.leave_group("nope", [(follower, None)]) == [UNKNOWN_MEMBER_ID]


def test_the_last_member_leaving_empties_the_group(h: Harness) -> None:
    (a,) = h.stable_group(1)
    h.coordinator.leave_group("g", [(a, None)])
    assert h.state() is GroupState.EMPTY
    assert h.coordinator.group("g").generation_id == 2  # type: ignore[union-attr]


def test_silent_members_expire_after_their_session_timeout(h: Harness) -> None:
    talker, silent = h.stable_group(2)
    for _ in range(4):  # the talker heartbeats every 3 s; the silent one never does
        h.advance(3000)
        if h.state() is not GroupState.STABLE:
            break
        assert h.heartbeat(talker, 1) == 0
    assert h.state() is GroupState.PREPARING_REBALANCE
    assert silent not in h.coordinator.group("g").members  # type: ignore[union-attr]
    assert h.heartbeat(talker, 1) == REBALANCE_IN_PROGRESS
    rejoin = h.join(talker)
    assert rejoin.result.generation_id == 2
    assert [m.member_id for m in rejoin.result.members] == [talker]
    assert h.heartbeat(silent, 2) == UNKNOWN_MEMBER_ID


def test_heartbeats_keep_a_member_well_past_its_session_timeout(h: Harness) -> None:
    (a,) = h.stable_group(1)
    for _ in range(20):
        h.advance(SESSION_MS // 2)
        assert h.heartbeat(a, 1) == 0


def test_members_that_do_not_rejoin_are_dropped_at_the_rebalance_timeout(h: Harness) -> None:
    quick, slow = h.stable_group(2)
    h.join_with_id()  # a newcomer starts a rebalance
    h.heartbeat(quick, 1)
    rejoined = h.join(quick)
    for _ in range(REBALANCE_MS // 5000 - 1):
        h.advance(5000)
        h.heartbeat(slow, 1)  # alive, but never rejoins
    assert not rejoined.answered
    h.advance(5000)
    assert rejoined.result.generation_id == 2
    assert slow not in {m.member_id for m in rejoined.result.members}
    assert h.heartbeat(slow, 2) == UNKNOWN_MEMBER_ID


def test_members_waiting_in_join_group_are_not_expired(h: Harness) -> None:
    a, b = h.stable_group(2, rebalance_ms=60_000)
    h.join(a)  # a rejoins; b keeps heartbeating but does not (yet)
    for _ in range(5):
        h.advance(SESSION_MS // 2)
        h.heartbeat(b, 1)
    assert a in h.coordinator.group("g").members  # type: ignore[union-attr]


def test_a_leader_that_never_syncs_is_expired_and_followers_rejoin(h: Harness) -> None:
    a, first = h.join_with_id()
    b, _ = h.join_with_id()
    h.settle()
    waiting = h.sync(b, first.result.generation_id)  # the leader crashed before syncing
    h.advance(SESSION_MS)
    assert waiting.result.error_code == REBALANCE_IN_PROGRESS
    assert a not in h.coordinator.group("g").members  # type: ignore[union-attr]


def test_a_member_id_handed_out_but_never_used_stops_holding_up_the_rebalance(h: Harness) -> None:
    (a,) = h.stable_group(1)
    newcomer = h.join()  # gets a member id, then crashes before using it
    assert newcomer.result.error_code == MEMBER_ID_REQUIRED
    h.join_with_id()  # another newcomer starts a rebalance
    rejoin = h.join(a)
    assert not rejoin.answered  # the unused id might still come
    h.advance(SESSION_MS)
    assert rejoin.result.generation_id == 2
    assert len(rejoin.result.members) == 2


def test_a_static_member_rejoining_fences_its_old_incarnation(h: Harness) -> None:
    old = h.join("", instance_id="pod-1")  # static members skip MEMBER_ID_REQUIRED
    h.advance(DELAY_MS)
    old_id = old.result.member_id
    assert old_id.startswith("pod-1-")
    h.sync(old_id, 1, {old_id: b"p0"})
    new = h.join("", instance_id="pod-1")
    assert h.coordinator.heartbeat("g", 1, old_id, "pod-1") == errors.FencedInstanceIdError.code
    h.advance(0)
    assert new.result.error_code == 0
    assert new.result.member_id != old_id


# --- administration ---------------------------------------------------------------------


def test_list_and_describe_groups(h: Harness) -> None:
    leader, follower = h.stable_group(2)
    h.coordinator.commit_offsets("offsets-only", -1, "", {("t", 0): CommittedOffset(3)})
    assert h.coordinator.list_groups() == [("g", "consumer"), ("offsets-only", "")]
    description = h.coordinator.describe_group("g")
    assert description.state is GroupState.STABLE
    assert (description.protocol_type, description.protocol_name) == ("consumer", "range")
    assert [(m.member_id, m.client_id, m.client_host, m.metadata, m.assignment)
            for m in description.members] == [
        (leader, "client", "/127.0.0.1", b"range-meta", leader.encode()),
        (follower, "client", "/127.0.0.1", b"range-meta", follower.encode()),
    ]
    h.join_with_id()
    preparing = h.coordinator.describe_group("g")
    assert preparing.state is GroupState.PREPARING_REBALANCE
    assert preparing.protocol_name == ""  # Kafka names the protocol only when stable
    assert all(m.metadata == m.assignment == b"" for m in preparing.members)
    unknown = h.coordinator.describe_group("nope")
    assert (unknown.state, unknown.protocol_type, unknown.members) == (GroupState.DEAD, "", ())


def test_delete_groups(h: Harness) -> None:
    h.stable_group(1)
    h.coordinator.commit_offsets("idle", -1, "", {("t", 0): CommittedOffset(9)})
    assert h.coordinator.delete_group("g") == errors.NonEmptyGroupError.code
    assert h.coordinator.delete_group("nope") == errors.GroupIdNotFoundError.code
    assert h.coordinator.delete_group("idle") == 0
    assert h.coordinator.fetch_offsets("idle", [("t", 0)]) == {("t", 0): None}
    assert [group for group, _ in h.coordinator.list_groups()] == ["g"]


# --- committed offsets ------------------------------------------------------------------


def test_members_commit_for_their_generation(h: Harness) -> None:
    leader, _ = h.stable_group(2)
    offsets = {("t", 0): CommittedOffset(5, metadata="m"), ("t", 1): CommittedOffset(7)}
    errors_by_partition, _ = h.coordinator.commit_offsets("g", 1, leader, offsets)
    assert errors_by_partition == {("t", 0): 0, ("t", 1): 0}
    fetched = h.coordinator.fetch_offsets("g", [("t", 0), ("t", 1), ("t", 2)])
    assert fetched[("t", 0)] is not None and fetched[("t", 0)].offset == 5  # type: ignore[union-attr]
    assert fetched[("t", 0)].metadata == "m"  # type: ignore[union-attr]
    assert fetched[("t", 2)] is None
    assert set(h.coordinator.fetch_offsets("g", None)) == {("t", 0), ("t", 1)}


@pytest.mark.parametrize("case", ["wrong generation", "stranger", "completing", "no group"])
def test_commits_that_are_refused(h: Harness, case: str) -> None:
    leader, _ = h.stable_group(2)
    group, generation, member, expected = "g", 1, leader, 0
    if case == "wrong generation":
        generation, expected = 0, ILLEGAL_GENERATION
    elif case == "stranger":
        member, expected = "stranger", UNKNOWN_MEMBER_ID
    elif case == "completing":
        h.join_with_id()
        h.join(leader)
        h.join(h.coordinator.describe_group("g").members[1].member_id)  # all in: completing
        generation, expected = 2, REBALANCE_IN_PROGRESS
    else:
        group, expected = "other", ILLEGAL_GENERATION
    result, _ = h.coordinator.commit_offsets(group, generation, member, {("t", 0): CommittedOffset(1)})
    assert result == {("t", 0): expected}
    assert h.coordinator.fetch_offsets(group, [("t", 0)]) == {("t", 0): None}


def test_members_may_commit_while_a_rebalance_prepares(h: Harness) -> None:
    leader, _ = h.stable_group(2)
    h.join_with_id()
    assert h.state() is GroupState.PREPARING_REBALANCE
    result, _ = h.coordinator.commit_offsets("g", 1, leader, {("t", 0): CommittedOffset(4)})
    assert result == {("t", 0): 0}


def test_metadata_over_the_limit_is_refused_per_partition(h: Harness) -> None:
    result, _ = h.coordinator.commit_offsets("g", -1, "", {
        ("t", 0): CommittedOffset(1, metadata="x" * 4097),
        ("t", 1): CommittedOffset(1, metadata="x" * 4096),
    })
    assert result == {("t", 0): errors.OffsetMetadataTooLargeError.code, ("t", 1): 0}


def test_groups_with_offsets_exist_again_after_a_restart() -> None:
    offsets = MemoryOffsets()
    before = Harness(offsets=offsets)
    before.stable_group(1)
    member = before.coordinator.describe_group("g").members[0].member_id
    before.coordinator.commit_offsets("g", 1, member, {("t", 0): CommittedOffset(11)})
    after = Harness(offsets=offsets)
    assert after.coordinator.list_groups() == [("g", "")]
    assert after.state() is GroupState.EMPTY
    assert after.coordinator.fetch_offsets("g", [("t", 0)])[("t", 0)] == offsets.committed("g")[("t", 0)]


def test_closing_answers_waiting_requests_with_not_coordinator(h: Harness) -> None:
    _, waiting = h.join_with_id()
    h.coordinator.close()
    assert waiting.result.error_code == errors.NotCoordinatorError.code
    assert h.join().result.error_code == errors.NotCoordinatorError.code


# --- the awaitable layer and its timers, on trio's clock -----------------------------------


def trio_request(member_id: str = "", client_id: str = "c", session_ms: int = 6000) -> JoinRequest:
    return JoinRequest(group_id="g", member_id=member_id, session_timeout_ms=session_ms,
                       rebalance_timeout_ms=REBALANCE_MS, protocol_type="consumer",
                       protocols=(("range", b"m"),), client_id=client_id)


async def join_twice(coordinator: GroupCoordinator, client_id: str) -> JoinResult:
    first = await coordinator.join_group(trio_request(client_id=client_id))
    assert first.error_code == MEMBER_ID_REQUIRED
    return await coordinator.join_group(trio_request(first.member_id))


async def test_two_members_join_and_sync_through_the_awaitable_layer(
        autojump_clock: trio.testing.MockClock) -> None:
    coordinator = GroupCoordinator(settings=GroupSettings(initial_rebalance_delay_ms=DELAY_MS))
    joined: dict[str, JoinResult] = {}
    synced: dict[str, SyncResult] = {}

    async def member(name: str) -> None:
        result = await join_twice(coordinator, name)
        joined[name] = result
        assignments = ({m.member_id: m.member_id.encode() for m in result.members}
                       if result.leader == result.member_id else {})
        synced[name] = await coordinator.sync_group(SyncRequest(
            group_id="g", generation_id=result.generation_id, member_id=result.member_id,
            assignments=assignments))

    async with trio.open_nursery() as nursery:
        await nursery.start(coordinator.serve_timers)
        started = trio.current_time()
        async with trio.open_nursery() as members:
            members.start_soon(member, "a")
            members.start_soon(member, "b")
        # b arrived during a's initial delay, which was extended once for it.
        assert trio.current_time() - started == pytest.approx(2 * DELAY_MS / 1000)
        nursery.cancel_scope.cancel()
    assert {result.generation_id for result in joined.values()} == {1}
    for name in "ab":
        assert synced[name].assignment == joined[name].member_id.encode()


async def test_the_timer_task_expires_a_silent_member(autojump_clock: trio.testing.MockClock) -> None:
    coordinator = GroupCoordinator(settings=GroupSettings(initial_rebalance_delay_ms=DELAY_MS))
    async with trio.open_nursery() as nursery:
        await nursery.start(coordinator.serve_timers)
        results: list[JoinResult] = []

        async def join(name: str) -> None:
            results.append(await join_twice(coordinator, name))

        async with trio.open_nursery() as members:
            members.start_soon(join, "alive")
            members.start_soon(join, "silent")
        alive = next(r for r in results if r.member_id.startswith("alive"))
        leader = next(r for r in results if r.leader == r.member_id)
        await coordinator.sync_group(SyncRequest(
            group_id="g", generation_id=1, member_id=leader.member_id, assignments={}))
        if leader is not alive:
            await coordinator.sync_group(SyncRequest(
                group_id="g", generation_id=1, member_id=alive.member_id, assignments={}))
        started = trio.current_time()
        while coordinator.heartbeat("g", 1, alive.member_id) == 0:
            await trio.sleep(1)
        # The silent member's 6 s session ran out; the live one is told to rejoin.
        assert 5 <= trio.current_time() - started <= 7
        rejoined = await coordinator.join_group(trio_request(alive.member_id))
        assert rejoined.generation_id == 2
        assert [m.member_id for m in rejoined.members] == [alive.member_id]
        nursery.cancel_scope.cancel()
