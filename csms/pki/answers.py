"""What a station's answers to the certificate commands tell of the certificates it holds (OCPP 2.0.1
Part 2 M03-M05 and A02/A03; the 1.6 security whitepaper's InstallCertificate, DeleteCertificate,
GetInstalledCertificateIds and CertificateSigned): the writes that keep ``station_certificates``
in step with the station."""

from __future__ import annotations

import logging
from typing import Any

from cryptography import x509

from csms.pki.hash_data import hash_data, is_self_signed, load_chain
from persistence.certificates import (
    certificate_deleted,
    certificate_installed,
    certificates_reported,
)
from persistence.writer import WriteOp

log = logging.getLogger(__name__)

# Every type GetInstalledCertificateIds can report: a request naming none asks for all of them
# (2.0.1 M03; 2.1 adds OEMRootCertificate; 1.6 always names one).
_REPORTED_TYPES = (
    "V2GRootCertificate",
    "MORootCertificate",
    "CSMSRootCertificate",
    "V2GCertificateChain",
    "ManufacturerRootCertificate",
    "OEMRootCertificate",
    "CentralSystemRootCertificate",
)
# The charger's own certificate, as CertificateSigned installs it.
V16_OWN_CERTIFICATE = "ChargePointCertificate"
V2_OWN_CERTIFICATE = "ChargingStationCertificate"


def _details(certificate: x509.Certificate, source: str) -> dict[str, Any]:
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "source": source,
    }


def certificate_ops(
    station_id: str, action: str, request: dict[str, Any], response: dict[str, Any]
) -> list[WriteOp]:
    """The writes an answered certificate command calls for; none for other actions, for answers
    other than Accepted (NotFound too for deletions and lists), or for certificates that cannot
    be read (logged: the station accepted what we cannot parse)."""
    status = response.get("status")
    try:
        if action == "InstallCertificate" and status == "Accepted":
            return _installed(station_id, request)
        if action == "CertificateSigned" and status == "Accepted":
            return _signed(station_id, request)
        if action == "DeleteCertificate" and status in ("Accepted", "NotFound"):
            return [certificate_deleted(station_id, request["certificateHashData"])]
        if action == "GetInstalledCertificateIds" and status in ("Accepted", "NotFound"):
            return [_reported(station_id, request, response)]
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("%s: %s answer not applied to its certificates: %s", station_id, action, exc)
    return []


def _installed(station_id: str, request: dict[str, Any]) -> list[WriteOp]:
    chain = load_chain(request["certificate"])
    root = chain[0]
    if not is_self_signed(root) and len(chain) < 2:
        # Its issuer's key is not known here, so neither is its issuerKeyHash:
        # GetInstalledCertificateIds will tell.
        log.info("%s: installed certificate is not self-signed; not listed", station_id)
        return []
    issuer = chain[1] if len(chain) > 1 else None
    return [
        certificate_installed(
            station_id,
            request["certificateType"],
            hash_data(root, issuer),
            _details(root, "InstallCertificate"),
        )
    ]


def _signed(station_id: str, request: dict[str, Any]) -> list[WriteOp]:
    chain = load_chain(request["certificateChain"])
    leaf = chain[0]
    issuer = chain[1] if len(chain) > 1 else None
    if issuer is None:
        return []
    # 1.6 CertificateSigned carries no type; voltmesh's own 2.x ones always name it.
    certificate_type = request.get("certificateType", V16_OWN_CERTIFICATE)
    return [
        certificate_installed(
            station_id,
            certificate_type,
            hash_data(leaf, issuer),
            _details(leaf, "CertificateSigned"),
        )
    ]


def _reported(station_id: str, request: dict[str, Any], response: dict[str, Any]) -> WriteOp:
    asked = request.get("certificateType")
    if isinstance(asked, str):  # 1.6: one type
        types: tuple[str, ...] = (asked,)
    elif asked:
        types = tuple(asked)
    else:
        types = _REPORTED_TYPES
    reported: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    if isinstance(asked, str):
        for item in response.get("certificateHashData") or []:
            reported.append((asked, item, {"source": "GetInstalledCertificateIds"}))
    else:
        for item in response.get("certificateHashDataChain") or []:
            details: dict[str, Any] = {"source": "GetInstalledCertificateIds"}
            if item.get("childCertificateHashData"):
                details["child_certificate_hash_data"] = item["childCertificateHashData"]
            reported.append((item["certificateType"], item["certificateHashData"], details))
    return certificates_reported(station_id, types, reported)
