"""Operator accounts: the rules for names and passwords, and the first ``admin``.

Passwords are kept only as scrypt hashes (``transport.security.hash_password``); hashing and
checking take tens of milliseconds, so callers on the event loop run them in a thread.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from http_api.roles import SERVICE_ACTOR, Role
from persistence import users
from transport.security import hash_password

log = logging.getLogger("voltmesh.accounts")

FIRST_ADMIN = "admin"
ADMIN_PASSWORD_FILE = "admin-password"
PASSWORD_MIN = 12
PASSWORD_MAX = 128
"""NIST SP 800-63B 5.1.1.2: long passphrases are allowed; the upper bound keeps scrypt's input
sane."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class AccountError(ValueError):
    """A name, role or password that an account cannot have; the message says why."""


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name == SERVICE_ACTOR:
        raise AccountError(
            "a user name is 1-64 characters: letters, digits and . _ @ - (not first), "
            f"and not {SERVICE_ACTOR}"
        )
    return name


def check_role(role: object) -> Role:
    try:
        return Role(str(role))
    except ValueError:
        raise AccountError(f"role must be one of {', '.join(r.value for r in Role)}") from None


def check_password(password: object) -> str:
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AccountError(
            f"password must be a string of {PASSWORD_MIN} to {PASSWORD_MAX} characters"
        )
    return password


async def ensure_first_admin(
    engine: AsyncEngine, data_dir: Path, password: str | None
) -> Path | None:
    """On a store without users, create ``admin`` with ``password``, or with a random one written
    to ``<data_dir>/admin-password`` (mode 0600, its path returned). The log says where, never
    what."""
    chosen = password if password is not None else secrets.token_urlsafe(24)
    if password is not None:
        check_password(password)
    created = await users.create_user_if_none(
        engine, FIRST_ADMIN, Role.ADMIN.value, hash_password(chosen)
    )
    if not created:
        return None
    if password is not None:
        log.warning(
            "no operator account existed: created %r (role admin) with VOLTMESH_ADMIN_PASSWORD",
            FIRST_ADMIN,
        )
        return None
    path = data_dir / ADMIN_PASSWORD_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(chosen + "\n")
    log.warning(
        "no operator account existed: created %r (role admin); its password is in %s (mode 0600): "
        "log in with POST /api/v1/auth/token, then change it and delete the file",
        FIRST_ADMIN,
        path,
    )
    return path
