"""The records of the group coordinator: groups, members, and what requests and answers carry.

These are data with small helpers; the transitions between states live in
``coordinator.GroupCoordinator``. Times are milliseconds on the
coordinator's monotonic clock.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

import attrs

__all__ = [
    "DEFAULT_INITIAL_REBALANCE_DELAY_MS",
    "Group",
    "GroupDescription",
    "GroupSettings",
    "GroupState",
    "JoinCallback",
    "JoinRequest",
    "JoinResult",
    "JoinedMember",
    "Member",
    "MemberDescription",
    "SyncCallback",
    "SyncRequest",
    "SyncResult",
]

DEFAULT_INITIAL_REBALANCE_DELAY_MS = 300


@attrs.frozen(kw_only=True)
class GroupSettings:
    """The coordinator's knobs, named after the Kafka broker settings they mirror.

    ``initial_rebalance_delay_ms`` (Kafka's group.initial.rebalance.delay.ms,
    3 s there): how long the first rebalance of an empty group waits for more
    members, extended by the same again each time one arrives, up to the
    rebalance timeout. MiniKafka defaults to 300 ms: long enough for members
    started together to land in one generation, short enough for tests.
    Session timeouts outside ``min_session_timeout_ms`` ..
    ``max_session_timeout_ms`` are refused with INVALID_SESSION_TIMEOUT
    (Kafka's group.min/max.session.timeout.ms). ``max_metadata_bytes`` bounds
    the metadata string of a committed offset (offset.metadata.max.bytes).
    """

    initial_rebalance_delay_ms: int = DEFAULT_INITIAL_REBALANCE_DELAY_MS
    min_session_timeout_ms: int = 6_000
    max_session_timeout_ms: int = 1_800_000
    max_metadata_bytes: int = 4096

    def __attrs_post_init__(self) -> None:
        if self.initial_rebalance_delay_ms < 0:
            raise ValueError("initial_rebalance_delay_ms must not be negative")
        if not 0 < self.min_session_timeout_ms <= self.max_session_timeout_ms:
            raise ValueError("need 0 < min_session_timeout_ms <= max_session_timeout_ms")


class GroupState(enum.Enum):
    """Kafka's classic group states; the values are the names DescribeGroups reports."""

    EMPTY = "Empty"  # no members (perhaps committed offsets)
    PREPARING_REBALANCE = "PreparingRebalance"  # waiting for every member to (re)join
    COMPLETING_REBALANCE = "CompletingRebalance"  # joined; waiting for the leader's assignment
    STABLE = "Stable"  # assignment handed out; members heartbeat
    DEAD = "Dead"  # deleted (or never existed, as DescribeGroups reports it)


@attrs.frozen(kw_only=True)
class JoinRequest:
    """A JoinGroup request, whatever its version."""

    group_id: str
    member_id: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: tuple[tuple[str, bytes], ...]  # (name, metadata), most preferred first
    group_instance_id: str | None = None
    require_known_member_id: bool = True  # version 4 and up: MEMBER_ID_REQUIRED first
    client_id: str = ""
    client_host: str = ""


@attrs.frozen
class JoinedMember:
    """One member as the leader's JoinGroup response lists it."""

    member_id: str
    group_instance_id: str | None
    metadata: bytes


@attrs.frozen(kw_only=True)
class JoinResult:
    error_code: int
    member_id: str = ""
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = ""
    members: tuple[JoinedMember, ...] = ()  # the leader's answer only


@attrs.frozen(kw_only=True)
class SyncRequest:
    group_id: str
    generation_id: int
    member_id: str
    assignments: Mapping[str, bytes]  # the leader's; empty from the others
    group_instance_id: str | None = None


@attrs.frozen(kw_only=True)
class SyncResult:
    error_code: int
    assignment: bytes = b""
    protocol_type: str | None = None
    protocol_name: str | None = None


JoinCallback = Callable[[JoinResult], None]
SyncCallback = Callable[[SyncResult], None]


@attrs.frozen
class MemberDescription:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    metadata: bytes  # empty unless the group is Stable, as in Kafka
    assignment: bytes


@attrs.frozen
class GroupDescription:
    group_id: str
    state: GroupState
    protocol_type: str
    protocol_name: str  # empty unless the group is Stable
    members: tuple[MemberDescription, ...]


@attrs.define(eq=False)
class Member:
    """A member of a group, with the request of it the coordinator has not answered yet."""

    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocols: tuple[tuple[str, bytes], ...]
    heartbeat_deadline: int  # removed if not heard from by then (unless a request is pending)
    assignment: bytes = b""
    join_callback: JoinCallback | None = None  # a JoinGroup waiting for the rebalance
    sync_callback: SyncCallback | None = None  # a SyncGroup waiting for the leader's assignment
    synced: bool = False  # sent SyncGroup for the current generation

    @property
    def awaiting(self) -> bool:
        """A JoinGroup or SyncGroup of this member waits for the group: it cannot heartbeat."""
        return self.join_callback is not None or self.sync_callback is not None

    def protocol_names(self) -> list[str]:
        return [name for name, _ in self.protocols]

    def metadata(self, protocol: str) -> bytes:
        for name, metadata in self.protocols:
            if name == protocol:
                return metadata
        raise KeyError(protocol)

    def vote(self, candidates: set[str]) -> str:
        """The member's most preferred protocol among ``candidates``."""
        return next(name for name in self.protocol_names() if name in candidates)

    def update(self, request: JoinRequest, callback: JoinCallback | None, now: int) -> None:
        self.protocols = request.protocols
        self.session_timeout_ms = request.session_timeout_ms
        self.rebalance_timeout_ms = request.rebalance_timeout_ms
        self.client_id = request.client_id
        self.client_host = request.client_host
        self.join_callback = callback
        self.heartbeat_deadline = now + self.session_timeout_ms


@attrs.define(eq=False)
class Group:
    """One consumer group's membership and rebalance progress."""

    group_id: str
    state: GroupState = GroupState.EMPTY
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str | None = None
    members: dict[str, Member] = attrs.Factory(dict)  # in joining order: the first leads
    # Member ids handed out with MEMBER_ID_REQUIRED -> when they expire if not used to rejoin.
    pending: dict[str, int] = attrs.Factory(dict)
    static_members: dict[str, str] = attrs.Factory(dict)  # group_instance_id -> member id
    join_deadline: int | None = None  # PreparingRebalance ends by then at the latest
    # The initial delay of an empty group's first rebalance: while ``delaying``,
    # the rebalance does not complete before ``join_deadline``, which moves on by
    # the delay when members arrived meanwhile, up to ``delay_limit``.
    delaying: bool = False
    delay_limit: int | None = None
    new_member_added: bool = False
    sync_deadline: int | None = None  # members that have not sent SyncGroup by then are removed

    def is_(self, state: GroupState) -> bool:
        return self.state is state

    @property
    def leader(self) -> Member | None:
        return None if self.leader_id is None else self.members.get(self.leader_id)

    def max_rebalance_timeout_ms(self) -> int:
        return max((member.rebalance_timeout_ms for member in self.members.values()), default=0)

    def candidate_protocols(self) -> set[str]:
        """Protocols every member supports."""
        names: set[str] | None = None
        for member in self.members.values():
            supported = set(member.protocol_names())
            names = supported if names is None else names & supported
        return names or set()

    def supports(self, protocol_type: str, protocols: tuple[tuple[str, bytes], ...]) -> bool:
        """Whether a member with these protocols may join (INCONSISTENT_GROUP_PROTOCOL if not)."""
        if not protocol_type or not protocols:
            return False
        if not self.members:
            return True
        wanted = {name for name, _ in protocols}
        return protocol_type == self.protocol_type and bool(wanted & self.candidate_protocols())

    def select_protocol(self) -> str:
        """The protocol every member supports that most members prefer (ties: the leader's taste)."""
        candidates = self.candidate_protocols()
        votes: dict[str, int] = {}
        for member in self.members.values():
            choice = member.vote(candidates)
            votes[choice] = votes.get(choice, 0) + 1
        leader = self.leader or next(iter(self.members.values()))
        preference = {name: rank for rank, name in enumerate(reversed(leader.protocol_names()))}
        return max(votes, key=lambda name: (votes[name], preference.get(name, -1)))

    def joined_members(self) -> tuple[JoinedMember, ...]:
        assert self.protocol_name is not None
        return tuple(JoinedMember(member.member_id, member.group_instance_id,
                                  member.metadata(self.protocol_name))
                     for member in self.members.values())

    def join_result(self, member: Member) -> JoinResult:
        """The answer to ``member``'s JoinGroup for the current generation."""
        is_leader = member.member_id == self.leader_id
        return JoinResult(
            error_code=0,
            member_id=member.member_id,
            generation_id=self.generation_id,
            protocol_type=self.protocol_type,
            protocol_name=self.protocol_name,
            leader=self.leader_id or "",
            members=self.joined_members() if is_leader else (),
        )

    def next_deadline(self) -> int | None:
        """The earliest time something must happen to this group without a request."""
        deadlines = list(self.pending.values())
        if self.is_(GroupState.PREPARING_REBALANCE) and self.join_deadline is not None:
            deadlines.append(self.join_deadline)
        if self.sync_deadline is not None:
            deadlines.append(self.sync_deadline)
        deadlines += [member.heartbeat_deadline for member in self.members.values()
                      if not member.awaiting]
        return min(deadlines, default=None)

    def describe(self) -> GroupDescription:
        stable = self.is_(GroupState.STABLE) and self.protocol_name is not None
        members = tuple(
            MemberDescription(
                member.member_id, member.group_instance_id, member.client_id, member.client_host,
                member.metadata(self.protocol_name) if stable and self.protocol_name else b"",
                member.assignment if stable else b"",
            )
            for member in self.members.values()
        )
        return GroupDescription(self.group_id, self.state, self.protocol_type or "",
                                (self.protocol_name or "") if stable else "", members)
