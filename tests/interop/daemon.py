"""Start the real broker the way a user does (``python -m minikafka serve``) and stop it."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from minikafka.protocol.batch_header import BatchHeader, iter_batches
from minikafka.protocol.codec import decode_response, encode_request
from minikafka.protocol.framing import FrameBuffer, frame
from minikafka.protocol.messages.fetch import FETCH

START_TIMEOUT_S = 20
STOP_TIMEOUT_S = 20


def stored_batches(daemon: Daemon, topic: str, partition: int = 0) -> list[BatchHeader]:
    """The headers of every batch the broker holds for a partition, read over the wire."""
    headers: list[BatchHeader] = []
    offset = 1
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as sock:
        buffer = FrameBuffer()
        while True:
            body = {"replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1 << 26,
                    "isolation_level": 0, "topics": [{"topic": topic, "partitions": [
                        {"partition": partition, "fetch_offset": offset, "log_start_offset": -1,
                         "partition_max_bytes": 1 << 26}]}]}
            sock.sendall(frame(encode_request(FETCH, 5, 1, body)))
            while (payload := buffer.next_frame()) is None:
                data = sock.recv(1 << 20)
                if not data:
                    raise EOFError("the broker closed the connection")
                buffer.feed(data)
            _, response = decode_response(FETCH, 5, payload)
            answer = response.responses[0].partitions[0]
            if answer.error_code == 1:  # OFFSET_OUT_OF_RANGE: start at the log start
                offset = answer.log_start_offset
                continue
            assert answer.error_code == 0, answer.error_code
            found = [header for _, header in iter_batches(answer.records)]
            if not found:
                return headers
            headers += found
            offset = found[-1].last_offset + 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Daemon:
    """One broker process on 127.0.0.1; ``bootstrap`` is what clients are given."""

    def __init__(self, root_dir: Path, *, port: int | None = None, **variables: str) -> None:
        self.root_dir = root_dir
        self.port = port or free_port()
        self.variables = {"MINIKAFKA_HOST": f"127.0.0.1:{self.port}",
                          "MINIKAFKA_ROOT_DIR": str(root_dir), **variables}
        self.log_path = root_dir.parent / f"{root_dir.name}-broker.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.start_line = ""

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Daemon:
        env = {name: value for name, value in os.environ.items()
               if not name.startswith("MINIKAFKA_")}
        env.update(self.variables)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "minikafka", "serve"], env=env, cwd=self.root_dir.parent,
                stdout=subprocess.PIPE, stderr=log)
        self.start_line = self._read_start_line()
        return self

    def _read_start_line(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + START_TIMEOUT_S
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                self.kill()
                raise TimeoutError(f"broker did not start in {START_TIMEOUT_S}s: {self.log()}")
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"broker exited at start: {self.log()}")
            line += chunk
        selector.close()
        return line.decode()

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; returns the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()
        self.process = None
        return status

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
