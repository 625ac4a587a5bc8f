"""CertificateHashData of a certificate: how OCPP names an installed certificate (OCPP 2.0.1 Part 2
section 2 CertificateHashDataType, the 1.6 security whitepaper's CertificateHashDataType), which are
the fields of RFC 6960 (OCSP) CertID.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


def _digest(algorithm: str, data: bytes) -> str:
    h = hashes.Hash(_HASHES[algorithm]())
    h.update(data)
    return h.finalize().hex()


def _key_bits(certificate: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's value (RFC 6960 4.1.1 issuerKeyHash), not the whole
    SubjectPublicKeyInfo."""
    public = certificate.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        return public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    if isinstance(public, rsa.RSAPublicKey):
        return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(public, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raise ValueError(f"{type(public).__name__} keys are not used in OCPP certificates")


def hash_data(
    certificate: x509.Certificate,
    issuer: x509.Certificate | None = None,
    *,
    algorithm: str = "SHA256",
) -> dict[str, Any]:
    """The CertificateHashData of ``certificate`` as the charger reports it. ``issuer`` is the
    certificate that signed it; None for a self-signed one (a root, what InstallCertificate
    installs). serialNumber: lower-case hexadecimal without leading zeroes (2.0.1 Part 2 2.6)."""
    issuer = issuer or certificate
    return {
        "hashAlgorithm": algorithm,
        "issuerNameHash": _digest(algorithm, certificate.issuer.public_bytes()),
        "issuerKeyHash": _digest(algorithm, _key_bits(issuer)),
        "serialNumber": format(certificate.serial_number, "x"),
    }


def is_self_signed(certificate: x509.Certificate) -> bool:
    return certificate.issuer == certificate.subject


def load_chain(pem: str) -> list[x509.Certificate]:
    """The certificates of a PEM chain, leaf first; raises ``ValueError`` if there is none."""
    return x509.load_pem_x509_certificates(pem.encode())
