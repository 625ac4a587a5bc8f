"""SignCertificate (OCPP 2.0.1 Part 2 A02/A03; the 1.6 security whitepaper's "Update Charge Point
certificate"): with a CA, the CSR is signed and answered Accepted, then CertificateSigned carries the
chain to the station; without one, or for a CSR the CA refuses, Rejected.

The CertificateSigned CALL goes out after the SignCertificateResponse (``send_after_reply``): the
charge point actor never waits for the charger inside a handler.
"""

from __future__ import annotations

import logging
from typing import Any

from csms.pki.ca import CsrRejected
from csms.station.charge_point import ChargePointActor
from persistence.events import station_event
from transport.messages import Call
from transport.versions import OcppVersion

log = logging.getLogger(__name__)

OWN_CERTIFICATE = "ChargingStationCertificate"
"""2.x certificateType of the station's own (client) certificate, the one this CA signs."""


async def sign_certificate(cp: ChargePointActor, call: Call) -> dict[str, Any]:
    p = call.payload
    # Kept as sent (a CSR holds no secret), so that an operator sees what was asked.
    await cp.services.writer.submit(station_event(cp.station_id, call.action, p))
    ca = cp.services.ca
    if ca is None:
        return {"status": "Rejected"}
    certificate_type = p.get("certificateType", OWN_CERTIFICATE)
    if certificate_type != OWN_CERTIFICATE:
        # V2G certificates chain to the ISO 15118 V2G root, not to this CA (2.0.1 A03.FR.xx).
        log.info("%s: SignCertificate for %s: no V2G CA", cp.station_id, certificate_type)
        return {"status": "Rejected"}
    try:
        chain = ca.sign_csr(p["csr"], cp.station_id)
    except CsrRejected as exc:
        log.warning("%s: CSR not signed: %s", cp.station_id, exc)
        return {"status": "Rejected"}
    signed: dict[str, Any] = {"certificateChain": chain}
    if cp.version is not OcppVersion.V16:
        signed["certificateType"] = OWN_CERTIFICATE
        if cp.version is OcppVersion.V21 and "requestId" in p:
            signed["requestId"] = p["requestId"]
    cp.send_after_reply("CertificateSigned", signed)
    return {"status": "Accepted"}
