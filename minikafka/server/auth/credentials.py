"""SASL users, read from the file MINIKAFKA_SASL_USERS_FILE names.

One user credential per line; blank lines and lines starting with ``#`` are
ignored. A line is either a password, usable with every mechanism::

    alice:plain:alice's password, which may contain ':'

or a SCRAM credential, which keeps no password on disk and works only with
its mechanism (Kafka's own storage format: salt, iteration count, and the
stored and server keys of RFC 5802, in base64)::

    bob:SCRAM-SHA-512:4096:<salt>:<stored key>:<server key>

User names are 1 to 255 characters other than ':' and control characters.
``python -m minikafka.server.auth NAME [MECHANISM]`` asks for a
password and prints a SCRAM line for it (SCRAM-SHA-512 by default).

Passwords are compared in constant time; for a password line, the SCRAM keys
are derived once at load, with a random salt.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import hmac
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import attrs

__all__ = [
    "DEFAULT_ITERATIONS",
    "SCRAM_MECHANISMS",
    "CredentialsError",
    "ScramCredential",
    "Users",
    "load_users",
    "parse_users",
    "scram_credential",
    "scram_line",
]

SCRAM_MECHANISMS = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
DEFAULT_ITERATIONS = 4096  # Kafka's default, and RFC 7677's minimum
MIN_ITERATIONS = 4096
MAX_ITERATIONS = 1_000_000
_MAX_NAME = 255


class CredentialsError(ValueError):
    """A credentials file that cannot be used; the message names the line and the problem."""


@attrs.frozen
class ScramCredential:
    """What a SCRAM server keeps for a user (RFC 5802 section 3)."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


def scram_credential(password: str, mechanism: str, *, salt: bytes | None = None,
                     iterations: int = DEFAULT_ITERATIONS) -> ScramCredential:
    """The SCRAM credential for ``password`` under ``mechanism`` (SCRAM-SHA-256 or -512)."""
    digest = SCRAM_MECHANISMS[mechanism]
    salt = os.urandom(24) if salt is None else salt
    salted = hashlib.pbkdf2_hmac(digest, password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", digest)
    server_key = hmac.digest(salted, b"Server Key", digest)
    return ScramCredential(salt, iterations, hashlib.new(digest, client_key).digest(), server_key)


def scram_line(name: str, password: str, mechanism: str = "SCRAM-SHA-512",
               iterations: int = DEFAULT_ITERATIONS) -> str:
    """A credentials file line for ``name`` that stores no password."""
    _check_name(name, 0)
    credential = scram_credential(password, mechanism, iterations=iterations)
    fields = [base64.b64encode(value).decode()
              for value in (credential.salt, credential.stored_key, credential.server_key)]
    return f"{name}:{mechanism}:{iterations}:{fields[0]}:{fields[1]}:{fields[2]}"


@attrs.define
class Users:
    """Every user's password (if given) and SCRAM credentials, by name."""

    passwords: dict[str, str] = attrs.field(factory=dict)
    scram: dict[tuple[str, str], ScramCredential] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return len(set(self.passwords) | {name for name, _ in self.scram})

    def check_password(self, name: str, password: str) -> bool:
        """True when ``name`` has a password line and ``password`` is it (constant time)."""
        expected = self.passwords.get(name)
        # compare against something even for unknown users, so timing says nothing
        matches = hmac.compare_digest((expected or "\0").encode(), password.encode())
        return expected is not None and matches

    def scram_for(self, name: str, mechanism: str) -> ScramCredential | None:
        return self.scram.get((name, mechanism))


def _check_name(name: str, number: int) -> None:
    where = f"line {number}: " if number else ""
    if not 1 <= len(name) <= _MAX_NAME:
        raise CredentialsError(f"{where}a user name is 1 to {_MAX_NAME} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise CredentialsError(f"{where}user name {name!r} contains control characters")


def _b64(text: str, what: str, number: int) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CredentialsError(f"line {number}: the {what} is not base64") from None


def parse_users(lines: Iterable[str]) -> Users:
    """The users in a credentials file's lines (CredentialsError naming the first bad line)."""
    users = Users()
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, rest = line.partition(":")
        kind, _, value = rest.partition(":")
        _check_name(name, number)
        if kind.lower() == "plain":
            if not value:
                raise CredentialsError(f"line {number}: user {name!r} has an empty password")
            if name in users.passwords:
                raise CredentialsError(f"line {number}: user {name!r} has a second password line")
            users.passwords[name] = value
            continue
        mechanism = kind.upper()
        if mechanism not in SCRAM_MECHANISMS:
            raise CredentialsError(
                f"line {number}: expected NAME:plain:PASSWORD or "
                f"NAME:SCRAM-SHA-256|SCRAM-SHA-512:ITERATIONS:SALT:STORED_KEY:SERVER_KEY"
            )
        fields = value.split(":")
        if len(fields) != 4:
            raise CredentialsError(f"line {number}: a {mechanism} line has ITERATIONS:SALT:"
                                   "STORED_KEY:SERVER_KEY after the mechanism")
        iterations_text, salt, stored, server = fields
        if not iterations_text.isdigit() or not MIN_ITERATIONS <= int(iterations_text) <= MAX_ITERATIONS:
            raise CredentialsError(f"line {number}: iterations must be a whole number from "
                                   f"{MIN_ITERATIONS} to {MAX_ITERATIONS}")
        size = hashlib.new(SCRAM_MECHANISMS[mechanism]).digest_size
        credential = ScramCredential(_b64(salt, "salt", number), int(iterations_text),
                                     _b64(stored, "stored key", number),
                                     _b64(server, "server key", number))
        if len(credential.stored_key) != size or len(credential.server_key) != size:
            raise CredentialsError(f"line {number}: {mechanism} keys are {size} bytes")
        if (name, mechanism) in users.scram:
            raise CredentialsError(f"line {number}: user {name!r} has a second {mechanism} line")
        users.scram[(name, mechanism)] = credential
    for name, password in users.passwords.items():
        for mechanism in SCRAM_MECHANISMS:
            users.scram.setdefault((name, mechanism), scram_credential(password, mechanism))
    return users


def load_users(path: Path) -> Users:
    """The users in the file at ``path`` (CredentialsError if unreadable, malformed or empty)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"cannot read {path}: {exc}") from None
    users = parse_users(text.splitlines())
    if not len(users):
        raise CredentialsError(f"{path} defines no users")
    return users


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2 or (len(args) == 2 and args[1].upper() not in SCRAM_MECHANISMS):
        print("usage: python -m minikafka.server.auth NAME "
              "[SCRAM-SHA-256|SCRAM-SHA-512]", file=sys.stderr)
        return 2
    mechanism = args[1].upper() if len(args) == 2 else "SCRAM-SHA-512"
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {args[0]}: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        print("empty password", file=sys.stderr)
        return 2
    print(scram_line(args[0], password, mechanism))
    return 0
