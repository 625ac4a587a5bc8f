"""Access tokens (PyJWT) and the login throttle, without a server."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import jwt
import pytest

from http_api.accounts import AccountError, check_name, check_password
from http_api.roles import Role
from http_api.throttle import LoginThrottle
from http_api.tokens import (
    InvalidToken,
    issue_token,
    load_or_create_secret,
    verify_token,
)

SECRET = b"s" * 32


def test_a_token_round_trips_and_expires() -> None:
    token = issue_token(SECRET, "ana", "fp", "viewer", ttl=60)
    claims = verify_token(SECRET, token)
    assert (claims.subject, claims.fingerprint) == ("ana", "fp")
    expired = issue_token(SECRET, "ana", "fp", "viewer", ttl=-1)
    with pytest.raises(InvalidToken):
        verify_token(SECRET, expired)


def test_forged_tokens_are_refused() -> None:
    now = int(time.time())
    claims = {"iss": "voltmesh", "sub": "ana", "pwd": "fp", "iat": now, "exp": now + 60}
    for forged in (
        jwt.encode(claims, b"another secret of 32 bytes......", algorithm="HS256"),
        jwt.encode(claims, SECRET * 2, algorithm="HS512"),
        # alg "none": an unsigned token.
        jwt.encode(claims, None, algorithm="none"),
        jwt.encode({**claims, "iss": "someone"}, SECRET, algorithm="HS256"),
        jwt.encode({k: v for k, v in claims.items() if k != "exp"}, SECRET, algorithm="HS256"),
        "not a token",
    ):
        with pytest.raises(InvalidToken):
            verify_token(SECRET, forged)


def test_the_secret_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "token-secret"
    first = load_or_create_secret(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first


def test_account_rules() -> None:
    for bad in ("", "-x", "a b", "api-token", "x" * 65):
        with pytest.raises(AccountError):
            check_name(bad)
    assert check_name("ana.silva@depot-1") == "ana.silva@depot-1"
    for password in ("short", "x" * 11, "x" * 129, 12):
        with pytest.raises(AccountError):
            check_password(password)
    assert check_password("x" * 12) == "x" * 12
    assert Role.ADMIN.allows(Role.OPERATOR) and not Role.VIEWER.allows(Role.OPERATOR)


def test_throttle_grows_the_delay_then_locks_out() -> None:
    now = [0.0]
    throttle = LoginThrottle(
        free_failures=2, base_delay=1.0, max_delay=8.0, max_failures=6, lockout=100.0,
        clock=lambda: now[0],
    )  # fmt: skip
    keys = throttle.keys("Ana", "10.0.0.1")
    waits = []
    for _ in range(6):
        now[0] += (waits[-1] or 0.0) if waits else 0.0
        assert throttle.retry_after(keys) is None
        throttle.failed(keys)
        waits.append(throttle.retry_after(keys))
    assert waits == [None, None, 1.0, 2.0, 4.0, 100.0]
    # Per user name (case-insensitive) and per peer address, each on its own.
    assert throttle.retry_after(throttle.keys("ana", "10.0.0.2")) == 100.0
    assert throttle.retry_after(throttle.keys("bob", "10.0.0.1")) == 100.0
    assert throttle.retry_after(throttle.keys("bob", "10.0.0.2")) is None
    # A success clears the user's count, never the peer's.
    throttle.succeeded("ana")
    assert throttle.retry_after(throttle.keys("ana", "10.0.0.2")) is None
    assert throttle.retry_after(throttle.keys("bob", "10.0.0.1")) == 100.0


def test_throttle_forgets_old_failures_and_stays_bounded() -> None:
    now = [0.0]
    throttle = LoginThrottle(free_failures=1, forget_after=10.0, max_keys=4, clock=lambda: now[0])
    keys = throttle.keys("ana", "p")
    throttle.failed(keys)
    throttle.failed(keys)
    assert throttle.retry_after(keys) == 1.0
    now[0] = 20.0
    assert throttle.retry_after(keys) is None
    throttle.failed(keys)
    assert throttle.retry_after(keys) is None  # counted from one again
    for i in range(10):
        throttle.failed(throttle.keys(f"u{i}", f"p{i}"))
    assert len(throttle._failures) <= 4
