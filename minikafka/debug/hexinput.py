"""Bytes from hex listings: ``xxd -p``, ``xxd``, ``hexdump -C`` and ``tcpdump -x/-X/-xx/-XX``.

``read_hex(text)`` recognises the format by its lines:

- plain hex (``xxd -p``, ``minikafka frame --hex``): every line only hex
  digits and spaces; the bytes of one stream;
- offset listings (``xxd``, ``hexdump -C``): ``OFFSET: hex...  ascii``;
  the ascii column is dropped; one stream;
- tcpdump listings (``tcpdump -x/-X`` from the IP header, ``-xx/-XX`` from
  the link header): a summary line per packet, then ``0x0000:`` hex lines.
  Each packet's link, IP and TCP headers are stripped; the payloads are put
  back in TCP sequence order per direction (retransmissions dropped), and
  each connection's side that spoke first (or sent the SYN) is the client.

The result is a ``HexInput``: either one stream of bytes, or a list of
``Segment`` (connection, from-client?, bytes) in capture order.
"""

from __future__ import annotations

import ipaddress
import re
import struct

import attrs

__all__ = ["HexError", "HexInput", "Segment", "read_hex"]


class HexError(ValueError):
    """Text that is not a hex listing this module reads; the message names the line."""


@attrs.frozen
class Segment:
    """Payload bytes of one TCP segment, in capture order."""

    connection: str  # "client -> server", e.g. "127.0.0.1:50312 -> 127.0.0.1:9092"
    from_client: bool
    data: bytes


@attrs.frozen
class HexInput:
    """Either ``stream`` (one direction's bytes) or ``segments`` (a packet capture)."""

    stream: bytes | None = None
    segments: list[Segment] | None = None
    warnings: list[str] = attrs.field(factory=list)


_TCPDUMP_LINE = re.compile(r"^\s+0x([0-9a-fA-F]{4,}):\s+(.*)$")
_OFFSET_LINE = re.compile(r"^\s*([0-9a-fA-F]+):?\s(.*)$")
_HEX_ONLY = re.compile(r"^[0-9a-fA-F\s]+$")
_HEX_TOKEN = re.compile(r"^(?:[0-9a-fA-F]{2})+$")


def read_hex(text: str) -> HexInput:
    """The bytes a hex listing holds (see the module docstring); HexError when unreadable."""
    lines = text.splitlines()
    if any(_TCPDUMP_LINE.match(line) for line in lines):
        return _tcpdump(lines)
    return HexInput(stream=_listing(lines))


def _hex_columns(rest: str, line_number: int, bars: bool = False) -> bytes:
    """The hex groups at the start of ``rest``, up to the ascii column."""
    if bars:  # hexdump -C: ascii between bars, hex groups may be split by two spaces
        rest = rest.split("|", 1)[0]
        tokens = rest.split()
    else:  # xxd, tcpdump: the ascii column follows two spaces
        tokens = re.split(r"\s{2,}", rest.strip(), maxsplit=1)[0].split()
    data = bytearray()
    for token in tokens:
        if not _HEX_TOKEN.match(token):
            raise HexError(f"line {line_number}: {token!r} is not hex")
        data += bytes.fromhex(token)
    return bytes(data)


def _listing(lines: list[str]) -> bytes:
    data = bytearray()
    offsets = any(_is_offset_line(line) for line in lines)
    repeat = False  # after a "*" line: the previous row repeats up to the next offset
    previous = b""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            continue
        if offsets and stripped == "*":
            repeat = True
            continue
        if offsets and _HEX_TOKEN.match(stripped) and len(stripped) >= 7:
            # hexdump's closing line: the offset just past the last byte
            _fill(data, int(stripped, 16), previous, repeat, number)
            repeat = False
            continue
        if not offsets and _HEX_ONLY.match(stripped):
            digits = "".join(stripped.split())
            if len(digits) % 2:
                raise HexError(f"line {number}: odd number of hex digits")
            data += bytes.fromhex(digits)
            continue
        match = _OFFSET_LINE.match(line)
        if match is None or not _is_offset_line(line):
            raise HexError(f"line {number}: neither hex nor a hex listing line: "
                           f"{stripped[:40]!r}")
        _fill(data, int(match.group(1), 16), previous, repeat, number)
        repeat = False
        bars = not line.split(maxsplit=1)[0].endswith(":")
        previous = _hex_columns(match.group(2), number, bars)
        data += previous
    return bytes(data)


def _is_offset_line(line: str) -> bool:
    first = line.split(maxsplit=1)[0] if line.strip() else ""
    return bool(_OFFSET_LINE.match(line)) and (first.endswith(":") or "|" in line)


def _fill(data: bytearray, offset: int, row: bytes, repeat: bool, number: int) -> None:
    """Bring ``data`` up to ``offset``, repeating ``row`` where a "*" elided rows."""
    if offset != len(data) and repeat and row:
        while len(data) < offset:
            data += row[: offset - len(data)]
    if offset != len(data):
        raise HexError(f"line {number}: offset {offset:#x} does not follow the "
                       f"{len(data):#x} bytes before it")


# --- tcpdump -----------------------------------------------------------------


def _tcpdump(lines: list[str]) -> HexInput:
    packets: list[bytes] = []
    current: bytearray | None = None
    for number, line in enumerate(lines, 1):
        match = _TCPDUMP_LINE.match(line)
        if match is None:  # a packet's summary line: the previous packet is complete
            if current:
                packets.append(bytes(current))
            current = bytearray()
            continue
        if current is None:
            current = bytearray()
        current += _hex_columns(match.group(2), number)
    if current:
        packets.append(bytes(current))
    return _reassemble(packets)


@attrs.define
class _Flow:
    next_seq: int | None = None


def _reassemble(packets: list[bytes]) -> HexInput:
    warnings: list[str] = []
    segments: list[Segment] = []
    flows: dict[tuple[str, str], _Flow] = {}
    clients: dict[frozenset[str], str] = {}  # connection -> client endpoint
    for index, packet in enumerate(packets, 1):
        parsed = _tcp_payload(packet)
        if parsed is None:
            warnings.append(f"packet {index}: not TCP over IPv4/IPv6, skipped")
            continue
        source, destination, seq, syn, ack, payload = parsed
        connection = frozenset((source, destination))
        if syn and not ack:
            clients[connection] = source
        flow = flows.setdefault((source, destination), _Flow())
        if syn:
            flow.next_seq = (seq + 1) & 0xFFFFFFFF
        if not payload:
            continue
        clients.setdefault(connection, source)  # whoever speaks first is Kafka's client
        if flow.next_seq is not None:
            ahead = (seq - flow.next_seq) & 0xFFFFFFFF
            if ahead >= 0x80000000:  # seq before next_seq: a retransmission
                overlap = (flow.next_seq - seq) & 0xFFFFFFFF
                payload = payload[overlap:]
                seq = flow.next_seq
                if not payload:
                    continue
            elif ahead:
                warnings.append(f"packet {index}: {ahead} bytes from {source} missing from "
                                "the capture; frames after the gap may not decode")
        flow.next_seq = (seq + len(payload)) & 0xFFFFFFFF
        client = clients[connection]
        server = destination if client == source else source
        segments.append(Segment(f"{client} -> {server}", client == source, payload))
    return HexInput(segments=segments, warnings=warnings)


_ETHERTYPES = {0x0800: 4, 0x86DD: 6}


def _ip_start(packet: bytes) -> int | None:
    """Where the IP header starts: after whichever link header tcpdump included."""
    if _plausible_ip(packet, 0):
        return 0
    candidates = []
    if len(packet) >= 14:
        ethertype = int.from_bytes(packet[12:14], "big")
        if ethertype == 0x8100 and len(packet) >= 18:  # 802.1Q VLAN tag
            candidates.append(18)
        candidates.append(14)  # Ethernet (also Linux loopback)
    candidates += [16, 20, 4]  # Linux cooked v1, cooked v2, BSD loopback
    for start in candidates:
        if _plausible_ip(packet, start):
            return start
    return None


def _plausible_ip(packet: bytes, start: int) -> bool:
    if len(packet) < start + 20:
        return False
    version = packet[start] >> 4
    if version == 4:
        header_length = (packet[start] & 0x0F) * 4
        total = int.from_bytes(packet[start + 2 : start + 4], "big")
        return (20 <= header_length <= total and packet[start + 9] == 6
                and start + total <= len(packet))
    if version == 6:
        return len(packet) >= start + 40 and packet[start + 6] == 6
    return False


_TCP = struct.Struct(">HHIIBB")


def _tcp_payload(packet: bytes) -> tuple[str, str, int, bool, bool, bytes] | None:
    start = _ip_start(packet)
    if start is None:
        return None
    if packet[start] >> 4 == 4:
        header_length = (packet[start] & 0x0F) * 4
        total = int.from_bytes(packet[start + 2 : start + 4], "big")
        source_ip = str(ipaddress.IPv4Address(packet[start + 12 : start + 16]))
        destination_ip = str(ipaddress.IPv4Address(packet[start + 16 : start + 20]))
        tcp = start + header_length
        end = min(start + total, len(packet))  # Ethernet pads short frames past total
    else:
        total = int.from_bytes(packet[start + 4 : start + 6], "big")
        source_ip = f"[{ipaddress.IPv6Address(packet[start + 8 : start + 24])}]"
        destination_ip = f"[{ipaddress.IPv6Address(packet[start + 24 : start + 40])}]"
        tcp = start + 40
        end = min(tcp + total, len(packet))
    if len(packet) < tcp + _TCP.size:
        return None
    source_port, destination_port, seq, _ack, offset_byte, flags = _TCP.unpack_from(packet, tcp)
    payload = packet[tcp + (offset_byte >> 4) * 4 : end]
    return (f"{source_ip}:{source_port}", f"{destination_ip}:{destination_port}", seq,
            bool(flags & 0x02), bool(flags & 0x10), payload)
