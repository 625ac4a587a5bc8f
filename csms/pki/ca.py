"""A certificate authority for chargers: it signs the CSRs that SignCertificate carries (OCPP 2.0.1
Part 2 A02/A03, the 1.6 security whitepaper's "Update Charge Point certificate") into client
certificates for security profile 3.

Pure: no asyncio, no sockets; the only I/O is reading and writing its two PEM files.

Errors::

    CaError                 the CA itself cannot be used (files missing, unreadable, mismatched)
    CsrRejected             a CSR that is not signed: answer SignCertificate Rejected
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_FILE = "ca.pem"
"""Name of the CA certificate under the data directory (``voltmesh ca init``)."""
KEY_FILE = "ca-key.pem"
"""Name of the CA's private key under the data directory (mode 0600)."""

LEAF_VALIDITY = dt.timedelta(days=365)
"""How long a charger's certificate is valid; renewal (TriggerMessage SignChargingStationCertificate,
A03) is expected well before."""
CA_VALIDITY = dt.timedelta(days=3650)
CLOCK_SKEW = dt.timedelta(minutes=5)
"""A leaf is valid from a little before now: a charger's clock may be behind ours."""

# OCPP 2.0.1 Part 2 A00.FR.3xx (and the 1.6 whitepaper, section "Certificate properties"): keys are
# RSA or DSA of at least 2048 bits, or elliptic curve of at least 224 bits (secp256r1, secp384r1 are
# what the TLS cipher suites of A00 use).
_MIN_RSA_BITS = 2048
_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


class CaError(Exception):
    """The CA cannot be loaded or made; the message names the file."""


class CsrRejected(ValueError):
    """A certificate signing request that this CA does not sign; the message says why (logged,
    never sent to the charger, which only learns Rejected)."""


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A CA certificate and its key. Build with ``load``, ``from_pem`` or ``create``."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    # -- making and loading -------------------------------------------------------------------

    @classmethod
    def create(
        cls, common_name: str = "voltmesh charger CA", *, now: dt.datetime | None = None
    ) -> CertificateAuthority:
        """A fresh self-signed CA (secp256r1, SHA-256), for tests and trials."""
        now = now or dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        public = key.public_key()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + CA_VALIDITY)
            # It issues leaves only: no intermediate below it.
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    @classmethod
    def from_pem(cls, certificate_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        """A CA from PEM data; raises ``CaError`` if they are not a CA certificate and its key."""
        try:
            certificate = x509.load_pem_x509_certificate(certificate_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise CaError(f"not a PEM certificate and unencrypted private key: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise CaError("the CA key must be an EC or RSA key")
        spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
            raise CaError("the CA key does not belong to the CA certificate")
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound:
            raise CaError("the CA certificate has no basicConstraints") from None
        if not constraints.value.ca:
            raise CaError("the CA certificate is not a CA (basicConstraints cA is false)")
        return cls(certificate, key)

    @classmethod
    def load(cls, certificate_path: Path, key_path: Path) -> CertificateAuthority:
        """The CA of two PEM files; ``CaError`` names the file that is wrong."""
        try:
            certificate_pem = certificate_path.read_bytes()
            key_pem = key_path.read_bytes()
        except OSError as exc:
            raise CaError(f"cannot read the CA: {exc}") from None
        try:
            return cls.from_pem(certificate_pem, key_pem)
        except CaError as exc:
            raise CaError(f"{certificate_path}, {key_path}: {exc}") from None

    def write(self, certificate_path: Path, key_path: Path) -> None:
        """Write both files; refuses to overwrite either (``FileExistsError``). The key is created
        with mode 0600 before any byte of it is written."""
        for path in (certificate_path, key_path):
            if path.exists():
                raise FileExistsError(f"{path} exists; not overwritten")
        key_pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
        with certificate_path.open("xb") as f:
            f.write(self.certificate_pem.encode())

    # -- what it gives -------------------------------------------------------------------------

    @property
    def certificate_pem(self) -> str:
        """The CA certificate (what InstallCertificate CSMSRootCertificate would not carry: that one
        is the root of the TLS server certificate; this one is the root chargers' leaves chain to)."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def issue_server_certificate(
        self,
        host_names: Sequence[str],
        *,
        ip_addresses: Sequence[str] = (),
        now: dt.datetime | None = None,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A TLS server certificate and its new key (P-256, OCPP 2.0.1 A00's ECDHE-ECDSA suites)
        for the CSMS's wss listener: CN the first host name, SANs every name and address. For trials
        and benchmarks; an operator's public chargers verify a certificate of the operator's PKI."""
        now = now or dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in host_names]
        names += [x509.IPAddress(ipaddress.ip_address(address)) for address in ip_addresses]
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_names[0])]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(min(now + LEAF_VALIDITY, self.certificate.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return certificate, key

    def sign_csr(self, csr_pem: str, station_id: str, *, now: dt.datetime | None = None) -> str:
        """The chain PEM (leaf, then this CA) of a charger certificate for ``station_id``.

        Raises ``CsrRejected`` for a CSR that is malformed, not signed by its own key, with a weak
        key, or whose subject CN is not the station's identity: OCPP 2.0.1 Part 2 A00 (certificate
        properties: the charging station certificate's CN is its identity, which is what profile 3
        checks at the TLS handshake) and A02/A03 (the CSMS verifies the CSR before it is signed).
        Signing another CN would hand a charger the identity of another station."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError as exc:
            raise CsrRejected(f"not a PEM certificate signing request: {exc}") from None
        try:
            if not csr.is_signature_valid:
                raise CsrRejected("the CSR's signature does not verify")
        except (InvalidSignature, UnsupportedAlgorithm) as exc:
            raise CsrRejected(f"the CSR's signature cannot be verified: {exc}") from None
        public = csr.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            if public.key_size < _MIN_RSA_BITS:
                raise CsrRejected(f"RSA key of {public.key_size} bits; at least 2048 needed")
        elif isinstance(public, ec.EllipticCurvePublicKey):
            if not isinstance(public.curve, _CURVES):
                raise CsrRejected(f"curve {public.curve.name} is not accepted")
        else:
            raise CsrRejected(f"{type(public).__name__} keys are not accepted")
        common_names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if [attribute.value for attribute in common_names] != [station_id]:
            got = ", ".join(str(a.value) for a in common_names) or "none"
            raise CsrRejected(f"the CSR's CN ({got}) is not the station's identity")
        # The subject: the station's identity, and the CSO's organization when the charger gives
        # it (A00: O is the CSO's name).
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, station_id)]
        attributes += [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(a.value))
            for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[:1]
        ]
        now = now or dt.datetime.now(dt.UTC)
        not_after = min(now + LEAF_VALIDITY, self.certificate.not_valid_after_utc)
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self.certificate.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    # RSA key exchange (TLS 1.2 suites of A00) enciphers with it; ECDHE agrees.
                    key_encipherment=isinstance(public, rsa.RSAPublicKey),
                    data_encipherment=False,
                    key_agreement=isinstance(public, ec.EllipticCurvePublicKey),
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            # A charger's certificate is a TLS client certificate (profile 3).
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return leaf.public_bytes(serialization.Encoding.PEM).decode() + self.certificate_pem


def default_paths(data_dir: Path) -> tuple[Path, Path]:
    """Where ``voltmesh ca init`` puts the CA: ``<data_dir>/ca.pem``, ``<data_dir>/ca-key.pem``."""
    return data_dir / CERT_FILE, data_dir / KEY_FILE


def find_ca(
    certificate_path: Path | None, key_path: Path | None, data_dir: Path
) -> CertificateAuthority | None:
    """The CA a node uses: the files given (``VOLTMESH_CA_CERT``/``VOLTMESH_CA_KEY``), else the
    ones ``voltmesh ca init`` wrote under the data directory, else none. Raises ``CaError`` for
    files that exist but cannot be used: a node must not start silently without its CA."""
    if certificate_path is None or key_path is None:
        certificate_path, key_path = default_paths(data_dir)
        if not certificate_path.exists() and not key_path.exists():
            return None
    return CertificateAuthority.load(certificate_path, key_path)
