"""Request and response headers (KIP-482 numbering).

Request header v0: api key, api version, correlation id. v1 adds the client
id (a nullable string, never compact, even in v2). v2 adds tagged fields.
Response header v0: correlation id; v1 adds tagged fields.
"""

from __future__ import annotations

import construct as c

from .primitives import Int16, Int32, NullableString, TaggedFields

__all__ = ["REQUEST_HEADERS", "RESPONSE_HEADERS"]

RequestHeaderV0 = c.Struct(
    "request_api_key" / Int16,
    "request_api_version" / Int16,
    "correlation_id" / Int32,
)
RequestHeaderV1 = c.Struct(
    "request_api_key" / Int16,
    "request_api_version" / Int16,
    "correlation_id" / Int32,
    "client_id" / NullableString,
)
RequestHeaderV2 = c.Struct(
    "request_api_key" / Int16,
    "request_api_version" / Int16,
    "correlation_id" / Int32,
    "client_id" / NullableString,
    "tagged_fields" / TaggedFields,
)
ResponseHeaderV0 = c.Struct("correlation_id" / Int32)
ResponseHeaderV1 = c.Struct("correlation_id" / Int32, "tagged_fields" / TaggedFields)

REQUEST_HEADERS = {0: RequestHeaderV0, 1: RequestHeaderV1, 2: RequestHeaderV2}
RESPONSE_HEADERS = {0: ResponseHeaderV0, 1: ResponseHeaderV1}
