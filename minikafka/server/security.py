"""What protects a listener: TLS (a server context) and SASL (an authenticator), from the config.

``load_security`` reads MINIKAFKA_TLS_CERT / MINIKAFKA_TLS_KEY and
MINIKAFKA_SASL_USERS_FILE / MINIKAFKA_SASL_MECHANISMS and checks them, so
that a bad certificate or credentials file stops the broker before it
listens, with a ConfigError naming the variable. ``protocol`` is Kafka's
name for the result (a client's ``security.protocol`` must match it).
"""

from __future__ import annotations

import logging
import ssl

import attrs

from .auth.credentials import CredentialsError, load_users
from .auth.sasl import Authenticator
from .config import Config, ConfigError
from .tls import TlsError, server_context

__all__ = ["Security", "load_security"]

logger = logging.getLogger(__name__)


@attrs.frozen
class Security:
    tls: ssl.SSLContext | None = None
    authenticator: Authenticator | None = None

    @property
    def protocol(self) -> str:
        """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, as Kafka clients name it."""
        if self.authenticator is None:
            return "SSL" if self.tls is not None else "PLAINTEXT"
        return "SASL_SSL" if self.tls is not None else "SASL_PLAINTEXT"


def load_security(config: Config) -> Security:
    """The TLS context and SASL authenticator ``config`` asks for (ConfigError if unusable)."""
    tls = None
    if config.tls_cert is not None and config.tls_key is not None:
        try:
            tls = server_context(config.tls_cert, config.tls_key)
        except TlsError as exc:
            raise ConfigError("MINIKAFKA_TLS_CERT", str(config.tls_cert),
                              f"a usable certificate and key ({exc})") from None
    authenticator = None
    if config.sasl_users_file is not None:
        try:
            users = load_users(config.sasl_users_file)
        except CredentialsError as exc:
            raise ConfigError("MINIKAFKA_SASL_USERS_FILE", str(config.sasl_users_file),
                              f"a credentials file ({exc})") from None
        authenticator = Authenticator(users, config.sasl_mechanisms)
    return Security(tls, authenticator)
