"""Frames built by hand: from the dumper's JSON, or from a few options per API.

``frames_from_json(text)`` accepts exactly what ``minikafka dump --json``
prints (one object per frame, on one line each or pretty-printed), so a
captured frame can be edited and sent again; fields the dumper adds for the
reader (``frame``, ``offset``, ``size``, ``request_frame``, ``note``,
``connection``) are ignored, and a frame the dumper could not decode is
refused, since its body is incomplete.

``request_body(api, version, **options)`` makes the body of the common
requests (ApiVersions, Metadata, Produce, Fetch, ListOffsets) for any
declared version: it starts from ``tree.template`` and fills in the fields
that version has, so the same options work for every version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

import construct as c

from ..protocol.api import Api
from ..protocol.framing import frame
from ..protocol.headers import REQUEST_HEADERS, RESPONSE_HEADERS
from ..protocol.registry import APIS, api_by_name, api_for_key
from .tree import from_json, template
from .values import TreeError, bytes_from_json, describe

__all__ = [
    "BUILDERS",
    "BuildError",
    "default_version",
    "encode_frame",
    "find_api",
    "frames_from_json",
    "read_json_objects",
    "request_body",
]


class BuildError(ValueError):
    """A frame that cannot be built; the message says which field and why."""


def find_api(name: str) -> Api:
    """An API by Kafka's name (any case: "Metadata", "metadata") or by key ("3")."""
    if name.strip().lstrip("-").isdigit():
        api = api_for_key(int(name))
        if api is None:
            raise BuildError(f"no declared API has key {name}")
        return api
    try:
        return api_by_name(name)
    except KeyError:
        pass
    for api in APIS.values():
        if api.name.lower() == name.lower():
            return api
    raise BuildError(f"unknown API {name!r}; declared: "
                     + ", ".join(api.name for api in APIS.values()))


def default_version(api: Api) -> int:
    """The highest version the broker serves (the highest declared if it serves none)."""
    return max(api.served) if len(api.served) else max(api.requests)


def check_version(api: Api, version: int) -> None:
    if version not in api.requests:
        declared = sorted(api.requests)
        raise BuildError(f"{api.name} v{version} is not declared "
                         f"(declared {declared[0]}-{declared[-1]})")


def encode_frame(kind: str, api: Api, version: int, correlation_id: int, body: Any,
                 client_id: str | None = "minikafka",
                 header_tagged_fields: Mapping[int, bytes] | None = None) -> bytes:
    """A whole frame (size prefix, header, body) for a request or a response."""
    check_version(api, version)
    tags = dict(header_tagged_fields or {})
    if kind == "request":
        header = REQUEST_HEADERS[api.request_header_version(version)]
        header_value: dict[str, Any] = {
            "request_api_key": api.key, "request_api_version": version,
            "correlation_id": correlation_id, "client_id": client_id, "tagged_fields": tags}
        structure = api.requests[version]
    elif kind == "response":
        header = RESPONSE_HEADERS[api.response_header_version(version)]
        header_value = {"correlation_id": correlation_id, "tagged_fields": tags}
        structure = api.responses[version]
    else:
        raise BuildError(f'type must be "request" or "response", not {kind!r}')
    if tags and not any(sub.name == "tagged_fields" for sub in header.subcons):
        raise BuildError(f"{api.name} v{version} {kind} headers have no tagged fields")
    try:
        return frame(header.build(header_value) + structure.build(body))
    except (c.ConstructError, ValueError, TypeError, KeyError, OverflowError) as exc:
        raise BuildError(f"cannot encode {api.name} v{version} {kind}: {exc}") from None


# --- from JSON ---------------------------------------------------------------

# Keys the dumper prints for the reader; they do not affect the bytes.
_INFORMATIONAL = {"connection", "frame", "offset", "size", "request_frame", "note"}
_MEANINGFUL = {"type", "api", "api_key", "api_version", "correlation_id", "client_id",
               "header_tagged_fields", "body"}


def read_json_objects(text: str) -> list[Any]:
    """Every JSON value in ``text``: one per line, pretty-printed, or several in a row."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return values
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise BuildError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")\
                from None
        values.append(value)


def frames_from_json(text: str) -> list[bytes]:
    """The frames described by the JSON objects in ``text`` (see the module docstring)."""
    objects = read_json_objects(text)
    if not objects:
        raise BuildError("no JSON object in the input")
    return [frame_from_object(obj, number) for number, obj in enumerate(objects, 1)]


def frame_from_object(obj: Any, number: int = 1) -> bytes:
    """One frame from one object as ``dump --json`` prints it."""
    where = f"JSON object {number}"
    if not isinstance(obj, dict):
        raise BuildError(f"{where}: expected an object, got {describe(obj)}")
    if "error" in obj:
        reason = obj["error"].get("reason") if isinstance(obj["error"], dict) else obj["error"]
        raise BuildError(f"{where}: this frame did not decode ({reason}), so its body is "
                         "incomplete; complete it and remove \"error\" to send it")
    unknown = sorted(set(obj) - _INFORMATIONAL - _MEANINGFUL)
    if unknown:
        raise BuildError(f"{where}: unknown key {unknown[0]!r}")
    kind = obj.get("type", "request")
    api = _api_of(obj, where)
    version = obj.get("api_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise BuildError(f"{where}: api_version must be an integer")
    correlation_id = obj.get("correlation_id", 0)
    if isinstance(correlation_id, bool) or not isinstance(correlation_id, int):
        raise BuildError(f"{where}: correlation_id must be an integer")
    client_id = obj.get("client_id", "minikafka")
    if client_id is not None and not isinstance(client_id, str):
        raise BuildError(f"{where}: client_id must be a string or null")
    check_version(api, version)
    table = api.requests if kind == "request" else api.responses
    if "body" not in obj:
        raise BuildError(f"{where}: no body")
    try:
        body = from_json(table[version], obj["body"])
        tags = _header_tags(obj.get("header_tagged_fields", {}))
    except TreeError as exc:
        raise BuildError(f"{where}: {exc}") from None
    try:
        return encode_frame(kind, api, version, correlation_id, body, client_id, tags)
    except BuildError as exc:
        raise BuildError(f"{where}: {exc}") from None


def _api_of(obj: dict[str, Any], where: str) -> Api:
    name = obj.get("api")
    key = obj.get("api_key")
    if name is None and key is None:
        raise BuildError(f"{where}: needs \"api\" (a name) or \"api_key\"")
    api = find_api(str(name) if name is not None else str(key))
    if key is not None and key != api.key:
        raise BuildError(f"{where}: api {api.name} has key {api.key}, not {key}")
    return api


def _header_tags(tree: Any) -> dict[int, bytes]:
    if not isinstance(tree, dict):
        raise TreeError("header_tagged_fields", "expected an object of tag: bytes")
    out: dict[int, bytes] = {}
    for tag, data in tree.items():
        if not str(tag).isdigit():
            raise TreeError("header_tagged_fields", f"tag {tag!r} is not a number")
        out[int(tag)] = bytes_from_json(data, f"header_tagged_fields.{tag}")
    return out


# --- from options ------------------------------------------------------------


def fill(structure: Any, values: Mapping[str, Any]) -> Any:
    """``template(structure)`` with ``values`` laid over it, recursively.

    Keys the structure does not have are dropped, so one set of values
    serves every version of a request; list items are filled from the
    array's element structure.
    """
    tree = template(structure)
    return _overlay(structure, tree, values)


def _overlay(structure: Any, tree: Any, values: Any) -> Any:
    con = _unwrap(structure)
    if isinstance(con, c.Struct) and isinstance(values, Mapping):
        fields = {sub.name: sub for sub in con.subcons if sub.name}
        for name, value in values.items():
            if name in fields:
                tree[name] = _overlay(fields[name], template(fields[name]), value)
        return tree
    subcon = getattr(con, "subcon", None)
    if isinstance(values, list) and subcon is not None:
        return [_overlay(subcon, template(subcon), item) for item in values]
    return values


def _unwrap(con: Any) -> Any:
    while isinstance(con, (c.Renamed, c.Default)):
        con = con.subcon
    return con


def _software_version() -> str:
    try:
        return metadata.version("minikafka")
    except metadata.PackageNotFoundError:
        return "dev"


def _api_versions(options: Mapping[str, Any], version: int) -> dict[str, Any]:
    return {"client_software_name": "minikafka", "client_software_version": _software_version()}


def _metadata(options: Mapping[str, Any], version: int) -> dict[str, Any]:
    topics = options.get("topics") or []
    return {
        # Version 0 asks for every topic with an empty list; later versions with null.
        "topics": [{"name": name} for name in topics] if topics or version == 0 else None,
        "allow_auto_topic_creation": options.get("auto_create", True),
    }


def _single_topic(options: Mapping[str, Any], api: str) -> str:
    topics = options.get("topics") or []
    if len(topics) != 1:
        raise BuildError(f"{api} needs exactly one --topic")
    name: str = topics[0]
    return name


def _produce(options: Mapping[str, Any], version: int) -> dict[str, Any]:
    topic = _single_topic(options, "Produce")
    values = options.get("values") or []
    if not values:
        raise BuildError("Produce needs at least one --value")
    key = options.get("key")
    timestamp = options.get("timestamp")
    records = [{"key": key, "value": value, "headers": [], "offset": index,
                **({"timestamp": timestamp} if timestamp is not None else {})}
               for index, value in enumerate(values)]
    return {
        "transactional_id": None,
        "acks": options.get("acks", -1),
        "timeout_ms": options.get("timeout_ms", 30000),
        "topic_data": [{"name": topic, "partition_data": [
            {"index": options.get("partition", 0), "records": [{"records": records}]}]}],
    }


def _fetch(options: Mapping[str, Any], version: int) -> dict[str, Any]:
    topic = _single_topic(options, "Fetch")
    max_bytes = options.get("max_bytes", 1024 * 1024)
    return {
        "replica_id": -1,  # a consumer, not a follower broker
        "max_wait_ms": options.get("max_wait_ms", 500),
        "min_bytes": 1,
        "max_bytes": max_bytes,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": -1,  # no fetch session: every partition is listed in full
        "topics": [{"topic": topic, "partitions": [{
            "partition": options.get("partition", 0),
            "current_leader_epoch": -1,
            "fetch_offset": _required(options, "offset", "Fetch needs --offset"),
            "log_start_offset": -1,
            "partition_max_bytes": max_bytes,
        }]}],
        "forgotten_topics_data": [],
        "rack_id": "",
    }


def _required(options: Mapping[str, Any], name: str, message: str) -> Any:
    value = options.get(name)
    if value is None:
        raise BuildError(message)
    return value


def _list_offsets(options: Mapping[str, Any], version: int) -> dict[str, Any]:
    topic = _single_topic(options, "ListOffsets")
    return {
        "replica_id": -1,
        "isolation_level": 0,
        "topics": [{"name": topic, "partitions": [{
            "partition_index": options.get("partition", 0),
            "current_leader_epoch": -1,
            "timestamp": options.get("timestamp", -1),  # -1 latest, -2 earliest
            "max_num_offsets": 1,
        }]}],
    }


# Each takes (options, version) and gives the body's values for ``fill``.
BUILDERS: dict[str, Callable[[Mapping[str, Any], int], dict[str, Any]]] = {
    "ApiVersions": _api_versions,
    "Metadata": _metadata,
    "Produce": _produce,
    "Fetch": _fetch,
    "ListOffsets": _list_offsets,
}


def request_body(api: Api, version: int, options: Mapping[str, Any]) -> Any:
    """The body of a request built from options (see ``BUILDERS`` for the APIs covered).

    ``options`` may hold: topics, values, key, partition, acks, timeout_ms,
    offset, max_wait_ms, max_bytes, timestamp, auto_create.
    """
    check_version(api, version)
    builder = BUILDERS.get(api.name)
    if builder is None:
        raise BuildError(f"frame builds {', '.join(BUILDERS)} from options; for "
                         f"{api.name} write JSON (see --template) and use --json")
    structure = api.requests[version]
    try:
        return from_json(structure, fill(structure, builder(options, version)))
    except TreeError as exc:
        raise BuildError(f"{api.name} v{version}: {exc}") from None
