"""A throwaway certificate authority and a server certificate for 127.0.0.1, made by voltmesh's own
CA (``csms.pki.ca``) for a benchmark run over wss (TLS with a server certificate only).

The keys are ECDSA P-256 and the certificates SHA-256 signed: OCPP 2.0.1 Part 2 A00 and the 1.6
security whitepaper name ECDHE-ECDSA with AES-GCM as the suites a charger must support, so the
handshake measured is the one a conforming charger makes.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from csms.pki.ca import CertificateAuthority


@dataclass(frozen=True, slots=True)
class ServerTls:
    """PEM files of one run: the server's certificate and key, and the CA the chargers trust."""

    cert: Path
    key: Path
    ca_cert: Path


def _key_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_server_tls(directory: Path, host: str = "127.0.0.1") -> ServerTls:
    """Write a CA and a server certificate for ``host`` (an IP address SAN, and ``localhost``)
    under ``directory``; the CA's key is not kept."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = CertificateAuthority.create("voltmesh benchmark CA")
    server, key = ca.issue_server_certificate(["localhost"], ip_addresses=[host])
    files = ServerTls(directory / "server.pem", directory / "server.key", directory / "ca.pem")
    files.ca_cert.write_text(ca.certificate_pem)
    files.cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files.key.touch(mode=0o600)
    files.key.write_bytes(_key_bytes(key))
    return files


def client_context(ca_cert: str | Path) -> ssl.SSLContext:
    """A charger's context for wss: verifies the server against ``ca_cert`` (and its name), TLS
    1.2 or 1.3 (A00.FR.309: nothing older), the version and suite the server prefers."""
    context = ssl.create_default_context(cafile=str(ca_cert))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
