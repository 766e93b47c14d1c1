"""The trio clients: ``from minikafka.trio import Producer, Consumer``.

The same methods as ``minikafka.Producer`` and ``minikafka.Consumer``,
awaited, and used with ``async with``.
"""

from .client import Message
from .client._trio import Consumer, Producer

__all__ = ["Consumer", "Message", "Producer"]
