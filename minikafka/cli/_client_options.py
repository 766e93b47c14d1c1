"""What ``produce`` and ``consume`` share: the broker address, the wait, error wording."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from minikafka.cli._names import topic_name
from minikafka.client.errors import BrokerUnavailable, ClientError, KafkaError
from minikafka.protocol.batch_header import InvalidBatch
from minikafka.protocol.compression import CodecUnavailable

from . import CommandError

__all__ = ["add_connection_arguments", "broker_address", "reported_errors", "show_client_log"]

DEFAULT_ADDRESS = "localhost:9092"


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-t", "--topic", required=True, type=topic_name, help="the topic")
    parser.add_argument("--host", metavar="HOST:PORT",
                        help=f"the broker (default: $MINIKAFKA_HOST, else {DEFAULT_ADDRESS})")
    parser.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                        help="how long to keep trying an unreachable broker (default 5)")


def broker_address(args: argparse.Namespace) -> str:
    """``--host``, else ``$MINIKAFKA_HOST``, else localhost:9092.

    The broker's MINIKAFKA_HOST may name no host (``:9092``, every
    interface); a client then connects to localhost.
    """
    address: str = args.host or os.environ.get("MINIKAFKA_HOST", "").strip() or DEFAULT_ADDRESS
    if address.startswith(":"):
        address = "localhost" + address
    return address


def show_client_log() -> None:
    """Send the clients' warnings (such as "messages expired") to stderr, one line each."""
    logger = logging.getLogger("minikafka.client")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False


@contextmanager
def reported_errors(address: str) -> Iterator[None]:
    """Turn client errors into one-line ``CommandError``s."""
    try:
        yield
    except BrokerUnavailable as exc:
        cause = f" ({exc.cause})" if exc.cause is not None else ""
        raise CommandError(f"cannot reach the broker at {address}{cause}") from None
    except (KafkaError, ClientError, CodecUnavailable, InvalidBatch) as exc:
        raise CommandError(str(exc)) from None
    except ValueError as exc:  # a malformed address or option value
        raise CommandError(str(exc)) from None
