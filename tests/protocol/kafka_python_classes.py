"""kafka-python's message classes by (api key, "request"/"response"): our independent reference."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import kafka.protocol
from kafka.protocol.api_message import ApiMessage


def _load() -> dict[tuple[int, str], Any]:
    for info in pkgutil.walk_packages(kafka.protocol.__path__, "kafka.protocol."):
        if ".old" in info.name or info.name.endswith(("generate_stubs", "load_json")):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:
            continue
    found: dict[tuple[int, str], Any] = {}
    stack = list(ApiMessage.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if getattr(cls, "_class_version", None) is not None:
            continue
        try:
            found.setdefault((cls.API_KEY, cls.type), cls)
        except (AttributeError, TypeError):
            continue
    return found


CLASSES = _load()


def kafka_python_class(api_key: int, kind: str) -> Any:
    return CLASSES[(api_key, kind)]
