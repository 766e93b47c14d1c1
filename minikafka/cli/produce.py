"""Send lines as messages to a topic: one message per line.

On a terminal it is interactive: a prompt, and each message's number after
you press Enter (Ctrl-D or Ctrl-C to stop). From a pipe or --file it
streams: lines are sent in batches as they come, and at the end it prints
how many were sent. Empty lines are skipped.

Examples:
  minikafka produce -t demo
  seq 1000 | minikafka produce -t demo
  minikafka produce -t demo --file events.txt --key-separator ,
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import time
from collections.abc import Iterator
from typing import BinaryIO

from minikafka.client._blocking import Producer
from minikafka.client._core import PendingMessage

from . import CommandError
from ._client_options import add_connection_arguments, broker_address, reported_errors

__all__ = ["add_arguments", "run"]

_LINGER_S = 0.05  # batching delay when streaming: lines arriving together share a batch
_READ_SIZE = 64 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument("--file", metavar="PATH",
                        help="read lines from this file instead of standard input")
    parser.add_argument("--key-separator", metavar="SEP",
                        help="split each line at the first SEP into key and value "
                             "(a line without SEP has no key)")


def run(args: argparse.Namespace) -> int:
    address = broker_address(args)
    separator = args.key_separator.encode() if args.key_separator else None
    if args.key_separator == "":
        raise CommandError("--key-separator must not be empty")
    with reported_errors(address):
        if args.file is not None:
            try:
                source: BinaryIO = open(args.file, "rb")
            except OSError as exc:
                raise CommandError(f"cannot read {args.file}: {exc.strerror}") from None
            with source:
                return _stream(address, args, source, separator, waits=False)
        if sys.stdin.isatty():
            return _interactive(address, args, separator)
        return _stream(address, args, sys.stdin.buffer, separator, waits=True)


def _split(line: bytes, separator: bytes | None) -> tuple[bytes | None, bytes]:
    if separator is not None and separator in line:
        key, _, value = line.partition(separator)
        return key, value
    return None, line


def _interactive(address: str, args: argparse.Namespace, separator: bytes | None) -> int:
    prompt = f"{args.topic}> "
    with Producer(address, retry_timeout=args.timeout, request_timeout=max(args.timeout, 1.0)
                  ) as producer:
        while True:
            sys.stdout.write(prompt)
            sys.stdout.flush()
            line = sys.stdin.buffer.readline()
            if not line:  # Ctrl-D
                sys.stdout.write("\n")
                return 0
            line = line.rstrip(b"\r\n")
            if not line:
                continue
            key, value = _split(line, separator)
            number = producer.send(args.topic, value, key=key)
            print(f"#{number}")


def _lines(source: BinaryIO, *, waits: bool, idle: list[bool]) -> Iterator[bytes | None]:
    """Lines of ``source`` without their line ends; ``None`` whenever a pipe goes
    quiet for the batching delay (so queued lines are sent, not held)."""
    fd = source.fileno()
    pending = b""
    while True:
        if waits and not idle[0]:
            ready, _, _ = select.select([fd], [], [], _LINGER_S)
            if not ready:
                idle[0] = True
                yield None
                continue
        chunk = os.read(fd, _READ_SIZE)
        idle[0] = False
        if not chunk:
            break
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r")
    if pending:
        yield pending.rstrip(b"\r")


def _stream(address: str, args: argparse.Namespace, source: BinaryIO,
            separator: bytes | None, *, waits: bool) -> int:
    first: PendingMessage | None = None
    last: PendingMessage | None = None
    count = 0
    started = time.monotonic()
    # idle[0]: nothing is queued since the pipe last went quiet, so wait without a limit
    idle = [False]
    with Producer(address, linger=_LINGER_S, retry_timeout=args.timeout,
                  request_timeout=max(args.timeout, 1.0)) as producer:
        for line in _lines(source, waits=waits, idle=idle):
            if line is None:
                producer.flush()
                continue
            if not line:
                continue
            key, value = _split(line, separator)
            last = producer.send_nowait(args.topic, value, key=key)
            first = first or last
            count += 1
        producer.flush()
    elapsed = time.monotonic() - started
    if first is not None and last is not None:
        print(f"{count} messages sent to {args.topic} "
              f"(numbers {first.number} to {last.number}) in {elapsed:.2f} s")
    else:
        print(f"no messages sent to {args.topic} (the input had no lines)")
    return 0
