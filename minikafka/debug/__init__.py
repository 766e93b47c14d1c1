"""Tools for reading and writing Kafka traffic by hand: the dumper, frame builder and proxy.

``dump`` decodes byte streams into frames (``Conversation``), ``tree`` turns
decoded structures into JSON and text and back, ``build`` makes request
frames from options or from the dumper's JSON, ``hexinput`` reads hex
listings (``xxd``, ``tcpdump -X``) and ``proxy`` relays a live connection
while printing it. None of them decodes anything itself: they walk the
declarations in ``minikafka.protocol``.
"""

from .dump import Conversation, DecodedFrame, FrameError, FrameSplitter, Pairing, RawFrame
from .values import TreeError

__all__ = [
    "Conversation",
    "DecodedFrame",
    "FrameError",
    "FrameSplitter",
    "Pairing",
    "RawFrame",
    "TreeError",
]
