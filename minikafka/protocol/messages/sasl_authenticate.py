"""SaslAuthenticate (api key 36): one SASL token exchange, after SaslHandshake v1.

auth_bytes carry the mechanism's token (for PLAIN: authzid NUL user NUL
password). A failed exchange is answered with SASL_AUTHENTICATION_FAILED and
a message; version 1 adds the session lifetime, after which the client must
re-authenticate (0: no limit).
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Bytes, Int16, Int64, NullableString

SaslAuthenticateRequestV0 = c.Struct(
    "auth_bytes" / Bytes,
)
SaslAuthenticateRequestV1 = SaslAuthenticateRequestV0  # bumped: response gains session_lifetime_ms

SaslAuthenticateResponseV0 = c.Struct(
    "error_code" / Int16,
    "error_message" / NullableString,
    "auth_bytes" / Bytes,
)
SaslAuthenticateResponseV1 = c.Struct(
    "error_code" / Int16,
    "error_message" / NullableString,
    "auth_bytes" / Bytes,
    "session_lifetime_ms" / Int64,
)

SASL_AUTHENTICATE = Api(
    key=36,
    name="SaslAuthenticate",
    requests={
        0: SaslAuthenticateRequestV0,
        1: SaslAuthenticateRequestV1,
    },
    responses={
        0: SaslAuthenticateResponseV0,
        1: SaslAuthenticateResponseV1,
    },
    served=range(0, 2),
)
