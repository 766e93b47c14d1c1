"""SaslHandshake (api key 17): the client names a SASL mechanism; the broker lists its own.

In version 0 the SASL tokens that follow travel as raw size-prefixed frames
(no Kafka header); version 1 carries them in SaslAuthenticate requests.
An unsupported mechanism is answered with UNSUPPORTED_SASL_MECHANISM and
the list of mechanisms the broker accepts.
"""

from __future__ import annotations

import construct as c

from ..api import Api
from ..primitives import Array, Int16, String

SaslHandshakeRequestV0 = c.Struct(
    "mechanism" / String,
)
SaslHandshakeRequestV1 = SaslHandshakeRequestV0  # bumped: tokens follow as SaslAuthenticate requests

SaslHandshakeResponseV0 = c.Struct(
    "error_code" / Int16,
    "mechanisms" / Array(String),
)
SaslHandshakeResponseV1 = SaslHandshakeResponseV0  # bumped: tokens follow as SaslAuthenticate requests

SASL_HANDSHAKE = Api(
    key=17,
    name="SaslHandshake",
    requests={
        0: SaslHandshakeRequestV0,
        1: SaslHandshakeRequestV1,
    },
    responses={
        0: SaslHandshakeResponseV0,
        1: SaslHandshakeResponseV1,
    },
    served=range(0, 2),
)
