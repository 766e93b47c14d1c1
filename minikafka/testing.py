"""A MiniKafka broker for tests: in memory, on a free loopback port, in this process.

``running_broker()`` starts one in a background thread (its own trio run)
and stops it on exit; it works from any test, plain or trio, and from
scripts. The pytest plugin (``minikafka.pytest_plugin``) wraps it as the
``minikafka_broker`` fixture::

    def test_my_producer(minikafka_broker):
        producer = KafkaProducer(bootstrap_servers=minikafka_broker)
        ...
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator

import attrs
import trio

from minikafka.server.config import Address, Config
from minikafka.server.server import Server
from minikafka.storage.memory import MemoryBackend

__all__ = ["RunningBroker", "running_broker"]

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 15.0  # the server's own shutdown grace is 10 s


@attrs.frozen
class RunningBroker:
    """A broker started by ``running_broker``: its ``"127.0.0.1:PORT"`` address and server."""

    address: str
    server: Server


@contextlib.contextmanager
def running_broker(config: Config | None = None) -> Iterator[RunningBroker]:
    """Run a broker with in-memory storage until the block ends.

    ``config`` defaults to ``Config()`` with memory storage; its listening
    address is replaced by 127.0.0.1 on a free port, so brokers never
    collide. Raises the server's error if it cannot start.
    """
    config = attrs.evolve(config or Config(), host=Address("127.0.0.1", 0), storage="memory")
    server = Server(MemoryBackend(), config)
    started: queue.Queue[tuple[trio.lowlevel.TrioToken, Address] | BaseException] = queue.Queue()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            address = await nursery.start(server.serve)
            started.put((trio.lowlevel.current_trio_token(), address))

    def thread_main() -> None:
        try:
            trio.run(main)
        except BaseException as exc:  # reported to the starting thread, not lost in this one
            started.put(exc)

    thread = threading.Thread(target=thread_main, name="minikafka-test-broker", daemon=True)
    thread.start()
    try:
        outcome = started.get(timeout=_START_TIMEOUT_S)
    except queue.Empty:
        raise RuntimeError(f"the test broker did not start within {_START_TIMEOUT_S:g} s") from None
    if isinstance(outcome, BaseException):
        raise outcome
    token, address = outcome
    try:
        yield RunningBroker(f"{address.host}:{address.port}", server)
    finally:
        # run_sync_soon works from any thread, a trio task's included
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(server.shutdown)
        thread.join(_STOP_TIMEOUT_S)
