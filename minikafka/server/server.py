"""``Server``: the broker on TCP, as the daemon, the tests and embedders run it.

    async with trio.open_nursery() as nursery:
        address = await nursery.start(Server(MemoryBackend(), config).serve)
        ...
        server.shutdown()   # or cancel the nursery

``serve`` listens, reports the first bound address through ``task_status``,
and runs until ``shutdown()``: then it stops accepting, lets each connection
finish the request it is handling (long polls answer at once), waits for
them (at most ``SHUTDOWN_GRACE_S``), and flushes the storage and the
committed offsets. Closing them is left to whoever opened them.

Connections beyond MINIKAFKA_MAX_CONNECTIONS are closed as soon as they are
accepted; with TLS configured, each connection completes its handshake
(within the idle timeout) before its first request is read. If the file
storage's data directory is removed while serving, ``serve`` stops as
gracefully as it can and raises ``DataDirectoryLost``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import attrs
import trio

from minikafka.storage._common import wall_clock_ms
from minikafka.storage.base import Clock, Storage
from minikafka.storage.offsets import MemoryOffsets, OffsetStore

from .broker import Broker, group_coordinator
from .config import Address, Config
from .connection import Connection, socket_addresses
from .datadir import DATA_DIRECTORY_CHECK_S, DataDirectoryLost, watch_data_directory
from .limits import ConnectionLimit
from .retention import run_retention
from .security import Security, load_security
from .tls import handshake

__all__ = ["SHUTDOWN_GRACE_S", "Server"]

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 10.0


@attrs.define(eq=False)
class Server:
    """A MiniKafka broker serving ``storage`` as ``config`` says."""

    storage: Storage
    config: Config = attrs.Factory(Config)
    clock: Clock = wall_clock_ms
    # Committed offsets of consumer groups; memory unless the opener passes a durable
    # store (``minikafka serve`` opens storage.offsets.FileOffsets next to the data).
    offsets: OffsetStore = attrs.field(
        default=attrs.Factory(lambda self: MemoryOffsets(clock=self.clock), takes_self=True)
    )
    broker: Broker = attrs.field(init=False)
    addresses: list[Address] = attrs.field(init=False, factory=list)
    _connections: set[Connection] = attrs.field(init=False, factory=set)
    _stop: trio.Event = attrs.field(init=False, factory=trio.Event)
    # TLS and SASL from the config; ConfigError here if the files are unusable.
    security: Security = attrs.field(init=False)
    connection_limit: ConnectionLimit = attrs.field(init=False)
    data_directory_check_s: float = attrs.field(default=DATA_DIRECTORY_CHECK_S, kw_only=True)
    _fatal: DataDirectoryLost | None = attrs.field(init=False, default=None)
    _handshaking: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        self.security = load_security(self.config)
        self.connection_limit = ConnectionLimit(self.config.max_connections)
        self.broker = Broker(self.storage, self.config, self.clock,
                             groups=group_coordinator(self.config, self.offsets))

    @property
    def address(self) -> Address:
        """The first address listened on (once ``serve`` has started)."""
        if not self.addresses:
            raise RuntimeError("the server is not listening yet")
        return self.addresses[0]

    @property
    def open_connections(self) -> frozenset[Connection]:
        """The connections being served now."""
        return frozenset(self._connections)

    @property
    def pending_handshakes(self) -> int:
        """Connections accepted and still in their TLS handshake."""
        return self._handshaking

    def shutdown(self) -> None:
        """Ask ``serve`` to stop gracefully (safe to call more than once)."""
        self._stop.set()

    async def serve(self, *, task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        """Listen and serve until ``shutdown()``; reports the bound address when listening.

        OSError from binding (address in use, no such interface) propagates
        before anything is reported.
        """
        host = self.config.host
        tcp_listeners = await trio.open_tcp_listeners(host.port or 0, host=host.host)
        self.addresses = [
            Address(str(name[0]), int(name[1]))
            for name in (listener.socket.getsockname() for listener in tcp_listeners)
        ]
        listeners: list[trio.abc.Listener[trio.abc.Stream]] = list(tcp_listeners)
        if self.security.tls is not None:
            listeners = [trio.SSLListener(listener, self.security.tls, https_compatible=False)
                         for listener in tcp_listeners]
        if self.security.protocol == "SASL_PLAINTEXT" and "PLAIN" in self.config.sasl_mechanisms:
            logger.warning("SASL PLAIN without TLS: passwords cross the network readable; "
                           "set MINIKAFKA_TLS_CERT and MINIKAFKA_TLS_KEY")
        async with trio.open_nursery() as connections:
            async with trio.open_nursery() as accepting:
                accepting.start_soon(run_retention, self.broker)
                await accepting.start(self.broker.groups.serve_timers)
                accepting.start_soon(self._accept, listeners, connections)
                root = getattr(self.storage, "root", None)
                if isinstance(root, Path):  # the file storage
                    accepting.start_soon(self._watch_data_directory, root)
                task_status.started(self.addresses[0])
                await self._stop.wait()
                accepting.cancel_scope.cancel()
            logger.info("stopping: finishing requests in flight")
            self.broker.signals.notify_all()
            self.broker.groups.close()  # JoinGroup/SyncGroup waiting for a rebalance: answered
            for connection in list(self._connections):
                connection.stop()
            connections.cancel_scope.deadline = trio.current_time() + SHUTDOWN_GRACE_S
        if connections.cancel_scope.cancelled_caught:
            logger.warning("connections still busy after %.0fs were cut off", SHUTDOWN_GRACE_S)
        if self._fatal is not None:
            raise self._fatal  # nothing to flush into
        await trio.to_thread.run_sync(self.storage.flush)
        await trio.to_thread.run_sync(self.offsets.flush)
        logger.info("stopped")

    async def _watch_data_directory(self, root: Path) -> None:
        self._fatal = await watch_data_directory(root, self.data_directory_check_s)
        logger.critical("%s", self._fatal)
        self.shutdown()

    async def _accept(self, listeners: list[trio.abc.Listener[trio.abc.Stream]],
                      connections: trio.Nursery) -> None:
        await trio.serve_listeners(self._serve_connection, listeners,
                                   handler_nursery=connections)

    async def _serve_connection(self, stream: trio.abc.Stream) -> None:
        _, peer = socket_addresses(stream)
        # connections still in their TLS handshake count against the limit too
        if not self.connection_limit.admits(len(self._connections) + self._handshaking, peer):
            return  # serve_listeners closes the stream
        if isinstance(stream, trio.SSLStream):
            self._handshaking += 1
            try:
                if not await handshake(stream, self.config.idle_timeout_s, peer):
                    return
            finally:
                self._handshaking -= 1
        connection = Connection.accept(stream, self.broker, self.security.authenticator)
        self._connections.add(connection)
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)
