"""Security profile 1 and 2 credentials: HTTP basic auth at the websocket handshake.

OCPP 1.6 security whitepaper section 2 / OCPP 2.0.1 A00.FR.2xx: the username is the charge point's
identity and the password its AuthorizationKey. Passwords are stored only as scrypt hashes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass

# scrypt cost: about 30 ms here. Verified passwords are remembered (by a fast digest) so that a
# reconnect storm does not pay it once per charger per connection.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1


# OCPP 1.6 security whitepaper (AuthorizationKey) and 2.0.1 SecurityCtrlr.BasicAuthPassword: 16 to 40
# characters. Shorter ones are refused when set: a station password must resist guessing.
MIN_PASSWORD_LENGTH = 16
MAX_PASSWORD_LENGTH = 40


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    """Username and password of an ``Authorization: Basic`` header."""

    username: str
    password: str

    def password_of(self, identity: str) -> str | None:
        """The password when the username is ``identity``, else None. An OCPP identity may hold
        ``:`` (2.0.1 identifierString), which basic auth also uses to end the username (RFC 7617
        section 2), so the split is made after the identity expected, not at the first colon."""
        decoded = f"{self.username}:{self.password}"
        prefix = identity + ":"
        return decoded[len(prefix) :] if decoded.startswith(prefix) else None


def parse_basic_auth(header: str | None) -> BasicCredentials | None:
    """The credentials of an Authorization header, or None if absent or not well-formed basic auth."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep:
        return None
    return BasicCredentials(username, password)


def hash_password(password: str) -> str:
    """A salted scrypt hash in the form ``scrypt$n$r$p$salt$digest`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return "$".join(
        (
            "scrypt",
            str(_SCRYPT_N),
            str(_SCRYPT_R),
            str(_SCRYPT_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        )
    )


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of a password against ``hash_password`` output; False for a bad hash."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = encoded.split("$")
        if scheme != "scrypt":
            return False
        salt = base64.b64decode(salt_b64)
        expected = base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(digest, expected)


class PasswordVerifier:
    """``verify_password`` with a bounded memory of recent successes, keyed by station."""

    def __init__(self, *, size: int = 100_000) -> None:
        self._size = size
        self._known: OrderedDict[str, tuple[str, bytes]] = OrderedDict()

    def remembered(self, station_id: str, password: str, encoded: str) -> bool | None:
        """The answer without scrypt when this station passed against this very hash before;
        None when the slow ``verify`` is needed."""
        remembered = self._known.get(station_id)
        if remembered is None or remembered[0] != encoded:
            return None
        return hmac.compare_digest(remembered[1], hashlib.sha256(password.encode()).digest())

    def verify(self, station_id: str, password: str, encoded: str) -> bool:
        """The full check (CPU-heavy: run it in a thread); remembers a success."""
        quick = self.remembered(station_id, password, encoded)
        if quick is not None:
            return quick
        fast = hashlib.sha256(password.encode()).digest()
        if not verify_password(password, encoded):
            return False
        self._known[station_id] = (encoded, fast)
        self._known.move_to_end(station_id)
        while len(self._known) > self._size:
            self._known.popitem(last=False)
        return True

    def forget(self, station_id: str) -> None:
        self._known.pop(station_id, None)
