"""Consuming as a member of a consumer group, with no I/O: the group protocol as plans.

A group consumer shares its topic's partitions with the other members of
its group, whatever client they use (kafka-python, librdkafka, Kafka's own):
the same classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup), the
same consumer-protocol bytes, and the "range" assignor every Kafka client
offers. When it leads the group it computes everyone's assignment, as Kafka
clients do.

``poll`` joins the group when needed, heartbeats when one is due, commits
when automatic commits are due, and fetches from every assigned partition.
There is no background thread: a member heartbeats only while ``poll`` (or
``commit``) runs, so call ``poll`` at least every ``session_timeout``; long
polls wake up for heartbeats on their own. Before it rejoins (a rebalance)
and when it closes, an auto-committing member commits what it has returned,
so a clean rebalance hands its partitions over without repeating a message.
Where nothing was committed, reading starts at ``reset`` (earliest or
latest).

MiniKafka is a single broker, so FindCoordinator's answer is the broker the
client is connected to; the answer is checked, not followed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

from minikafka.protocol.consumer_protocol import (
    CONSUMER_PROTOCOL_TYPE,
    Assignment,
    InvalidConsumerProtocol,
    Subscription,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)
from minikafka.protocol.errors import KafkaError, error_for_code, for_code
from minikafka.protocol.records import checked_batches
from minikafka.protocol.registry import api_by_name

from ._core import (
    Clock,
    ConsumerOptions,
    Message,
    Pause,
    Plan,
    ReadFrom,
    Request,
    Send,
    _Backoff,
    decode_messages,
)
from .errors import ClientError

__all__ = ["CommitFailed", "GroupOptions", "GroupSession", "commit", "group_poll", "leave",
           "pop_group_options", "range_assign"]

logger = logging.getLogger("minikafka.client")

RANGE = "range"

_FIND_COORDINATOR = api_by_name("FindCoordinator")
_JOIN_GROUP = api_by_name("JoinGroup")
_SYNC_GROUP = api_by_name("SyncGroup")
_HEARTBEAT = api_by_name("Heartbeat")
_LEAVE_GROUP = api_by_name("LeaveGroup")
_OFFSET_COMMIT = api_by_name("OffsetCommit")
_OFFSET_FETCH = api_by_name("OffsetFetch")
_METADATA = api_by_name("Metadata")
_LIST_OFFSETS = api_by_name("ListOffsets")
_FETCH = api_by_name("Fetch")

_OFFSET_OUT_OF_RANGE = 1
_UNKNOWN_TOPIC_OR_PARTITION = 3
_COORDINATOR_LOAD_IN_PROGRESS = 14
_COORDINATOR_NOT_AVAILABLE = 15
_NOT_COORDINATOR = 16
_ILLEGAL_GENERATION = 22
_UNKNOWN_MEMBER_ID = 25
_REBALANCE_IN_PROGRESS = 27
_MEMBER_ID_REQUIRED = 79
_EARLIEST = -2
_LATEST = -1
_NO_TOPIC_ID = uuid.UUID(int=0)  # Metadata v10+: ask by name

# Errors after which a member must join again (perhaps as a new member).
_REJOIN = {_ILLEGAL_GENERATION, _UNKNOWN_MEMBER_ID, _REBALANCE_IN_PROGRESS, _NOT_COORDINATOR,
           _COORDINATOR_NOT_AVAILABLE}


class CommitFailed(ClientError):
    """The group rebalanced before the commit: its messages may be read again by another member."""


@attrs.frozen(kw_only=True)
class GroupOptions:
    """A group member's settings (seconds).

    - ``session_timeout``: the broker removes a member it has not heard from
      for this long (6 to 1800 s on Kafka's and MiniKafka's defaults).
    - ``heartbeat_interval``: how often ``poll`` heartbeats.
    - ``rebalance_timeout``: how long a rebalance waits for the members.
    - ``auto_commit``: commit what ``poll`` returned, every
      ``auto_commit_interval``, before a rebalance and on close; with False,
      only ``commit()`` commits.
    - ``reset``: where to start in a partition the group never committed.
    """

    session_timeout: float = 10.0
    heartbeat_interval: float = 3.0
    rebalance_timeout: float = 60.0
    auto_commit: bool = True
    auto_commit_interval: float = 5.0
    reset: Literal["earliest", "latest"] = "earliest"

    def __attrs_post_init__(self) -> None:
        if not 0 < self.heartbeat_interval < self.session_timeout:
            raise ValueError("heartbeat_interval must be positive and below session_timeout")
        if self.rebalance_timeout <= 0 or self.auto_commit_interval <= 0:
            raise ValueError("rebalance_timeout and auto_commit_interval must be positive")
        if self.reset not in ("earliest", "latest"):
            raise ValueError(f"reset must be 'earliest' or 'latest', not {self.reset!r}")


_GROUP_SETTINGS = frozenset(field.name for field in attrs.fields(GroupOptions)) - {"reset"}


def pop_group_options(options: dict[str, Any], group: str | None,
                      read_from: ReadFrom | None) -> GroupOptions | None:
    """Take a consumer's group settings out of its keyword ``options``.

    With a group, ``read_from`` may only be "earliest" or "latest": where to
    start in partitions the group never committed (default "earliest").
    """
    settings = {name: options.pop(name) for name in list(options) if name in _GROUP_SETTINGS}
    if group is None:
        if settings:
            raise TypeError(f"{', '.join(sorted(settings))}: only for a consumer with a group")
        return None
    if read_from is None:
        read_from = "earliest"
    if read_from not in ("earliest", "latest"):
        raise ValueError("with a group, reading starts where the group committed; read_from may "
                         f"only be 'earliest' or 'latest' (where it never did), not {read_from!r}")
    return GroupOptions(reset=read_from, **settings)


@attrs.define
class GroupSession:
    """A member's state: who it is in the group, what it was assigned, where it reads."""

    options: ConsumerOptions
    group_options: GroupOptions
    group: str
    topic: str
    member_id: str = ""
    generation: int = -1
    joined: bool = False
    assigned: tuple[int, ...] = ()
    positions: dict[int, int] = attrs.field(factory=dict)  # next offset to return, per partition
    committed: dict[int, int] = attrs.field(factory=dict)  # last committed, per partition
    next_heartbeat: float = 0.0
    next_auto_commit: float = 0.0

    def __attrs_post_init__(self) -> None:
        if not self.group or not isinstance(self.group, str):
            raise ValueError(f"group must be a non-empty str, not {self.group!r}")

    def forget_membership(self) -> None:
        self.member_id = ""
        self.generation = -1
        self.joined = False


# --- assignment -----------------------------------------------------------------------


def range_assign(subscriptions: Mapping[str, Sequence[str]],
                 partitions: Mapping[str, int]) -> dict[str, dict[str, tuple[int, ...]]]:
    """Kafka's RangeAssignor: per topic, consecutive partitions to members sorted by id.

    ``subscriptions`` maps member id -> topics; ``partitions`` topic ->
    partition count. The first ``count % members`` members get one extra.
    """
    assignment: dict[str, dict[str, tuple[int, ...]]] = {member: {} for member in subscriptions}
    for topic in sorted({topic for topics in subscriptions.values() for topic in topics}):
        members = sorted(member for member, topics in subscriptions.items() if topic in topics)
        count = partitions.get(topic, 0)
        share, extra = divmod(count, len(members))
        start = 0
        for rank, member in enumerate(members):
            size = share + (1 if rank < extra else 0)
            if size:
                assignment[member][topic] = tuple(range(start, start + size))
            start += size
    return assignment


# --- requests ---------------------------------------------------------------------------


def _one(api: Any, body: dict[str, Any], wait: float = 0.0) -> Send:
    return Send((Request(api, body, wait=wait),))


def _fail(code: int, what: str) -> KafkaError:
    error = error_for_code(code, what)
    assert error is not None
    return error


def _partition_counts(topics: Iterable[str]) -> Plan[dict[str, int]]:
    (body,) = yield _one(_METADATA, {
        "topics": [{"name": topic, "topic_id": _NO_TOPIC_ID} for topic in sorted(set(topics))],
        "allow_auto_topic_creation": True,
        "include_cluster_authorized_operations": False,
        "include_topic_authorized_operations": False,
    })
    return {topic.name: len(topic.partitions) for topic in body.topics if topic.error_code == 0}


def _find_coordinator(session: GroupSession, clock: Clock) -> Plan[None]:
    deadline = clock() + session.options.retry_timeout
    backoff = _Backoff()
    while True:
        (body,) = yield _one(_FIND_COORDINATOR, {"key": session.group, "key_type": 0,
                                                 "coordinator_keys": [session.group]})
        code = body.error_code if hasattr(body, "error_code") else body.coordinators[0].error_code
        if code == 0:
            return
        if not for_code(code).retriable or clock() >= deadline:
            raise _fail(code, f"finding the coordinator of group {session.group!r}")
        yield Pause(backoff.next())


def _join(session: GroupSession, clock: Clock) -> Plan[None]:
    """Join (or rejoin) the group until a generation hands this member its assignment."""
    options = session.group_options
    deadline = clock() + max(session.options.retry_timeout, options.rebalance_timeout)
    backoff = _Backoff()
    yield from _find_coordinator(session, clock)
    metadata = encode_subscription(Subscription((session.topic,)))
    while True:
        (joined,) = yield _one(_JOIN_GROUP, {
            "group_id": session.group,
            "session_timeout_ms": int(options.session_timeout * 1000),
            "rebalance_timeout_ms": int(options.rebalance_timeout * 1000),
            "member_id": session.member_id,
            "group_instance_id": None,
            "protocol_type": CONSUMER_PROTOCOL_TYPE,
            "protocols": [{"name": RANGE, "metadata": metadata}],
            "reason": None,
        }, wait=options.rebalance_timeout)
        code = joined.error_code
        if code == _MEMBER_ID_REQUIRED:
            session.member_id = joined.member_id
            continue
        if code in _REJOIN or code == _COORDINATOR_LOAD_IN_PROGRESS:
            if code == _UNKNOWN_MEMBER_ID:
                session.member_id = ""
            if clock() >= deadline:
                raise _fail(code, f"joining group {session.group!r}")
            yield Pause(backoff.next())
            continue
        if code:
            raise _fail(code, f"joining group {session.group!r}")
        session.member_id = joined.member_id
        session.generation = joined.generation_id
        assignments: list[dict[str, Any]] = []
        if joined.leader == joined.member_id:
            assignments = yield from _lead(joined.members)
        (synced,) = yield _one(_SYNC_GROUP, {
            "group_id": session.group,
            "generation_id": session.generation,
            "member_id": session.member_id,
            "group_instance_id": None,
            "protocol_type": CONSUMER_PROTOCOL_TYPE,
            "protocol_name": RANGE,
            "assignments": assignments,
        }, wait=options.rebalance_timeout)
        if synced.error_code in _REJOIN:
            if synced.error_code == _UNKNOWN_MEMBER_ID:
                session.member_id = ""
            continue
        if synced.error_code:
            raise _fail(synced.error_code, f"syncing with group {session.group!r}")
        try:
            assignment = decode_assignment(bytes(synced.assignment))
        except InvalidConsumerProtocol as exc:
            raise ClientError(f"group {session.group!r}: unreadable assignment: {exc}") from None
        session.assigned = tuple(sorted(assignment.partitions.get(session.topic, ())))
        break
    logger.info("group %s: generation %d, member %s, assigned %s partitions %s", session.group,
                session.generation, session.member_id, session.topic, list(session.assigned))
    # Partitions kept through the rebalance keep their positions (as Kafka's clients do);
    # the others start at the group's committed offsets.
    session.positions = {p: o for p, o in session.positions.items() if p in session.assigned}
    session.committed = {p: o for p, o in session.committed.items() if p in session.assigned}
    yield from _start_positions(session)
    now = clock()
    session.joined = True
    session.next_heartbeat = now + options.heartbeat_interval
    session.next_auto_commit = now + options.auto_commit_interval


def _lead(members: Sequence[Any]) -> Plan[list[dict[str, Any]]]:
    """As the leader: everyone's assignment, by the range assignor."""
    subscriptions: dict[str, Sequence[str]] = {}
    for member in members:
        try:
            subscriptions[member.member_id] = decode_subscription(bytes(member.metadata)).topics
        except InvalidConsumerProtocol:
            subscriptions[member.member_id] = ()  # a member we cannot read gets nothing
    counts = yield from _partition_counts(topic for topics in subscriptions.values()
                                          for topic in topics)
    plan = range_assign(subscriptions, counts)
    return [{"member_id": member, "assignment": encode_assignment(Assignment(partitions))}
            for member, partitions in plan.items()]


def _start_positions(session: GroupSession) -> Plan[None]:
    """Positions of newly assigned partitions: the group's committed offsets, else ``reset``."""
    wanted = [p for p in session.assigned if p not in session.positions]
    if not wanted:
        return
    (fetched,) = yield _one(_OFFSET_FETCH, {
        "group_id": session.group, "require_stable": False,
        "topics": [{"name": session.topic, "partition_indexes": wanted}],
        "groups": [{"group_id": session.group, "member_id": None, "member_epoch": -1,
                    "topics": [{"name": session.topic, "partition_indexes": wanted}]}],
    })
    topics = fetched.groups[0].topics if hasattr(fetched, "groups") else fetched.topics
    for topic in topics:
        for partition in topic.partitions:
            if (topic.name == session.topic and partition.partition_index in wanted
                    and partition.error_code == 0 and partition.committed_offset >= 0):
                session.positions[partition.partition_index] = partition.committed_offset
                session.committed[partition.partition_index] = partition.committed_offset
    missing = [p for p in session.assigned if p not in session.positions]
    if missing:
        reset = _EARLIEST if session.group_options.reset == "earliest" else _LATEST
        found = yield from _list_offsets(session, missing, reset)
        session.positions.update(found)


def _list_offsets(session: GroupSession, partitions: Sequence[int],
                  timestamp: int) -> Plan[dict[int, int]]:
    (body,) = yield _one(_LIST_OFFSETS, {
        "replica_id": -1, "isolation_level": 0,
        "timeout_ms": int(session.options.request_timeout * 1000),
        "topics": [{"name": session.topic, "partitions": [
            {"partition_index": p, "current_leader_epoch": -1, "timestamp": timestamp,
             "max_num_offsets": 1} for p in partitions]}],
    })
    found = {}
    for topic in body.topics:
        for partition in topic.partitions:
            if partition.error_code:
                raise _fail(partition.error_code, f"listing offsets of {session.topic!r}")
            found[partition.partition_index] = partition.offset
    return found


# --- heartbeats, commits, leaving ---------------------------------------------------------


def _heartbeat(session: GroupSession, clock: Clock) -> Plan[None]:
    """Heartbeat; a rebalance or a lost membership marks the session for rejoining."""
    (body,) = yield _one(_HEARTBEAT, {"group_id": session.group,
                                      "generation_id": session.generation,
                                      "member_id": session.member_id, "group_instance_id": None})
    session.next_heartbeat = clock() + session.group_options.heartbeat_interval
    code = body.error_code
    if code == 0:
        return
    if code in _REJOIN:
        logger.info("group %s: rejoining (%s)", session.group, for_code(code).name)
        if session.group_options.auto_commit:
            yield from _commit(session, quiet=True)
        if code == _UNKNOWN_MEMBER_ID:
            session.forget_membership()
        session.joined = False
        return
    raise _fail(code, f"heartbeat to group {session.group!r}")


def _commit(session: GroupSession, *, quiet: bool = False) -> Plan[None]:
    """Commit every assigned partition's position. CommitFailed if the group moved on
    (or, with ``quiet``, a log line: the rebalance about to happen explains it)."""
    positions = {p: offset for p, offset in session.positions.items() if p in session.assigned}
    if not positions or positions == session.committed or session.generation < 0:
        return
    (body,) = yield _one(_OFFSET_COMMIT, {
        "group_id": session.group,
        "generation_id_or_member_epoch": session.generation,
        "member_id": session.member_id,
        "group_instance_id": None,
        "retention_time_ms": -1,
        "topics": [{"name": session.topic, "partitions": [
            {"partition_index": p, "committed_offset": offset, "committed_leader_epoch": -1,
             "committed_metadata": ""} for p, offset in sorted(positions.items())]}],
    })
    codes = {p.error_code for topic in body.topics for p in topic.partitions} - {0}
    if not codes:
        session.committed = positions
        return
    code = min(codes)
    if code in _REJOIN:
        session.joined = False
        if code == _UNKNOWN_MEMBER_ID:
            session.forget_membership()
        if quiet:
            logger.info("group %s: commit refused (%s)", session.group, for_code(code).name)
            return
        raise CommitFailed(f"group {session.group!r} rebalanced before the commit "
                           f"({for_code(code).name}); its messages may be read again")
    raise _fail(code, f"committing offsets of group {session.group!r}")


def commit(session: GroupSession, clock: Clock) -> Plan[None]:
    """Commit the positions after what ``poll`` returned (explicit commit)."""
    if not session.joined:
        return
    yield from _commit(session)
    session.next_auto_commit = clock() + session.group_options.auto_commit_interval


def leave(session: GroupSession) -> Plan[None]:
    """Commit (when auto-committing) and leave the group, so it rebalances at once."""
    if session.member_id == "":
        return
    if session.joined and session.group_options.auto_commit:
        yield from _commit(session, quiet=True)
    yield _one(_LEAVE_GROUP, {"group_id": session.group, "member_id": session.member_id,
                              "members": [{"member_id": session.member_id,
                                           "group_instance_id": None, "reason": None}]})
    session.forget_membership()


# --- polling ----------------------------------------------------------------------------


def _fetch_request(session: GroupSession, wait: float) -> Request:
    size = session.options.max_bytes
    return Request(_FETCH, {
        "replica_id": -1, "max_wait_ms": max(0, int(wait * 1000)), "min_bytes": 1,
        "max_bytes": size, "isolation_level": 0, "session_id": 0, "session_epoch": -1,
        "topics": [{"topic": session.topic, "partitions": [
            {"partition": p, "current_leader_epoch": -1, "fetch_offset": session.positions[p],
             "last_fetched_epoch": -1, "log_start_offset": -1, "partition_max_bytes": size}
            for p in session.assigned]}],
        "forgotten_topics_data": [], "rack_id": "",
    }, wait=wait)


def _decode(session: GroupSession, partition: int, records: Any) -> list[Message]:
    """The messages at or after the partition's position; moves the position past them."""
    messages, session.positions[partition] = decode_messages(
        session.topic, partition, records, checked_batches(records), session.positions[partition])
    return messages


def group_poll(session: GroupSession, timeout: float, clock: Clock) -> Plan[list[Message]]:
    """Messages from the assigned partitions, waiting up to ``timeout`` seconds for some.

    Joins the group first if needed (which may take a rebalance), heartbeats
    and auto-commits when due.
    """
    options = session.group_options
    deadline = clock() + timeout
    backoff = _Backoff()
    while True:
        if not session.joined:
            yield from _join(session, clock)
        now = clock()
        if now >= session.next_heartbeat:
            yield from _heartbeat(session, clock)
            if not session.joined:
                continue
        if options.auto_commit and now >= session.next_auto_commit:
            yield from _commit(session, quiet=True)
            session.next_auto_commit = clock() + options.auto_commit_interval
            if not session.joined:
                continue
        wait = max(0.0, min(deadline, session.next_heartbeat) - clock())
        if not session.assigned:
            if clock() >= deadline:
                return []
            yield Pause(wait)
            continue
        (body,) = yield Send((_fetch_request(session, wait),))
        messages: list[Message] = []
        retry = False
        for topic in getattr(body, "responses", []):
            for partition in topic.partitions:
                index = partition.partition_index
                if topic.topic != session.topic or index not in session.positions:
                    continue
                code = partition.error_code
                if code == 0:
                    messages += _decode(session, index, partition.records or b"")
                elif code == _OFFSET_OUT_OF_RANGE:
                    reset = _EARLIEST if options.reset == "earliest" else _LATEST
                    found = yield from _list_offsets(session, [index], reset)
                    logger.warning("%s-%d: offset %d is out of range; continuing from %d",
                                   session.topic, index, session.positions[index], found[index])
                    session.positions.update(found)
                elif for_code(code).retriable:
                    retry = True
                else:
                    raise _fail(code, f"reading {session.topic!r} partition {index}")
        if messages:
            return messages
        if clock() >= deadline:
            return []
        if retry:
            yield Pause(min(backoff.next(), max(0.0, deadline - clock())))
