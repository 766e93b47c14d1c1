"""MiniKafka: a single-process broker that speaks Kafka's wire protocol, and its clients.

``from minikafka import Producer, Consumer, Message`` gives the blocking
clients; ``minikafka.trio`` has the same two for trio.
"""

from .client import BrokerUnavailable, ClientError, CommitFailed, KafkaError, Message
from .client._blocking import Consumer, Producer

__all__ = ["BrokerUnavailable", "ClientError", "CommitFailed", "Consumer", "KafkaError", "Message",
           "Producer"]
