"""Print a topic's messages as they arrive.

Each message is printed as it arrives, from --from on (a message number,
earliest or latest; default earliest). --exit stops at the end of the log
instead of waiting for more. Formats: text (number, time, value; one line
each), raw (each value's bytes, then a newline) and json (one object per
line: topic, number, timestamp, key, value, headers; bytes that are not
UTF-8 appear base64-encoded under "key_base64"/"value_base64").

Examples:
  minikafka consume -t demo
  minikafka consume -t demo --from latest
  minikafka consume -t demo --from 1 --exit --format json
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from minikafka.client._blocking import Consumer
from minikafka.client._core import Message, ReadFrom

from ._client_options import (
    add_connection_arguments,
    broker_address,
    reported_errors,
    show_client_log,
)

__all__ = ["add_arguments", "run"]

_LONG_POLL_S = 5.0


def _read_from(text: str) -> ReadFrom:
    if text in ("earliest", "latest"):
        return text  # type: ignore[return-value]
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a message number, earliest or latest; not {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_connection_arguments(parser)
    parser.add_argument("--from", dest="read_from", type=_read_from, default="earliest",
                        metavar="N|earliest|latest",
                        help="the first message to print (default earliest)")
    parser.add_argument("--exit", action="store_true",
                        help="stop at the end of the log instead of waiting for more")
    parser.add_argument("--format", choices=("text", "raw", "json"), default="text",
                        help="how to print each message (default text)")
    parser.add_argument("--key-separator", metavar="SEP",
                        help="text and raw formats: print the key, then SEP, before the value")


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="backslashreplace")


def _json_bytes(record: dict[str, Any], name: str, value: bytes | None) -> None:
    if value is None:
        record[name] = None
        return
    try:
        record[name] = value.decode("utf-8")
    except UnicodeDecodeError:
        record[f"{name}_base64"] = base64.b64encode(value).decode("ascii")


def _formatter(kind: str, separator: str | None) -> Callable[[Message], bytes]:
    prefix = separator.encode() if separator is not None else None

    def keyed(message: Message) -> bytes:
        if prefix is None:
            return message.value
        return (message.key or b"") + prefix + message.value

    if kind == "raw":
        return lambda message: keyed(message) + b"\n"
    if kind == "text":
        def text(message: Message) -> bytes:
            when = message.timestamp.isoformat(timespec="milliseconds") if message.timestamp \
                else "-"
            return f"{message.number}\t{when}\t{_text(keyed(message))}\n".encode()
        return text

    def as_json(message: Message) -> bytes:
        record: dict[str, Any] = {
            "topic": message.topic,
            "number": message.number,
            "timestamp": message.timestamp.isoformat() if message.timestamp else None,
        }
        _json_bytes(record, "key", message.key)
        _json_bytes(record, "value", message.value)
        record["headers"] = {name: None if value is None else _text(value)
                             for name, value in message.headers}
        return json.dumps(record, ensure_ascii=False).encode() + b"\n"
    return as_json


def run(args: argparse.Namespace) -> int:
    address = broker_address(args)
    show_client_log()
    write = _formatter(args.format, args.key_separator)
    out = sys.stdout.buffer
    try:
        with reported_errors(address), Consumer(
            address, args.topic, read_from=args.read_from,
            retry_timeout=args.timeout, request_timeout=max(args.timeout, 1.0),
        ) as consumer:
            while True:
                messages = consumer.poll(0.0 if args.exit else _LONG_POLL_S)
                if not messages and args.exit:
                    return 0
                out.write(b"".join(write(message) for message in messages))
                out.flush()
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, and keep Python's
        # final flush of stdout from complaining about it
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
