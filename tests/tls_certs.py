"""Certificates made by the tests with ``cryptography``: a CA, a server certificate for loopback, and
charger (client) certificates with a chosen CN; PEM files and client ``ssl`` contexts."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from csms.pki.ca import CertificateAuthority
from tests.server_fixtures import Running, StartServer


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    cert_path: Path
    key_path: Path

    @property
    def authority(self) -> CertificateAuthority:
        """This certificate as the CA that issues others (for a CA made by ``make_ca``)."""
        return CertificateAuthority(self.cert, self.key)


def _write(
    directory: Path,
    name: str,
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
) -> Issued:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{name}.pem"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Issued(cert, key, cert_path, key_path)


def make_ca(directory: Path, name: str = "ca", common_name: str = "Test CA") -> Issued:
    """A CA made the way ``voltmesh ca init`` makes one."""
    authority = CertificateAuthority.create(common_name)
    return _write(directory, name, authority.certificate, authority.key)


def make_csr(
    common_name: str | None,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
) -> str:
    """The PEM CSR a station sends with SignCertificate (no CN with ``common_name`` None)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example CSO")]
    if common_name is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(attributes))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def issue(
    ca: Issued, directory: Path, name: str, common_name: str, *, server: bool = False
) -> Issued:
    """A leaf signed by ``ca`` through the CA's own code: a server certificate named
    ``common_name``, 127.0.0.1 and localhost, or a charger's client certificate for the CSR a
    station with identity ``common_name`` would send (SignCertificate)."""
    if server:
        cert, key = ca.authority.issue_server_certificate(
            list(dict.fromkeys([common_name, "localhost"])), ip_addresses=["127.0.0.1"]
        )
        return _write(directory, name, cert, key)
    key = ec.generate_private_key(ec.SECP256R1())
    chain = ca.authority.sign_csr(make_csr(common_name, key), common_name)
    return _write(directory, name, x509.load_pem_x509_certificates(chain.encode())[0], key)


def client_context(ca: Issued, certificate: Issued | None = None) -> ssl.SSLContext:
    """A charger's context: trusts ``ca`` for the server, presents ``certificate`` if given."""
    context = ssl.create_default_context(cafile=str(ca.cert_path))
    if certificate is not None:
        context.load_cert_chain(certificate.cert_path, certificate.key_path)
    return context


@dataclass(frozen=True)
class Pki:
    """The server side (CA, server certificate) and charger certificates of one test."""

    ca: Issued
    server: Issued
    directory: Path

    def charger(self, common_name: str, *, ca: Issued | None = None) -> Issued:
        return issue(ca or self.ca, self.directory, f"charger-{common_name}", common_name)


def make_pki(directory: Path) -> Pki:
    ca = make_ca(directory)
    return Pki(ca, issue(ca, directory, "server", "localhost", server=True), directory)


async def start_tls_server(
    start_server: StartServer, pki: Pki, **overrides: Any
) -> tuple[Running, str]:
    """A node serving wss with ``pki``'s server certificate and client CA; returns it and its
    ``wss://127.0.0.1:PORT/ocpp`` URL."""
    server = await start_server(
        tls_cert=pki.server.cert_path,
        tls_key=pki.server.key_path,
        tls_client_ca=pki.ca.cert_path,
        ocpp_tls_port=0,
        **overrides,
    )
    assert server.node.ports is not None and server.node.ports.ocpp_tls is not None
    return server, f"wss://127.0.0.1:{server.node.ports.ocpp_tls}/ocpp"
