"""Certificates made by the tests with ``cryptography``: a CA, a server certificate for loopback, and
charger (client) certificates with a chosen CN; PEM files and client ``ssl`` contexts."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.server_fixtures import Running, StartServer


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path
    key_path: Path


def _write(
    directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
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


def _builder(subject: str, issuer: x509.Name | None) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def make_ca(directory: Path, name: str = "ca", common_name: str = "Test CA") -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(common_name, None)
        .public_key(key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .sign(key, hashes.SHA256())
    )
    return _write(directory, name, cert, key)


def issue(
    ca: Issued, directory: Path, name: str, common_name: str, *, server: bool = False
) -> Issued:
    """A leaf signed by ``ca``: a server certificate for 127.0.0.1/localhost, or a client one."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(common_name, ca.cert.subject)
        .public_key(key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return _write(directory, name, builder.sign(ca.key, hashes.SHA256()), key)


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
