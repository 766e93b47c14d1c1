"""Write one Kafka request frame to stdout, ready to pipe into netcat.

Examples:
  minikafka frame ApiVersions | nc -q1 localhost 9092 | minikafka dump --api ApiVersions:3
  minikafka frame Metadata --topic demo
  minikafka frame Produce --topic demo --key k --value hello --value world
  minikafka frame Fetch --topic demo --offset 1
  minikafka frame ListOffsets --topic demo --timestamp -1
  minikafka frame JoinGroup --version 5 --template > join.json   # edit, then:
  minikafka frame --json join.json

Options build ApiVersions, Metadata, Produce (a real record batch), Fetch and
ListOffsets at any declared version (--version, default the highest the broker
serves). Any other request, or any captured one, is written from JSON: --json
FILE takes the objects `minikafka dump --json` prints (one frame per object,
requests or responses), so a captured frame can be edited and sent again.
"""

from __future__ import annotations

import argparse
import binascii
import json
import sys
from pathlib import Path
from typing import Any

from ..debug.build import (
    BuildError,
    check_version,
    default_version,
    encode_frame,
    find_api,
    frames_from_json,
    request_body,
)
from ..debug.tree import template
from . import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("api", nargs="?", metavar="API",
                        help="the request: a name such as Metadata, or an api key")
    parser.add_argument("--version", type=int, help="API version (default: the highest "
                        "the broker serves)")
    parser.add_argument("--correlation-id", type=int, default=1, metavar="N",
                        help="correlation id (default 1)")
    parser.add_argument("--client-id", default="minikafka", help="client id (default minikafka)")
    parser.add_argument("--topic", action="append", dest="topics", metavar="NAME",
                        help="topic (Metadata: repeatable, none means all topics)")
    parser.add_argument("--partition", type=int, default=0, help="partition (default 0)")
    parser.add_argument("--value", action="append", dest="values", metavar="TEXT",
                        help="Produce: a record value (repeatable, one record each)")
    parser.add_argument("--key", help="Produce: the records' key (default null)")
    parser.add_argument("--acks", type=int, default=-1, help="Produce: acks (default -1)")
    parser.add_argument("--timeout-ms", type=int, default=30000,
                        help="Produce: timeout (default 30000)")
    parser.add_argument("--offset", type=int,
                        help="Fetch: the offset to read from (MiniKafka numbers messages from 1, "
                        "Kafka from 0; ListOffsets --timestamp -2 tells)")
    parser.add_argument("--max-wait-ms", type=int, default=500,
                        help="Fetch: how long the broker may wait for data (default 500)")
    parser.add_argument("--max-bytes", type=int, default=1024 * 1024,
                        help="Fetch: response size limit (default 1048576)")
    parser.add_argument("--timestamp", type=int,
                        help="ListOffsets: -1 latest (default), -2 earliest, or a time in ms; "
                        "Produce: the records' timestamp in ms (default now)")
    parser.add_argument("--no-auto-create", dest="auto_create", action="store_false",
                        help="Metadata: do not ask the broker to create missing topics")
    parser.add_argument("--json", metavar="FILE",
                        help="build the frames described in FILE ('-' for stdin), as "
                        "`minikafka dump --json` prints them")
    parser.add_argument("--template", action="store_true",
                        help="print the JSON of API's request with every field empty, "
                        "to fill in and pass to --json")
    parser.add_argument("--hex", action="store_true",
                        help="write hex text (as `xxd -p`) instead of raw bytes")


def run(args: argparse.Namespace) -> int:
    try:
        frames = _frames(args)
    except BuildError as exc:
        raise CommandError(str(exc)) from None
    if frames is None:
        return 0
    data = b"".join(frames)
    if args.hex:
        text = binascii.hexlify(data).decode("ascii")
        sys.stdout.write("".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60)))
        sys.stdout.flush()
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


def _frames(args: argparse.Namespace) -> list[bytes] | None:
    if args.json is not None:
        if args.api is not None or args.template:
            raise BuildError("--json takes the API and fields from the file; give no API")
        return frames_from_json(_read_text(args.json))
    if args.api is None:
        raise BuildError("name an API (e.g. ApiVersions, Metadata, Produce) or pass --json FILE")
    api = find_api(args.api)
    version = default_version(api) if args.version is None else args.version
    check_version(api, version)
    if args.template:
        tree = {"type": "request", "api": api.name, "api_version": version,
                "correlation_id": args.correlation_id, "client_id": args.client_id,
                "body": template(api.requests[version])}
        print(json.dumps(tree, indent=2))
        return None
    options: dict[str, Any] = {
        "topics": args.topics, "values": args.values, "key": args.key,
        "partition": args.partition, "acks": args.acks, "timeout_ms": args.timeout_ms,
        "offset": args.offset, "max_wait_ms": args.max_wait_ms, "max_bytes": args.max_bytes,
        "auto_create": args.auto_create,
    }
    if args.timestamp is not None:
        options["timestamp"] = args.timestamp
    body = request_body(api, version, options)
    return [encode_frame("request", api, version, args.correlation_id, body, args.client_id)]


def _read_text(name: str) -> str:
    try:
        if name == "-":
            return sys.stdin.read()
        return Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise BuildError(f"cannot read {name}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BuildError(f"{name} is not UTF-8 text (JSON expected)") from None
