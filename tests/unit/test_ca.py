"""The chargers' CA: a signed chain verifies with ``cryptography``, bad CSRs are refused, the files
it writes, and what is recorded of station passwords."""

from __future__ import annotations

import base64
import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from csms.pki.ca import CaError, CertificateAuthority, CsrRejected, find_ca
from csms.pki.hash_data import hash_data
from csms.pki.passwords import (
    InvalidPassword,
    check_password,
    generate_password,
    password_command,
    redacted,
)
from tests import tls_certs
from transport.versions import OcppVersion

STATION = "CP-1"


def make_csr(
    common_name: str | None = STATION,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
) -> str:
    return tls_certs.make_csr(common_name, key)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create()


def test_a_signed_chain_verifies_to_the_ca(ca: CertificateAuthority) -> None:
    chain = x509.load_pem_x509_certificates(ca.sign_csr(make_csr(), STATION).encode())
    leaf, root = chain
    assert root == ca.certificate
    # The chain is what a TLS server checks at profile 3: leaf signed by the CA, CA by itself.
    leaf.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == STATION
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Example CSO"
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    validity = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert dt.timedelta(days=364) < validity <= dt.timedelta(days=366)
    now = dt.datetime.now(dt.UTC)
    assert leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc


def test_an_rsa_csr_is_signed(ca: CertificateAuthority) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = x509.load_pem_x509_certificates(ca.sign_csr(make_csr(key=key), STATION).encode())[0]
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.key_encipherment


@pytest.mark.parametrize(
    ("csr", "reason"),
    [
        (lambda: make_csr("CP-2"), "CN"),
        (lambda: make_csr(None), "CN"),
        (lambda: "not a csr", "PEM"),
        (
            lambda: make_csr(key=rsa.generate_private_key(public_exponent=65537, key_size=1024)),
            "2048",
        ),
        (lambda: _tampered(make_csr()), "signature"),
    ],
    ids=["other-cn", "no-cn", "garbage", "weak-rsa", "bad-signature"],
)
def test_a_bad_csr_is_refused(ca: CertificateAuthority, csr: object, reason: str) -> None:
    assert callable(csr)
    with pytest.raises(CsrRejected, match=reason):
        ca.sign_csr(csr(), STATION)


def _tampered(pem: str) -> str:
    """The CSR with another subject but the original signature."""
    original = x509.load_pem_x509_csr(pem.encode())
    der = bytearray(original.public_bytes(serialization.Encoding.DER))
    at = der.find(STATION.encode())
    der[at + len(STATION) - 1] ^= 0x01  # "CP-1" -> "CP-0": still a valid structure
    body = base64.encodebytes(bytes(der)).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


def test_the_ca_files_are_written_once_and_load(tmp_path: Path) -> None:
    made = CertificateAuthority.create()
    assert find_ca(None, None, tmp_path) is None
    cert, key = tmp_path / "ca.pem", tmp_path / "ca-key.pem"
    made.write(cert, key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        CertificateAuthority.create().write(cert, key)
    loaded = find_ca(None, None, tmp_path)
    assert loaded is not None and loaded.certificate == made.certificate
    other = tmp_path / "other"
    other.mkdir()
    CertificateAuthority.create().write(other / "ca.pem", other / "ca-key.pem")
    with pytest.raises(CaError, match="does not belong"):
        CertificateAuthority.load(cert, other / "ca-key.pem")


def test_hash_data_of_a_signed_leaf_names_its_issuer(ca: CertificateAuthority) -> None:
    leaf, root = x509.load_pem_x509_certificates(ca.sign_csr(make_csr(), STATION).encode())
    of_leaf, of_root = hash_data(leaf, root), hash_data(root)
    assert of_leaf["issuerNameHash"] == of_root["issuerNameHash"]
    assert of_leaf["issuerKeyHash"] == of_root["issuerKeyHash"]
    assert of_leaf["serialNumber"] == format(leaf.serial_number, "x")
    assert len(of_leaf["issuerKeyHash"]) == 64


@pytest.mark.parametrize("version", list(OcppVersion))
def test_generated_passwords_fit_the_version(version: OcppVersion) -> None:
    password = generate_password(version)
    assert check_password(password, version) == password
    action, payload = password_command(version, password)
    if version is OcppVersion.V16:
        # The 1.6 whitepaper: AuthorizationKey holds the hex of 16-20 bytes.
        assert action == "ChangeConfiguration"
        assert bytes.fromhex(payload["value"]).decode() == password
        assert 32 <= len(payload["value"]) <= 40
    else:
        assert action == "SetVariables"
        assert 24 <= len(password) <= 40
    assert password not in str(redacted(action, payload))
    assert payload["value" if version is OcppVersion.V16 else "setVariableData"]


@pytest.mark.parametrize(
    ("password", "version"),
    [
        ("short-password", OcppVersion.V201),
        ("x" * 41, OcppVersion.V201),
        ("x" * 21, OcppVersion.V16),
        ("with a space in it here", OcppVersion.V201),
        ("nön-ascii-password-here", OcppVersion.V201),
    ],
)
def test_bad_passwords_are_refused(password: str, version: OcppVersion) -> None:
    with pytest.raises(InvalidPassword):
        check_password(password, version)
