from __future__ import annotations

import base64

from transport.security import PasswordVerifier, hash_password, parse_basic_auth, verify_password


def basic(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


def test_parse_basic_auth() -> None:
    creds = parse_basic_auth(basic("CP1:pa:ss"))
    assert creds is not None
    assert (creds.username, creds.password) == ("CP1", "pa:ss")
    assert parse_basic_auth(None) is None
    assert parse_basic_auth("Bearer x") is None
    assert parse_basic_auth("Basic !!!") is None
    assert parse_basic_auth(basic("no-colon")) is None


def test_hash_and_verify() -> None:
    encoded = hash_password("correct horse")
    assert "correct horse" not in encoded
    assert verify_password("correct horse", encoded)
    assert not verify_password("wrong", encoded)
    assert not verify_password("x", "garbage")
    assert hash_password("same") != hash_password("same")  # salted


def test_verifier_remembers_only_successes_for_that_hash() -> None:
    verifier = PasswordVerifier(size=2)
    encoded = hash_password("k1-k1-k1-k1")
    assert verifier.remembered("CP", "k1-k1-k1-k1", encoded) is None
    assert verifier.verify("CP", "k1-k1-k1-k1", encoded)
    assert verifier.remembered("CP", "k1-k1-k1-k1", encoded) is True
    assert verifier.remembered("CP", "other", encoded) is False
    assert verifier.remembered("CP", "k1-k1-k1-k1", hash_password("k1-k1-k1-k1")) is None
    verifier.forget("CP")
    assert verifier.remembered("CP", "k1-k1-k1-k1", encoded) is None


def test_an_identity_with_a_colon_keeps_its_password() -> None:
    # OCPP 2.0.1 identities may hold ':' (identifierString); basic auth ends the username at one.
    header = "Basic " + base64.b64encode(b"COL:1:s3cret:with:colons").decode()
    credentials = parse_basic_auth(header)
    assert credentials is not None
    assert credentials.password_of("COL:1") == "s3cret:with:colons"
    assert credentials.password_of("COL") == "1:s3cret:with:colons"
    assert credentials.password_of("COL:2") is None
    assert credentials.password_of("COL:1:s3cret:with") == "colons"
