"""A live Kafka proxy that prints every frame: ``minikafka dump --proxy``.

Each client connection gets its own connection to the broker. Requests are
decoded, printed and forwarded as they arrive; responses are collected
frame by frame, decoded with the request they answer, printed and
forwarded. Broker addresses in Metadata, FindCoordinator and
DescribeCluster responses are rewritten to the proxy's own, so that the
client's next connections come through the proxy too: the bootstrap broker
maps to the listening address, every other broker to a listening port of
its own, opened the first time that broker is named. Each rewrite is
printed. Bytes that cannot be split into frames are passed on unchanged.

The decoding is ``minikafka.debug.dump``'s; this module only adds trio.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any, TextIO

import attrs
import trio

from .build import BuildError, frame_from_object
from .dump import Conversation, DecodedFrame, FrameSplitter, RawFrame

__all__ = ["Address", "AddressError", "Proxy", "parse_address", "serve_proxy"]

_RECEIVE_SIZE = 65536
# How long a connection whose client stopped sending waits for the responses
# still owed before the proxy hangs up on the broker.
DRAIN_TIMEOUT_S = 5.0
_WILDCARDS = {"", "0.0.0.0", "::"}
# Responses that name brokers; clients connect to the addresses they give.
_ADDRESS_APIS = {"Metadata", "FindCoordinator", "DescribeCluster"}


@attrs.define
class _Link:
    """One relayed connection's shared state: its decoder and when to hang up."""

    conversation: Conversation
    client_done: bool = False
    cancel_scope: trio.CancelScope | None = None

    def close(self) -> None:
        if self.cancel_scope is not None:
            self.cancel_scope.cancel()


class AddressError(ValueError):
    """A HOST:PORT that is not one."""


@attrs.frozen
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_address(text: str) -> Address:
    """``HOST:PORT``, ``[IPv6]:PORT``, ``:PORT`` (every interface) or ``PORT`` (localhost)."""
    text = text.strip()
    if text.isdigit():
        host, port = "localhost", text
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise AddressError(f"{text!r} is not HOST:PORT")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise AddressError(f"{text!r}: the port must be a number from 0 to 65535")
    return Address(host, int(port))


class Proxy:
    """Relays client connections to brokers and prints what passes.

    ``out`` receives each frame as text (or one JSON object per line with
    ``as_json``) and a line per connection opened, closed or rewritten.
    ``tap``, if given, is called with (connection label, "request" or
    "response", bytes) for every chunk received from either side, before any
    rewriting: enough to save a capture.
    """

    def __init__(self, upstream: Address, out: TextIO, as_json: bool = False,
                 tap: Callable[[str, str, bytes], None] | None = None) -> None:
        self.upstream = upstream
        self.out = out
        self.as_json = as_json
        self.tap = tap
        self.listen: Address | None = None
        self._advertised_host = ""
        self._bind_host = ""
        self._routes: dict[Address, Address] = {}  # broker -> the proxy address for it
        self._routes_lock = trio.Lock()
        self._nursery: trio.Nursery | None = None
        self._connection_ids = itertools.count(1)

    async def serve(self, listen: Address, *,
                    task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on ``listen`` until cancelled; reports the bound address when started.

        OSError from resolving or binding ``listen`` propagates before anything
        is reported.
        """
        # Bound before the nursery opens, so that a bad address is a plain OSError.
        self._bind_host = await _resolve(listen.host)
        self._advertised_host = listen.host if listen.host not in _WILDCARDS else ""
        listeners = await trio.open_tcp_listeners(listen.port, host=self._bind_host)
        port = listeners[0].socket.getsockname()[1]
        self.listen = Address(listen.host or self._bind_host, port)
        self._routes[self.upstream] = self.listen
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._event({"event": "listening", "address": str(self.listen),
                         "upstream": str(self.upstream)},
                        f"proxy: listening on {self.listen}, relaying to {self.upstream}")
            await nursery.start(trio.serve_listeners, self._handler(self.upstream), listeners)
            task_status.started(self.listen)

    def _handler(self, target: Address) -> Any:
        async def handle(stream: trio.SocketStream) -> None:
            await self._relay(stream, target)
        return handle

    async def _route(self, broker: Address) -> Address:
        """The proxy address that leads to ``broker``, opening a listener if it has none."""
        async with self._routes_lock:
            route = self._routes.get(broker)
            if route is None:
                assert self._nursery is not None and self.listen is not None
                listeners = await trio.open_tcp_listeners(0, host=self._bind_host)
                port = listeners[0].socket.getsockname()[1]
                route = Address(self.listen.host, port)
                await self._nursery.start(trio.serve_listeners, self._handler(broker), listeners)
                self._routes[broker] = route
                self._event({"event": "listening", "address": str(route),
                             "upstream": str(broker)},
                            f"proxy: listening on {route} for broker {broker}")
            return route

    async def _relay(self, client: trio.SocketStream, target: Address) -> None:
        number = next(self._connection_ids)
        label = f"conn {number}"
        peer = _peer(client)
        local_host = client.socket.getsockname()[0]
        try:
            upstream = await trio.open_tcp_stream(target.host, target.port)
        except OSError as exc:
            self._event({"connection": label, "event": "upstream_failed",
                         "upstream": str(target), "reason": str(exc)},
                        f"[{label}] {peer}: cannot connect to {target}: {exc}")
            await client.aclose()
            return
        # The broker may name itself by the address reached rather than the one
        # given (127.0.0.1 for localhost): both lead to the same proxy port.
        route = self._routes.get(target)
        if route is not None:
            try:
                reached = _address_of(upstream.socket.getpeername())
            except OSError:
                reached = None
            if reached is not None:
                self._routes.setdefault(reached, route)
        self._event({"connection": label, "event": "connected", "client": peer,
                     "upstream": str(target)}, f"[{label}] {peer} connected, relaying to {target}")
        conversation = Conversation(label=label)
        link = _Link(conversation)
        reason = "closed"
        async with client, upstream:
            try:
                async with trio.open_nursery() as nursery:
                    link.cancel_scope = nursery.cancel_scope
                    nursery.start_soon(self._pump_requests, client, upstream, link)
                    nursery.start_soon(self._pump_responses, upstream, client, link, local_host)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                reason = f"closed: {exc or type(exc).__name__}"
        self._event({"connection": label, "event": "closed", "reason": reason},
                    f"[{label}] {reason}")

    async def _pump_requests(self, client: trio.SocketStream, upstream: trio.SocketStream,
                             link: _Link) -> None:
        conversation = link.conversation
        while data := await client.receive_some(_RECEIVE_SIZE):
            if self.tap is not None:
                self.tap(conversation.label or "", "request", bytes(data))
            # Print before forwarding, so that a request is always shown before its response.
            self._print(conversation.requests(data))
            await upstream.send_all(data)
        self._print(conversation.finish())
        link.client_done = True
        try:
            await upstream.send_eof()
        except trio.ClosedResourceError:
            pass
        # The client may only have closed its sending side (nc -N): relay the
        # responses still owed, then hang up, whatever the broker does.
        if not conversation.pairing.unanswered:
            link.close()
        await trio.sleep(DRAIN_TIMEOUT_S)
        link.close()

    async def _pump_responses(self, upstream: trio.SocketStream, client: trio.SocketStream,
                              link: _Link, local_host: str) -> None:
        conversation = link.conversation
        splitter = FrameSplitter()
        while data := await upstream.receive_some(_RECEIVE_SIZE):
            if self.tap is not None:
                self.tap(conversation.label or "", "response", bytes(data))
            if splitter.broken:
                await client.send_all(data)
                continue
            for raw in splitter.feed(data):
                await client.send_all(await self._response(raw, conversation, local_host))
            if link.client_done and not conversation.pairing.unanswered:
                link.close()
        for raw in splitter.finish():
            self._print([conversation.response_frame(raw)])
            await client.send_all(raw.payload if raw.fatal else _wire(raw))
        link.close()  # the broker hung up: so does the proxy

    async def _response(self, raw: RawFrame, conversation: Conversation,
                        local_host: str) -> bytes:
        """The bytes to pass on for one response frame, printing it."""
        frame = conversation.response_frame(raw)
        if raw.fatal:
            self._print([frame])
            return raw.payload
        original = _wire(raw)
        if frame.ok and frame.api is not None and frame.api.name in _ADDRESS_APIS:
            rewritten = await self._rewrite(frame, local_host)
            if rewritten is not None:
                return rewritten
        self._print([frame])
        return original

    async def _rewrite(self, frame: DecodedFrame, local_host: str) -> bytes | None:
        tree = frame.to_json()
        changes: list[str] = []
        for broker in _broker_entries(tree.get("body")):
            target = Address(broker["host"], broker["port"])
            route = await self._route(target)
            host = self._advertised_host or local_host
            broker["host"], broker["port"] = host, route.port
            changes.append(f"{target} -> {Address(host, route.port)}")
        if not changes:
            return None
        try:
            data = frame_from_object(tree)
        except BuildError as exc:
            frame.note = f"proxy could not rewrite broker addresses ({exc}); passed on as is"
            self._print([frame])
            return None
        frame.note = "proxy rewrote broker addresses: " + ", ".join(changes)
        self._print([frame])
        return data

    def _print(self, frames: list[DecodedFrame]) -> None:
        for frame in frames:
            if self.as_json:
                self.out.write(json.dumps(frame.to_json(), ensure_ascii=False) + "\n")
            else:
                self.out.write(frame.render() + "\n\n")
        if frames:
            self.out.flush()

    def _event(self, tree: dict[str, Any], text: str) -> None:
        self.out.write((json.dumps(tree) if self.as_json else text) + "\n")
        self.out.flush()


def _wire(raw: RawFrame) -> bytes:
    """A frame's bytes as they came: size prefix and (possibly truncated) payload."""
    return raw.size.to_bytes(4, "big", signed=True) + raw.payload


def _broker_entries(tree: Any) -> list[dict[str, Any]]:
    """Every object in a response body with a usable "host" and "port"."""
    found: list[dict[str, Any]] = []
    if isinstance(tree, dict):
        host, port = tree.get("host"), tree.get("port")
        if isinstance(host, str) and host and isinstance(port, int) and port >= 0:
            found.append(tree)
        for value in tree.values():
            found.extend(_broker_entries(value))
    elif isinstance(tree, list):
        for value in tree:
            found.extend(_broker_entries(value))
    return found


def _address_of(name: Any) -> Address | None:
    try:
        return Address(str(name[0]), int(name[1]))
    except (TypeError, ValueError, IndexError):
        return None


def _peer(stream: trio.SocketStream) -> str:
    try:
        address = _address_of(stream.socket.getpeername())
    except OSError:
        return "?"
    return str(address) if address is not None else "?"


async def _resolve(host: str) -> str:
    # One concrete address, so that every listener the proxy opens (port 0
    # for the extra brokers) has a single port a client can be told.
    if host in _WILDCARDS:
        return host
    infos = await trio.socket.getaddrinfo(host, None, type=trio.socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"cannot resolve {host}")
    return str(infos[0][4][0])


async def serve_proxy(listen: Address, upstream: Address, out: TextIO, as_json: bool = False,
                      *, task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED
                      ) -> None:
    """Run a proxy on ``listen`` relaying to ``upstream`` until cancelled."""
    await Proxy(upstream, out, as_json).serve(listen, task_status=task_status)
