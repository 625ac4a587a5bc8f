"""Operators' access tokens: JWTs signed with HS256 (PyJWT) under a per-deployment secret.

A token names its user (``sub``) and carries a fingerprint of the user's stored password hash
(``pwd``): changing the password (or deleting and re-creating the user) voids every token issued
before, and the role is read from the store on each request, so a demotion acts at once.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

ALGORITHM = "HS256"
ISSUER = "voltmesh"
SECRET_FILE = "token-secret"
"""Name of the signing secret's file in the data directory."""
SECRET_BYTES = 32
"""RFC 7518 section 3.2: an HS256 key has at least 256 bits."""


class InvalidToken(Exception):
    """A bearer token that is not one of ours, is expired or malformed."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says."""

    subject: str
    fingerprint: str


def password_fingerprint(password_hash: str) -> str:
    """A short digest of a stored (salted) password hash: it changes with every new password."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def load_or_create_secret(path: Path) -> bytes:
    """The signing secret kept in ``path``; made (random, mode 0600) when the file does not exist.

    Nodes that share a store share this file too (a mounted secret), or a token is valid only on
    the node that issued it."""
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        secret = bytes.fromhex(path.read_text().strip())
        if len(secret) < SECRET_BYTES:
            raise ValueError(
                f"{path}: the token secret must hold at least 32 bytes (hex)"
            ) from None
        return secret
    secret = secrets.token_bytes(SECRET_BYTES)
    with os.fdopen(fd, "w") as file:
        file.write(secret.hex() + "\n")
    return secret


def issue_token(secret: bytes, subject: str, fingerprint: str, role: str, ttl: int) -> str:
    """A signed token for ``subject`` that expires ``ttl`` seconds from now."""
    now = time.time()
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "role": role,
        "pwd": fingerprint,
        "iat": int(now),
        # Rounded up: a token is good for at least ``ttl`` seconds (NumericDate is whole seconds).
        "exp": math.ceil(now + ttl),
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: bytes, token: str) -> TokenClaims:
    """The claims of a valid, unexpired token of ours; raises ``InvalidToken`` otherwise.

    The algorithm is pinned: a token that names another (``none``, RS256) is refused."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    subject, fingerprint = claims.get("sub"), claims.get("pwd")
    if not isinstance(subject, str) or not isinstance(fingerprint, str):
        raise InvalidToken("malformed claims")
    return TokenClaims(subject, fingerprint)
