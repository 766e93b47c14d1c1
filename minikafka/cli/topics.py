"""List, create, describe and delete topics.

  list                          every topic and its partition count
  create NAME [-p N] [-c K=V]   a topic with N partitions (default: the broker's
                                MINIKAFKA_DEFAULT_PARTITIONS) and settings such as
                                retention.ms=60000
  describe NAME                 partitions (first and next message number, count)
                                and settings, with where each comes from
  delete NAME...                topics and all their messages

Examples:
  minikafka topics create orders --partitions 3 --config retention.ms=86400000
  minikafka topics list
  minikafka topics describe orders
  minikafka topics delete orders
"""

from __future__ import annotations

import argparse
from typing import Any

from minikafka.cli._names import topic_name
from minikafka.protocol.errors import for_code

from . import CommandError
from ._admin import EARLIEST, LATEST, Admin, add_broker_arguments, broker_address, table
from ._client_options import reported_errors

__all__ = ["add_arguments", "run"]

_SOURCES = {1: "topic", 4: "broker", 5: "default"}


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name.strip(), value.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every topic and its partition count")
    add_broker_arguments(listing)
    create = actions.add_parser("create", help="create a topic")
    create.add_argument("name", type=topic_name)
    create.add_argument("-p", "--partitions", type=int, default=-1, metavar="N",
                        help="partition count (default: the broker's default)")
    create.add_argument("-c", "--config", type=_setting, action="append", default=[],
                        metavar="NAME=VALUE", help="a topic setting (repeatable)")
    add_broker_arguments(create)
    describe = actions.add_parser("describe", help="partitions and settings of a topic")
    describe.add_argument("name", type=topic_name)
    add_broker_arguments(describe)
    delete = actions.add_parser("delete", help="delete topics and their messages")
    delete.add_argument("names", nargs="+", metavar="NAME", type=topic_name)
    add_broker_arguments(delete)


def run(args: argparse.Namespace) -> int:
    address = broker_address(args)
    with reported_errors(address), Admin(address, timeout=args.timeout) as admin:
        if args.action == "list":
            return _list(admin)
        if args.action == "create":
            return _create(admin, args.name, args.partitions, args.config)
        if args.action == "describe":
            return _describe(admin, args.name)
        return _delete(admin, args.names)


def _list(admin: Admin) -> int:
    topics = sorted((topic.name, len(topic.partitions)) for topic in admin.metadata(None).topics
                    if topic.error_code == 0)
    print(table(["TOPIC", "PARTITIONS"], topics))
    return 0


def _create(admin: Admin, name: str, partitions: int, configs: list[tuple[str, str]]) -> int:
    if partitions == 0 or partitions < -1:
        raise CommandError(f"--partitions must be at least 1, not {partitions}", status=2)
    response = admin.ask("CreateTopics", {
        "topics": [{"name": name, "num_partitions": partitions, "replication_factor": -1,
                    "assignments": [],
                    "configs": [{"name": key, "value": value} for key, value in configs]}],
        "timeout_ms": 30_000, "validate_only": False,
    })
    (result,) = response.topics
    if result.error_code:
        raise CommandError(f"cannot create {name}: {result.error_message or result.error_code}")
    count = len(admin.metadata([name]).topics[0].partitions)
    print(f"created {name} with {count} partition{'' if count == 1 else 's'}")
    return 0


def _describe(admin: Admin, name: str) -> int:
    (topic,) = admin.metadata([name]).topics
    if topic.error_code:
        raise CommandError(f"no topic {name}")
    indexes = sorted(partition.partition_index for partition in topic.partitions)
    keys = [(name, index) for index in indexes]
    first = admin.offsets(keys, EARLIEST)
    after = admin.offsets(keys, LATEST)
    configs: list[Any] = admin.ask("DescribeConfigs", {
        "resources": [{"resource_type": 2, "resource_name": name, "configuration_keys": None}],
        "include_synonyms": False, "include_documentation": False,
    }).results[0].configs
    print(f"topic {name}: {len(indexes)} partition{'' if len(indexes) == 1 else 's'}")
    print()
    print(table(["PARTITION", "FIRST", "NEXT", "MESSAGES"], [
        (index, first[(name, index)], after[(name, index)],
         max(after[(name, index)] - first[(name, index)], 0)) for index in indexes]))
    if configs:
        print()
        print(table(["SETTING", "VALUE", "FROM"], [
            (config.name, config.value, _SOURCES.get(config.config_source, "other"))
            for config in configs]))
    return 0


def _delete(admin: Admin, names: list[str]) -> int:
    response = admin.ask("DeleteTopics", {"topic_names": names, "timeout_ms": 30_000})
    failed = []
    for result in response.responses:
        if result.error_code:
            reason = "no such topic" if result.error_code == 3 else for_code(result.error_code).name
            failed.append(f"{result.name}: {reason}")
        else:
            print(f"deleted {result.name}")
    if failed:
        raise CommandError("cannot delete " + "; ".join(failed))
    return 0
