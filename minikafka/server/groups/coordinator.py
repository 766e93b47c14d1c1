"""The group coordinator: Kafka's classic consumer-group protocol as a state machine.

Each group moves through Kafka's states::

    Empty --join--> PreparingRebalance --everyone joined--> CompletingRebalance
      ^                ^        |                               | leader's SyncGroup
      |                |        +-- nobody left --> Empty       v
      |                +-- join, leave, expiry, new protocols -- Stable
      +-- DeleteGroups: Dead (removed)

A rebalance starts when a member joins, leaves, or is expired, or when the
leader or a member with new protocols rejoins. It completes when every
member has rejoined (or at the latest after the members' longest rebalance
timeout, dropping those that did not), and the first rebalance of an empty
group waits ``initial_rebalance_delay_ms`` first, so members started together
share one generation. Then the generation id goes up, the protocol every
member supports that most prefer is chosen, and every JoinGroup is answered;
only the leader's answer lists the members and their metadata. The leader's
SyncGroup carries everyone's assignment, handed out byte for byte.

The core is plain: ``join_group_nowait`` and ``sync_group_nowait`` take a
callback, called when the answer is known (at once, or when the rebalance
completes, perhaps during another member's request or ``expire_nowait``);
every other operation answers at once. Time comes from an injected clock
(seconds, trio's by default), so tests drive it by hand or with trio's
MockClock. ``join_group``/``sync_group`` are the awaitable versions the
broker uses, and ``serve_timers`` wakes up for session timeouts, rebalance
timeouts and the initial delay.

Kafka behaviour kept: MEMBER_ID_REQUIRED for version 4+ joins without a
member id; heartbeats answer REBALANCE_IN_PROGRESS while a rebalance
prepares; members with a JoinGroup or SyncGroup in progress are not expired;
offsets may be committed while a rebalance prepares, by members of the
current generation, and by anyone with generation -1 while the group is
empty (consumers that assign partitions themselves). Simplified: a static
member (group.instance.id) that rejoins replaces its old member id and
triggers a rebalance, where Kafka would hand back the old assignment without
one; membership does not survive a restart (committed offsets do).
"""

from __future__ import annotations

import heapq
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import trio

from minikafka.protocol import errors
from minikafka.storage.offsets import CommittedOffset, MemoryOffsets, OffsetStore, TopicPartition

from ._model import (
    Group,
    GroupDescription,
    GroupSettings,
    GroupState,
    JoinCallback,
    JoinRequest,
    JoinResult,
    Member,
    SyncCallback,
    SyncRequest,
    SyncResult,
)

__all__ = ["GroupCoordinator"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

NONE = 0
COORDINATOR_NOT_AVAILABLE = errors.CoordinatorNotAvailableError.code
NOT_COORDINATOR = errors.NotCoordinatorError.code
ILLEGAL_GENERATION = errors.IllegalGenerationError.code
INCONSISTENT_GROUP_PROTOCOL = errors.InconsistentGroupProtocolError.code
INVALID_GROUP_ID = errors.InvalidGroupIdError.code
UNKNOWN_MEMBER_ID = errors.UnknownMemberIdError.code
INVALID_SESSION_TIMEOUT = errors.InvalidSessionTimeoutError.code
REBALANCE_IN_PROGRESS = errors.RebalanceInProgressError.code
MEMBER_ID_REQUIRED = errors.MemberIdRequiredError.code
FENCED_INSTANCE_ID = errors.FencedInstanceIdError.code
NON_EMPTY_GROUP = errors.NonEmptyGroupError.code
GROUP_ID_NOT_FOUND = errors.GroupIdNotFoundError.code
OFFSET_METADATA_TOO_LARGE = errors.OffsetMetadataTooLargeError.code

EMPTY = GroupState.EMPTY
PREPARING = GroupState.PREPARING_REBALANCE
COMPLETING = GroupState.COMPLETING_REBALANCE
STABLE = GroupState.STABLE
DEAD = GroupState.DEAD


def new_member_id(prefix: str) -> str:
    """Kafka's member ids: the client id (or static instance id), a dash, a random UUID."""
    return f"{prefix}-{uuid.uuid4()}"


class GroupCoordinator:
    """Every consumer group of the broker, and their committed offsets."""

    def __init__(self, offsets: OffsetStore | None = None,
                 settings: GroupSettings | None = None, *,
                 clock: Callable[[], float] = trio.current_time) -> None:
        self.offsets: OffsetStore = offsets if offsets is not None else MemoryOffsets()
        self.settings = settings or GroupSettings()
        self._clock = clock
        self._groups: dict[str, Group] = {}
        # Timers: (deadline ms, group id) entries; ``_scheduled`` holds each
        # group's earliest live entry, so superseded ones are skipped when popped.
        self._timers: list[tuple[int, str]] = []
        self._scheduled: dict[str, int] = {}
        self._timers_changed: Callable[[], None] = lambda: None
        self._closed = False
        for group_id in self.offsets.groups():  # groups known from their offsets start Empty
            self._groups[group_id] = Group(group_id)

    def _now(self) -> int:
        return round(self._clock() * 1000)

    # --- JoinGroup -------------------------------------------------------------------

    def join_group_nowait(self, request: JoinRequest, callback: JoinCallback) -> None:
        """Handle a JoinGroup; ``callback`` gets the answer, now or when the rebalance completes."""
        now = self._now()

        def fail(error_code: int) -> None:
            callback(JoinResult(error_code=error_code, member_id=request.member_id))

        if self._closed:
            return fail(NOT_COORDINATOR)
        if not request.group_id:
            return fail(INVALID_GROUP_ID)
        settings = self.settings
        if not settings.min_session_timeout_ms <= request.session_timeout_ms \
                <= settings.max_session_timeout_ms:
            return fail(INVALID_SESSION_TIMEOUT)
        group = self._groups.get(request.group_id)
        if group is None:
            if request.member_id:  # a member id for a group that does not exist
                return fail(UNKNOWN_MEMBER_ID)
            group = Group(request.group_id)
        if not group.supports(request.protocol_type, request.protocols):
            return fail(INCONSISTENT_GROUP_PROTOCOL)
        self._groups.setdefault(group.group_id, group)
        if request.member_id:
            self._join_known(group, request, callback, now)
        else:
            self._join_unknown(group, request, callback, now)
        self._schedule(group)

    def _join_unknown(self, group: Group, request: JoinRequest, callback: JoinCallback,
                      now: int) -> None:
        instance_id = request.group_instance_id
        if instance_id is not None:
            member_id = new_member_id(instance_id)
            old_id = group.static_members.get(instance_id)
            old = group.members.get(old_id) if old_id is not None else None
            if old is not None:
                logger.info("group %s: static member %s rejoined; fencing %s",
                            group.group_id, instance_id, old.member_id)
                self._drop(group, old, FENCED_INSTANCE_ID)
            self._add_member_and_rebalance(group, request, member_id, callback, now)
        elif request.require_known_member_id:
            # Kafka's KIP-394: hand out the id first, so a client that times out
            # and retries rejoins as itself instead of leaving a ghost member.
            member_id = new_member_id(request.client_id)
            group.pending[member_id] = now + request.session_timeout_ms
            callback(JoinResult(error_code=MEMBER_ID_REQUIRED, member_id=member_id))
        else:
            member_id = new_member_id(request.client_id)
            self._add_member_and_rebalance(group, request, member_id, callback, now)

    def _join_known(self, group: Group, request: JoinRequest, callback: JoinCallback,
                    now: int) -> None:
        member_id = request.member_id
        if member_id in group.pending:
            del group.pending[member_id]
            self._add_member_and_rebalance(group, request, member_id, callback, now)
            return
        error = self._member_error(group, member_id, request.group_instance_id)
        if error:
            callback(JoinResult(error_code=error, member_id=member_id))
            return
        member = group.members[member_id]
        if group.is_(PREPARING):
            self._update_member(member, request, callback, now)
            self._try_complete_join(group, now)
        elif group.is_(COMPLETING):
            if member.protocols == request.protocols:
                # A retry of a join that was answered: answer it again.
                member.heartbeat_deadline = now + member.session_timeout_ms
                callback(group.join_result(member))
            else:
                self._update_member(member, request, callback, now)
                self._prepare_rebalance(group, now, f"{member_id} changed its protocols")
        elif group.is_(STABLE):
            if member_id == group.leader_id or member.protocols != request.protocols:
                # The leader rejoining means it wants a new assignment (for example
                # because the topics it subscribes to changed).
                self._update_member(member, request, callback, now)
                self._prepare_rebalance(group, now, f"{member_id} rejoined")
            else:
                member.heartbeat_deadline = now + member.session_timeout_ms
                callback(group.join_result(member))
        else:  # Empty has no members; Dead groups are removed
            callback(JoinResult(error_code=UNKNOWN_MEMBER_ID, member_id=member_id))

    def _member_error(self, group: Group, member_id: str, instance_id: str | None) -> int:
        """The error for a request naming a member that is not (or no longer) this one, else 0."""
        if group.is_(DEAD):
            return COORDINATOR_NOT_AVAILABLE
        if instance_id is not None:
            current = group.static_members.get(instance_id)
            if current is not None and current != member_id:
                return FENCED_INSTANCE_ID
        if member_id not in group.members:
            return UNKNOWN_MEMBER_ID
        return NONE

    def _update_member(self, member: Member, request: JoinRequest, callback: JoinCallback,
                       now: int) -> None:
        superseded = member.join_callback
        member.update(request, callback, now)
        if superseded is not None:
            # An earlier JoinGroup of the same member (its client gave up on it
            # and retried elsewhere): release it, the newer one stands.
            superseded(JoinResult(error_code=REBALANCE_IN_PROGRESS, member_id=member.member_id))

    def _add_member_and_rebalance(self, group: Group, request: JoinRequest, member_id: str,
                                  callback: JoinCallback, now: int) -> None:
        member = Member(
            member_id=member_id,
            group_instance_id=request.group_instance_id,
            client_id=request.client_id,
            client_host=request.client_host,
            session_timeout_ms=request.session_timeout_ms,
            rebalance_timeout_ms=request.rebalance_timeout_ms,
            protocols=request.protocols,
            heartbeat_deadline=now + request.session_timeout_ms,
            join_callback=callback,
        )
        if not group.members:
            group.protocol_type = request.protocol_type
        group.members[member_id] = member
        if request.group_instance_id is not None:
            group.static_members[request.group_instance_id] = member_id
        if group.leader_id is None:
            group.leader_id = member_id
        group.new_member_added = True
        if group.state in (EMPTY, STABLE, COMPLETING):
            self._prepare_rebalance(group, now, f"{member_id} joined")
        else:
            self._try_complete_join(group, now)

    # --- rebalancing -----------------------------------------------------------------

    def _prepare_rebalance(self, group: Group, now: int, reason: str) -> None:
        if group.is_(COMPLETING):
            # The assignment being handed out is void: members waiting for it rejoin.
            for member in group.members.values():
                member.assignment = b""
                self._answer_sync(member, SyncResult(error_code=REBALANCE_IN_PROGRESS))
        rebalance_timeout = group.max_rebalance_timeout_ms()
        if group.is_(EMPTY):
            delay = min(self.settings.initial_rebalance_delay_ms, rebalance_timeout)
            group.delaying = True
            group.join_deadline = now + delay
            group.delay_limit = now + rebalance_timeout
        else:
            group.delaying = False
            group.join_deadline = now + rebalance_timeout
            group.delay_limit = None
        group.new_member_added = False
        group.sync_deadline = None
        logger.info("group %s: rebalancing (generation %d): %s",
                    group.group_id, group.generation_id, reason)
        group.state = PREPARING
        self._try_complete_join(group, now)

    def _try_complete_join(self, group: Group, now: int) -> None:
        if not group.is_(PREPARING):
            return
        if not group.members:
            self._complete_join(group, now)
        elif not group.delaying and not group.pending and all(
            member.join_callback is not None for member in group.members.values()
        ):
            self._complete_join(group, now)

    def _complete_join(self, group: Group, now: int) -> None:
        for member in [m for m in group.members.values() if m.join_callback is None]:
            logger.info("group %s: removing %s: it did not rejoin in time",
                        group.group_id, member.member_id)
            self._drop(group, member, UNKNOWN_MEMBER_ID)
        group.generation_id += 1
        group.join_deadline = None
        group.delaying = False
        group.delay_limit = None
        group.new_member_added = False
        if not group.members:
            group.state = EMPTY
            group.protocol_name = None
            group.leader_id = None
            logger.info("group %s: empty (generation %d)", group.group_id, group.generation_id)
            return
        group.protocol_name = group.select_protocol()
        group.state = COMPLETING
        if group.leader_id not in group.members:
            group.leader_id = next(iter(group.members))
        group.sync_deadline = now + group.max_rebalance_timeout_ms()
        logger.info("group %s: generation %d with %d members, protocol %s, leader %s",
                    group.group_id, group.generation_id, len(group.members),
                    group.protocol_name, group.leader_id)
        for member in group.members.values():
            member.synced = False
            member.heartbeat_deadline = now + member.session_timeout_ms
            callback, member.join_callback = member.join_callback, None
            assert callback is not None
            callback(group.join_result(member))

    def _drop(self, group: Group, member: Member, error_code: int) -> None:
        """Take ``member`` out of ``group``, failing its waiting requests; no rebalance here."""
        if member.join_callback is not None:
            callback, member.join_callback = member.join_callback, None
            callback(JoinResult(error_code=error_code, member_id=member.member_id))
        self._answer_sync(member, SyncResult(error_code=error_code))
        del group.members[member.member_id]
        if member.group_instance_id is not None and \
                group.static_members.get(member.group_instance_id) == member.member_id:
            del group.static_members[member.group_instance_id]
        if group.leader_id == member.member_id:
            group.leader_id = next(iter(group.members), None)

    def _remove_member(self, group: Group, member: Member, reason: str) -> None:
        """Take ``member`` out and let the group react: rebalance, or finish one in progress."""
        self._drop(group, member, UNKNOWN_MEMBER_ID)
        if group.state in (STABLE, COMPLETING):
            self._prepare_rebalance(group, self._now(), f"{member.member_id} {reason}")
        elif group.is_(PREPARING):
            self._try_complete_join(group, self._now())

    @staticmethod
    def _answer_sync(member: Member, result: SyncResult) -> None:
        if member.sync_callback is not None:
            callback, member.sync_callback = member.sync_callback, None
            callback(result)

    # --- SyncGroup -------------------------------------------------------------------

    def sync_group_nowait(self, request: SyncRequest, callback: SyncCallback) -> None:
        """Handle a SyncGroup; ``callback`` gets the assignment, now or once the leader sent it."""
        now = self._now()
        group = self._groups.get(request.group_id)
        if self._closed:
            callback(SyncResult(error_code=NOT_COORDINATOR))
            return
        if group is None:
            callback(SyncResult(error_code=UNKNOWN_MEMBER_ID))
            return
        error = self._member_error(group, request.member_id, request.group_instance_id)
        if not error and request.generation_id != group.generation_id:
            error = ILLEGAL_GENERATION
        if not error and group.is_(PREPARING):
            error = REBALANCE_IN_PROGRESS
        if error:
            callback(SyncResult(error_code=error))
            return
        member = group.members[request.member_id]
        member.heartbeat_deadline = now + member.session_timeout_ms
        member.synced = True
        if group.is_(COMPLETING):
            self._answer_sync(member, SyncResult(error_code=REBALANCE_IN_PROGRESS))  # a stale retry
            member.sync_callback = callback
            if member.member_id == group.leader_id:
                for each in group.members.values():
                    each.assignment = bytes(request.assignments.get(each.member_id, b""))
                group.state = STABLE
                logger.info("group %s: stable at generation %d", group.group_id,
                            group.generation_id)
                for each in group.members.values():
                    self._answer_sync(each, self._sync_result(group, each))
        else:  # Stable: the assignment is known
            callback(self._sync_result(group, member))
        if all(each.synced for each in group.members.values()):
            group.sync_deadline = None
        self._schedule(group)

    @staticmethod
    def _sync_result(group: Group, member: Member) -> SyncResult:
        return SyncResult(error_code=NONE, assignment=member.assignment,
                          protocol_type=group.protocol_type, protocol_name=group.protocol_name)

    # --- Heartbeat and LeaveGroup ----------------------------------------------------

    def heartbeat(self, group_id: str, generation_id: int, member_id: str,
                  group_instance_id: str | None = None) -> int:
        """A member says it is alive; the error code tells it whether to rejoin."""
        if self._closed:
            return NOT_COORDINATOR
        group = self._groups.get(group_id)
        if group is None:
            return UNKNOWN_MEMBER_ID
        error = self._member_error(group, member_id, group_instance_id)
        if error:
            return error
        if generation_id != group.generation_id:
            return ILLEGAL_GENERATION
        member = group.members[member_id]
        member.heartbeat_deadline = self._now() + member.session_timeout_ms
        return REBALANCE_IN_PROGRESS if group.is_(PREPARING) else NONE

    def leave_group(self, group_id: str,
                    leaving: Iterable[tuple[str, str | None]]) -> list[int]:
        """Members (member id, group instance id) leave; an error code for each."""
        group = self._groups.get(group_id)
        leaving = list(leaving)
        if self._closed:
            return [NOT_COORDINATOR] * len(leaving)
        if group is None:
            return [UNKNOWN_MEMBER_ID] * len(leaving)
        results = []
        for member_id, instance_id in leaving:
            if not member_id and instance_id is not None:
                member_id = group.static_members.get(instance_id, "")
            if member_id in group.pending:
                del group.pending[member_id]
                self._try_complete_join(group, self._now())
                results.append(NONE)
                continue
            error = self._member_error(group, member_id, instance_id)
            if error:
                results.append(error)
                continue
            logger.info("group %s: %s left", group.group_id, member_id)
            self._remove_member(group, group.members[member_id], "left")
            results.append(NONE)
        self._schedule(group)
        return results

    # --- committed offsets -----------------------------------------------------------

    def commit_offsets(self, group_id: str, generation_id: int, member_id: str,
                       offsets: Mapping[TopicPartition, CommittedOffset],
                       group_instance_id: str | None = None) -> tuple[dict[TopicPartition, int], int]:
        """Store a member's offsets: (error code per partition, ticket for ``wait_durable``).

        Offsets of partitions that do not exist should be filtered out by the
        caller, which knows the topics.
        """
        def every(error_code: int) -> tuple[dict[TopicPartition, int], int]:
            return {key: error_code for key in offsets}, 0

        if self._closed:
            return every(NOT_COORDINATOR)
        if not group_id:
            return every(INVALID_GROUP_ID)
        group = self._groups.get(group_id)
        if group is None:
            if generation_id >= 0:
                return every(ILLEGAL_GENERATION)
            # A consumer that assigns itself partitions and keeps offsets in Kafka.
            group = self._groups[group_id] = Group(group_id)
        elif group.is_(DEAD):
            return every(COORDINATOR_NOT_AVAILABLE)
        elif generation_id < 0 and group.is_(EMPTY):
            pass
        else:
            error = self._member_error(group, member_id, group_instance_id)
            if group.is_(COMPLETING) and error != FENCED_INSTANCE_ID:
                error = REBALANCE_IN_PROGRESS
            elif not error and generation_id != group.generation_id:
                error = ILLEGAL_GENERATION
            if error:
                return every(error)
            member = group.members[member_id]
            member.heartbeat_deadline = self._now() + member.session_timeout_ms
        results = {}
        accepted = {}
        for key, committed in offsets.items():
            metadata = committed.metadata or ""
            if len(metadata.encode()) > self.settings.max_metadata_bytes:
                results[key] = OFFSET_METADATA_TOO_LARGE
            else:
                results[key] = NONE
                accepted[key] = committed
        ticket = self.offsets.commit(group_id, accepted) if accepted else 0
        return results, ticket

    def fetch_offsets(self, group_id: str, partitions: Iterable[TopicPartition] | None
                      ) -> dict[TopicPartition, CommittedOffset | None]:
        """Committed offsets of ``partitions`` (None: every committed one); None where none is."""
        committed = self.offsets.committed(group_id)
        if partitions is None:
            return dict(committed)
        return {key: committed.get(key) for key in partitions}

    def forget_topic(self, topic: str) -> int:
        """A topic was deleted: every group forgets its offsets there (Kafka does too)."""
        return self.offsets.delete_topic(topic)

    # --- administration --------------------------------------------------------------

    def list_groups(self) -> list[tuple[str, str]]:
        """(group id, protocol type) of every group, by id."""
        return [(group.group_id, group.protocol_type or "")
                for _, group in sorted(self._groups.items())]

    def describe_group(self, group_id: str) -> GroupDescription:
        """A group's state and members; an unknown group is reported Dead, as Kafka does."""
        group = self._groups.get(group_id)
        if group is None:
            return GroupDescription(group_id, DEAD, "", "", ())
        return group.describe()

    def delete_group(self, group_id: str) -> int:
        """Delete an empty group and its committed offsets; the error code (0 when deleted)."""
        if self._closed:
            return NOT_COORDINATOR
        if not group_id:
            return INVALID_GROUP_ID
        group = self._groups.get(group_id)
        if group is None:
            return GROUP_ID_NOT_FOUND
        if group.members:
            return NON_EMPTY_GROUP
        group.state = DEAD
        group.pending.clear()
        del self._groups[group_id]
        self.offsets.delete_group(group_id)
        logger.info("group %s deleted", group_id)
        return NONE

    def group(self, group_id: str) -> Group | None:
        """The live group (for inspection; change it only through the methods above)."""
        return self._groups.get(group_id)

    # --- time ------------------------------------------------------------------------

    def _schedule(self, group: Group) -> None:
        deadline = group.next_deadline()
        if deadline is None:
            return
        current = self._scheduled.get(group.group_id)
        if current is not None and current <= deadline:
            return  # an earlier timer will look at the group anyway
        self._scheduled[group.group_id] = deadline
        heapq.heappush(self._timers, (deadline, group.group_id))
        if self._timers[0] == (deadline, group.group_id):
            self._timers_changed()

    def next_deadline(self) -> float | None:
        """When ``expire_nowait`` next has work (clock seconds), or None."""
        while self._timers:
            deadline, group_id = self._timers[0]
            if self._scheduled.get(group_id) == deadline:
                return deadline / 1000
            heapq.heappop(self._timers)  # superseded
        return None

    def expire_nowait(self) -> None:
        """Do whatever is due: expire silent members, end rebalances and delays that ran out."""
        now = self._now()
        while self._timers and self._timers[0][0] <= now:
            deadline, group_id = heapq.heappop(self._timers)
            if self._scheduled.get(group_id) != deadline:
                continue
            del self._scheduled[group_id]
            group = self._groups.get(group_id)
            if group is not None:
                self._expire(group, now)
                self._schedule(group)

    def _expire(self, group: Group, now: int) -> None:
        for member_id, deadline in list(group.pending.items()):
            if deadline <= now:
                del group.pending[member_id]
                self._try_complete_join(group, now)
        if group.is_(PREPARING) and group.join_deadline is not None and group.join_deadline <= now:
            if group.delaying and group.new_member_added and group.delay_limit is not None \
                    and now < group.delay_limit:
                # Members are still arriving: wait another delay (within the limit).
                group.new_member_added = False
                group.join_deadline = min(now + self.settings.initial_rebalance_delay_ms,
                                          group.delay_limit)
            else:
                group.delaying = False
                self._complete_join(group, now)
        if group.sync_deadline is not None and group.sync_deadline <= now:
            group.sync_deadline = None
            for member in [m for m in group.members.values() if not m.synced]:
                if member.member_id in group.members:
                    logger.info("group %s: removing %s: no SyncGroup within the rebalance timeout",
                                group.group_id, member.member_id)
                    self._remove_member(group, member, "did not sync")
        for member in list(group.members.values()):
            if not member.awaiting and member.heartbeat_deadline <= now \
                    and member.member_id in group.members:
                logger.info("group %s: %s expired after %d ms without a heartbeat",
                            group.group_id, member.member_id, member.session_timeout_ms)
                self._remove_member(group, member, "expired")

    # --- trio ------------------------------------------------------------------------

    async def join_group(self, request: JoinRequest) -> JoinResult:
        """``join_group_nowait``, waiting for the answer (until the rebalance completes)."""
        return await _answer_of(lambda callback: self.join_group_nowait(request, callback))

    async def sync_group(self, request: SyncRequest) -> SyncResult:
        """``sync_group_nowait``, waiting for the answer (until the leader's assignment)."""
        return await _answer_of(lambda callback: self.sync_group_nowait(request, callback))

    async def serve_timers(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                           ) -> None:
        """Run ``expire_nowait`` whenever something is due, until cancelled."""
        changed = trio.Event()

        def wake() -> None:
            changed.set()

        self._timers_changed = wake
        task_status.started()
        try:
            while True:
                deadline = self.next_deadline()
                with trio.move_on_at(deadline if deadline is not None else float("inf")):
                    await changed.wait()
                changed = trio.Event()
                self.expire_nowait()
        finally:
            self._timers_changed = lambda: None

    def close(self) -> None:
        """The broker stops: answer every waiting JoinGroup and SyncGroup with NOT_COORDINATOR.

        Clients then look for the coordinator again, and find this broker when
        it is back. Later requests get NOT_COORDINATOR too.
        """
        self._closed = True
        for group in self._groups.values():
            for member in group.members.values():
                if member.join_callback is not None:
                    callback, member.join_callback = member.join_callback, None
                    callback(JoinResult(error_code=NOT_COORDINATOR, member_id=member.member_id))
                self._answer_sync(member, SyncResult(error_code=NOT_COORDINATOR))


async def _answer_of(start: Callable[[Callable[[T], None]], None]) -> T:
    """Start an operation that reports through a callback, and wait for its report."""
    done = trio.Event()
    answers: list[T] = []

    def deliver(answer: T) -> None:
        answers.append(answer)
        done.set()

    start(deliver)
    await done.wait()
    return answers[0]
