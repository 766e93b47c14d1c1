"""Text in the layout of ``tcpdump -x/-X/-xx/-XX``, made from TCP segments, for the hex reader's tests.

tcpdump is not installed where the tests run (and capturing needs
privileges), so these listings are written here the way tcpdump prints
them: a summary line per packet, then lines of ``\\t0xOFFS:  `` and eight
4-digit groups, with the ASCII column after two spaces for -X/-XX. The
packets carry real IPv4/IPv6 and TCP headers (and an Ethernet header for
-xx/-XX), since the reader strips those.
"""

from __future__ import annotations

import ipaddress
import struct

import attrs

SYN, FIN, PSH, ACK = 0x02, 0x01, 0x08, 0x10


@attrs.frozen
class Segment:
    source: tuple[str, int]
    destination: tuple[str, int]
    seq: int
    flags: int
    payload: bytes = b""


def tcp_segment(segment: Segment) -> bytes:
    return struct.pack(">HHIIBBHHH", segment.source[1], segment.destination[1], segment.seq,
                       0, 5 << 4, segment.flags, 65535, 0, 0) + segment.payload


def ip_packet(segment: Segment) -> bytes:
    tcp = tcp_segment(segment)
    source = ipaddress.ip_address(segment.source[0])
    destination = ipaddress.ip_address(segment.destination[0])
    if source.version == 4:
        return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                           source.packed, destination.packed) + tcp
    return struct.pack(">IHBB16s16s", 6 << 28, len(tcp), 6, 64, source.packed,
                       destination.packed) + tcp


ETHERNET_IPV4 = bytes(12) + b"\x08\x00"  # loopback on Linux: zero MACs, then the ethertype


def _summary(segment: Segment, index: int) -> str:
    names = "".join(name for bit, name in ((SYN, "S"), (FIN, "F"), (PSH, "P")) if
                    segment.flags & bit) + ("." if segment.flags & ACK else "")
    version = "IP6" if ":" in segment.source[0] else "IP"
    return (f"12:00:{index:02d}.000000 {version} {segment.source[0]}.{segment.source[1]} > "
            f"{segment.destination[0]}.{segment.destination[1]}: Flags [{names}], "
            f"seq {segment.seq}, win 65535, length {len(segment.payload)}")


def listing(segments: list[Segment], *, ascii_column: bool = True, link: bytes = b"") -> str:
    """The listing tcpdump prints for these segments (-X; -x without ASCII; -XX with ``link``)."""
    lines: list[str] = []
    for index, segment in enumerate(segments):
        lines.append(_summary(segment, index))
        packet = link + ip_packet(segment)
        for offset in range(0, len(packet), 16):
            row = packet[offset : offset + 16]
            groups = " ".join(row[i : i + 2].hex() for i in range(0, len(row), 2))
            line = f"\t0x{offset:04x}:  {groups}"
            if ascii_column:
                text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
                line = f"{line:<50}  {text}"
            lines.append(line)
    return "\n".join(lines) + "\n"
