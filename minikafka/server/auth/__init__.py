"""SASL authentication for the broker: users from a credentials file, PLAIN and SCRAM exchanges.

``credentials`` reads the file MINIKAFKA_SASL_USERS_FILE names; ``scram``
holds the mechanisms, sans-I/O; ``sasl`` is the per-connection session the
connection loop consults before a client has authenticated, and the
handlers that answer SASL requests afterwards.
"""

from .credentials import CredentialsError, Users, load_users, parse_users, scram_line
from .sasl import MECHANISMS, Authenticator, SaslSession, SaslStep

__all__ = [
    "MECHANISMS",
    "Authenticator",
    "CredentialsError",
    "SaslSession",
    "SaslStep",
    "Users",
    "load_users",
    "parse_users",
    "scram_line",
]
