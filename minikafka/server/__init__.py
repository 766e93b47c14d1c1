"""The MiniKafka broker: Kafka's wire protocol served over TCP with trio.

``Server`` is what the ``minikafka serve`` daemon, the tests and embedders
run; ``Config`` holds its settings (``load_config`` reads them from
``MINIKAFKA_*`` variables and a ``.env`` file). The request handlers are
plain functions in ``minikafka.server.handlers``, testable without a network.
"""

from minikafka.server.broker import Broker, RequestContext
from minikafka.server.config import Address, Config, ConfigError, load_config
from minikafka.server.server import Server

__all__ = ["Address", "Broker", "Config", "ConfigError", "RequestContext", "Server", "load_config"]
