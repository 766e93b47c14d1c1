"""Consumer groups: the coordinator of Kafka's classic group protocol, and what it deals in.

``GroupCoordinator`` holds every group's membership (in memory) and uses an
``OffsetStore`` (minikafka.storage.offsets) for committed offsets; the
broker's group handlers translate requests to and from it.
"""

from ._model import (
    DEFAULT_INITIAL_REBALANCE_DELAY_MS,
    GroupDescription,
    GroupSettings,
    GroupState,
    JoinedMember,
    JoinRequest,
    JoinResult,
    MemberDescription,
    SyncRequest,
    SyncResult,
)
from .coordinator import GroupCoordinator

__all__ = [
    "DEFAULT_INITIAL_REBALANCE_DELAY_MS",
    "GroupCoordinator",
    "GroupDescription",
    "GroupSettings",
    "GroupState",
    "JoinRequest",
    "JoinResult",
    "JoinedMember",
    "MemberDescription",
    "SyncRequest",
    "SyncResult",
]
