"""Decode Kafka frames from a file, stdin or a live connection, and print them.

Examples:
  minikafka frame Metadata | nc -q1 localhost 9092 | minikafka dump --api Metadata:8
  minikafka dump requests.bin
  minikafka dump --requests requests.bin responses.bin
  xxd -p capture.bin | minikafka dump --hex
  tcpdump -i lo -X port 9092 > capture.txt; minikafka dump --hex capture.txt
  minikafka dump --proxy localhost:19092 --upstream localhost:9092

Input is a stream of size-prefixed frames: raw bytes, or with --hex the text
of `xxd -p`, `xxd`, `hexdump -C` or a `tcpdump -x/-X/-xx/-XX` listing (which
holds both directions of each connection). Each frame is printed with its
size, API, version, correlation id and client id, then its body with Kafka's
field names; record batches are expanded into records with their CRC status.

A stream of responses needs to know what was asked: --requests FILE pairs
them with the requests by correlation id, --api NAME:VERSION decodes every
response as that API and version. Without either, the input is requests.

A frame that does not decode is printed as far as it decoded, with the byte
offset and the reason; the dump continues with the next frame. The exit
status is 1 if any frame failed, else 0. --json prints one JSON object per
frame, which `minikafka frame --json` turns back into the same bytes.

With --proxy, listen on LISTEN_ADDR, relay every connection to --upstream and
print both directions live. Broker addresses in Metadata and
FindCoordinator responses are rewritten to the proxy's own (one extra
listening port per broker), so clients keep talking through it; each
rewrite is shown in a "note:" line. With --json, connections opening and
closing are printed as objects with an "event" key among the frames.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from ..debug.build import BuildError, check_version, find_api
from ..debug.dump import Conversation, DecodedFrame, FrameSplitter, Pairing
from ..debug.hexinput import HexError, HexInput, read_hex
from ..protocol.api import Api
from . import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", default="-", metavar="FILE",
                        help="the frames to decode ('-' or nothing for stdin)")
    parser.add_argument("--hex", action="store_true",
                        help="the input is hex text: xxd -p, xxd, hexdump -C or tcpdump -X")
    parser.add_argument("--requests", metavar="FILE",
                        help="the input is responses to the requests in FILE (same format)")
    parser.add_argument("--api", metavar="NAME:VERSION",
                        help="the input is responses to NAME requests at VERSION")
    parser.add_argument("--json", action="store_true", help="print one JSON object per frame")
    parser.add_argument("--proxy", metavar="LISTEN_ADDR",
                        help="relay connections made to HOST:PORT to --upstream, printing them")
    parser.add_argument("--upstream", metavar="HOST:PORT", help="the broker --proxy relays to")


def run(args: argparse.Namespace) -> int:
    fixed = _fixed_api(args.api) if args.api else None
    if args.proxy or args.upstream:
        return _proxy(args, fixed)
    out = sys.stdout
    printer = _Printer(out, args.json)
    source = _read(args.file, args.hex)
    if source.segments is not None:
        if args.requests:
            raise CommandError("--requests pairs a file of responses; a tcpdump listing "
                               "already holds both directions")
        for warning in source.warnings:
            print(f"minikafka dump: {warning}", file=sys.stderr)
        conversations: dict[str, Conversation] = {}
        for segment in source.segments:
            conversation = conversations.get(segment.connection)
            if conversation is None:
                conversation = Conversation(Pairing(fixed), label=segment.connection)
                conversations[segment.connection] = conversation
            feed = conversation.requests if segment.from_client else conversation.responses
            printer.print(feed(segment.data))
        for conversation in conversations.values():
            printer.print(conversation.finish())
        return printer.status
    assert source.stream is not None
    if args.requests is None and fixed is None:
        conversation = Conversation()
        printer.print(conversation.requests(source.stream))
        printer.print(conversation.finish())
        return printer.status
    pairing = Pairing(fixed)
    if args.requests is not None:
        _load_requests(pairing, args.requests, args.hex)
    conversation = Conversation(pairing)
    printer.print(conversation.responses(source.stream))
    printer.print(conversation.finish())
    return printer.status


class _Printer:
    def __init__(self, out: TextIO, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json
        self.status = 0

    def print(self, frames: list[DecodedFrame]) -> None:
        for frame in frames:
            if not frame.ok:
                self.status = 1
            if self.as_json:
                self.out.write(json.dumps(frame.to_json(), ensure_ascii=False) + "\n")
            else:
                self.out.write(frame.render() + "\n\n")
        self.out.flush()


def _fixed_api(text: str) -> tuple[Api, int]:
    name, sep, version = text.rpartition(":")
    if not sep or not version.strip().isdigit():
        raise CommandError(f"--api needs NAME:VERSION, such as Metadata:8 (got {text!r})")
    try:
        api = find_api(name)
        check_version(api, int(version))
    except BuildError as exc:
        raise CommandError(str(exc)) from None
    return api, int(version)


def _read(name: str, as_hex: bool) -> HexInput:
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {name}: {exc.strerror}") from None
    if not as_hex:
        return HexInput(stream=data)
    try:
        return read_hex(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CommandError(f"{name} is not hex text (not even UTF-8); drop --hex for raw "
                           "bytes") from None
    except HexError as exc:
        raise CommandError(f"{name}: {exc}") from None


def _load_requests(pairing: Pairing, name: str, as_hex: bool) -> None:
    source = _read(name, as_hex)
    if source.stream is None:
        raise CommandError(f"{name}: --requests takes a stream of requests, not a capture")
    splitter = FrameSplitter()
    conversation = Conversation(pairing)
    for raw in splitter.feed(source.stream) + splitter.finish():
        frame = conversation.request_frame(raw)
        if frame.error is not None and frame.api_version is None:
            print(f"minikafka dump: {name}: request frame {raw.index} has no usable header: "
                  f"{frame.error.reason}", file=sys.stderr)


def _proxy(args: argparse.Namespace, fixed: tuple[Api, int] | None) -> int:
    if not (args.proxy and args.upstream):
        raise CommandError("--proxy LISTEN_ADDR and --upstream HOST:PORT go together")
    if args.file != "-" or args.requests:
        raise CommandError("--proxy reads from the network, not from FILE or --requests")
    import trio

    from ..debug.proxy import AddressError, parse_address, serve_proxy

    try:
        listen = parse_address(args.proxy)
        upstream = parse_address(args.upstream)
    except AddressError as exc:
        raise CommandError(str(exc)) from None
    try:
        trio.run(serve_proxy, listen, upstream, sys.stdout, args.json)
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.proxy}: {exc.strerror or exc}") from None
    except BaseExceptionGroup as group:
        # Output piped into a program that exited (`| head`): stop quietly.
        if group.split(BrokenPipeError)[1] is None:
            return 0
        raise
    return 0
