"""Every declared Kafka API, looked up by key or by name.

The registry imports each module of ``minikafka.protocol.messages`` and
collects the ``Api`` objects they define, so adding an API is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil

from . import messages
from .api import Api

__all__ = ["APIS", "api_by_name", "api_for_key", "served_apis"]


def _discover() -> dict[int, Api]:
    found: dict[int, Api] = {}
    for module_info in pkgutil.iter_modules(messages.__path__):
        module = importlib.import_module(f"{messages.__name__}.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, Api):
                if value.key in found and found[value.key] is not value:
                    raise RuntimeError(f"two declarations of api key {value.key}")
                found[value.key] = value
    return dict(sorted(found.items()))


APIS: dict[int, Api] = _discover()
_BY_NAME = {api.name: api for api in APIS.values()}


def api_for_key(key: int) -> Api | None:
    """The API with this key, or None when MiniKafka does not declare it."""
    return APIS.get(key)


def api_by_name(name: str) -> Api:
    """The API called ``name`` (Kafka's spelling, e.g. "Produce"); KeyError if unknown."""
    return _BY_NAME[name]


def served_apis() -> list[Api]:
    """The APIs the broker serves, by key: what ApiVersions advertises."""
    return [api for api in APIS.values() if len(api.served) > 0]
