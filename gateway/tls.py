"""The TLS side of the wss listener (security profiles 2 and 3): the server context and the reload of a
renewed certificate without dropping connected chargers.

OCPP 2.0.1 Part 2 A00 (and the 1.6 security whitepaper, section 3) require TLS 1.2 or higher and name
the TLS 1.2 cipher suites a CSMS must offer; TLS 1.3 suites are all AEAD and left to OpenSSL.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

log = logging.getLogger(__name__)

# OCPP 2.0.1 Part 2 A00.FR.310-318 and the 1.6 security whitepaper: ECDHE with ECDSA (the required
# pair) or RSA keys and AES-GCM; the two static-RSA GCM suites are the ones both documents name for
# chargers without ECDHE, offered last. No CBC, no SHA-1, no export or NULL suites.
TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
    )
)


def server_context(cert: Path, key: Path, *, client_ca: Path | None = None) -> ssl.SSLContext:
    """The context of the wss listener: TLS 1.2 and 1.3 only, the OCPP cipher suites.

    With ``client_ca``, a client certificate is asked for and, if sent, verified against it; it is
    optional at the TLS layer because profile 1-2 chargers share the port, and security profile 3
    requires it at the upgrade (``csms.station.admission``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # OCPP 2.0.1 A00.FR.309 / 1.6 whitepaper: TLS 1.2 at least (1.0 and 1.1 are refused).
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.load_verify_locations(cafile=client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def peer_common_name(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> str | None:
    """The subject CN of the peer's certificate when the TLS layer verified it, else None.

    ``getpeercert()`` returns the decoded certificate only after a successful verification, so a
    CN read here was issued by the configured client CA."""
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if not cert:
        return None
    common_name: str | None = None
    for rdn in cert.get("subject", ()):
        for attribute in rdn:
            if attribute[0] == "commonName" and isinstance(attribute[1], str):
                common_name = attribute[1]
    return common_name


class CertificateReloader:
    """Loads a renewed certificate into the live context: new handshakes get it, established
    connections keep theirs (OpenSSL copies the certificate into each connection at its start).

    Call ``reload()`` on SIGHUP; run ``watch()`` as a task to pick up a changed file."""

    def __init__(
        self, context: ssl.SSLContext, cert: Path, key: Path, *, poll_interval: float = 5.0
    ) -> None:
        self._context = context
        self._cert = cert
        self._key = key
        self._poll_interval = poll_interval
        self._stamp = self._mtimes()

    def _mtimes(self) -> tuple[float, float]:
        try:
            return (self._cert.stat().st_mtime, self._key.stat().st_mtime)
        except OSError:
            return (0.0, 0.0)

    def reload(self) -> bool:
        """Load the files again; on an error (a half-written renewal, a key that does not match)
        the served certificate stays and the error is logged."""
        self._stamp = self._mtimes()
        try:
            self._context.load_cert_chain(self._cert, self._key)
        except (OSError, ssl.SSLError) as exc:
            log.error(
                "TLS certificate %s not reloaded, keeping the current one: %s", self._cert, exc
            )
            return False
        log.info("TLS certificate %s reloaded for new connections", self._cert)
        return True

    async def watch(self) -> None:
        """Reload whenever the certificate or key file changes; runs until cancelled."""
        while True:
            await asyncio.sleep(self._poll_interval)
            if self._mtimes() != self._stamp:
                self.reload()
