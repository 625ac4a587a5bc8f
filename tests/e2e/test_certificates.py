"""The chargers' CA end to end: SignCertificate answered Accepted and followed by CertificateSigned
(2.0.1 A02/A03, the 1.6 security whitepaper), renewal by TriggerMessage even before the station is
accepted, the certificates a station holds kept from its answers, and the A05 upgrade path."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import pytest
import websockets
from cryptography import x509
from cryptography.x509.oid import NameOID

from csms.pki.ca import CertificateAuthority
from csms.pki.hash_data import hash_data
from csms.station.services import UnknownStationPolicy
from persistence.events import station_events_of
from persistence.reads import EngineReads
from tests.raw_charger import RawCharger
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT, eventually
from tests.tls_certs import make_csr, make_pki, start_tls_server
from transport.versions import OcppVersion

BOOT_V2 = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}
BOOT_V16 = {"chargePointVendor": "V", "chargePointModel": "M"}


@pytest.fixture
def ca_files(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "ca" / "ca.pem", tmp_path / "ca" / "ca-key.pem"
    cert.parent.mkdir()
    CertificateAuthority.create().write(cert, key)
    return cert, key


@pytest.fixture
async def ca_server(start_server: StartServer, ca_files: tuple[Path, Path]) -> Running:
    return await start_server(ca_cert=ca_files[0], ca_key=ca_files[1])


class SignedChains:
    """A charger's CertificateSigned handler: keeps the chains, answers ``status``."""

    def __init__(self, status: str = "Accepted") -> None:
        self.status = status
        self.received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def __call__(self, payload: dict[str, Any]) -> dict[str, Any]:
        await self.received.put(payload)
        return {"status": self.status}


async def _connect(server: Running, station: str, version: OcppVersion) -> RawCharger:
    return await RawCharger.connect(f"{server.ocpp_url}/{station}", subprotocols=[version.value])


@pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201, OcppVersion.V21])
async def test_a_csr_is_signed_and_the_chain_sent(
    ca_server: Running, ca_files: tuple[Path, Path], version: OcppVersion
) -> None:
    station = f"CP-SIGN-{version.name}"
    charger = await _connect(ca_server, station, version)
    chains = SignedChains()
    charger.handlers["CertificateSigned"] = chains
    try:
        boot = BOOT_V16 if version is OcppVersion.V16 else BOOT_V2
        assert (await charger.call("BootNotification", boot))["status"] == "Accepted"
        request: dict[str, Any] = {"csr": make_csr(station)}
        if version is OcppVersion.V21:
            request["requestId"] = 7
        assert await charger.call("SignCertificate", request) == {"status": "Accepted"}
        signed = await asyncio.wait_for(chains.received.get(), 100 * UNIT)
    finally:
        await charger.close()
    leaf, root = x509.load_pem_x509_certificates(signed["certificateChain"].encode())
    ca = x509.load_pem_x509_certificate(ca_files[0].read_bytes())
    assert root == ca
    leaf.verify_directly_issued_by(ca)
    assert [a.value for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [station]
    if version is OcppVersion.V16:
        assert set(signed) == {"certificateChain"}
        own = "ChargePointCertificate"
    else:
        assert signed["certificateType"] == "ChargingStationCertificate"
        own = "ChargingStationCertificate"
    if version is OcppVersion.V21:
        assert signed["requestId"] == 7

    async def listed() -> list[dict[str, Any]]:
        status, body = await ca_server.get(f"/api/v1/stations/{station}/certificates")
        assert status == 200
        return list(body["items"])

    items = await eventually(listed, what="the signed certificate listed")
    assert [(i["certificate_type"], i["serial_number"]) for i in items] == [
        (own, format(leaf.serial_number, "x"))
    ]
    assert items[0]["issuer_key_hash"] == hash_data(leaf, ca)["issuerKeyHash"]
    # What the station answered is kept as a station event.
    events = await station_events_of(EngineReads(ca_server.node.engine), station)
    kinds = [kind for kind, _ in events]
    assert "SignCertificate" in kinds and "Command:CertificateSigned" in kinds


async def test_a_csr_for_another_station_is_rejected(ca_server: Running) -> None:
    charger = await _connect(ca_server, "CP-SIGN-OTHER", OcppVersion.V201)
    charger.handlers["CertificateSigned"] = SignedChains()
    try:
        await charger.call("BootNotification", BOOT_V2)
        reply = await charger.call("SignCertificate", {"csr": make_csr("CP-VICTIM")})
        assert reply == {"status": "Rejected"}
        reply = await charger.call("SignCertificate", {"csr": "garbage"})
        assert reply == {"status": "Rejected"}
        # Nothing follows: a Heartbeat gets its answer and no CertificateSigned came.
        await charger.call("Heartbeat", {})
        assert not [a for a, _ in charger.received_calls if a == "CertificateSigned"]
    finally:
        await charger.close()


async def test_without_a_ca_sign_certificate_is_rejected(server: Running) -> None:
    charger = await _connect(server, "CP-NO-CA", OcppVersion.V201)
    try:
        await charger.call("BootNotification", BOOT_V2)
        reply = await charger.call("SignCertificate", {"csr": make_csr("CP-NO-CA")})
        assert reply == {"status": "Rejected"}
    finally:
        await charger.close()


async def test_renewal_is_commandable_before_the_station_is_accepted(
    start_server: StartServer, ca_files: tuple[Path, Path]
) -> None:
    server = await start_server(
        ca_cert=ca_files[0], ca_key=ca_files[1], unknown_stations=UnknownStationPolicy.PENDING
    )
    station = "CP-RENEW"
    charger = await _connect(server, station, OcppVersion.V201)
    chains = SignedChains()
    charger.handlers["CertificateSigned"] = chains
    triggered = asyncio.Event()

    async def trigger(payload: dict[str, Any]) -> dict[str, Any]:
        triggered.set()
        return {"status": "Accepted"}

    charger.handlers["TriggerMessage"] = trigger
    try:
        assert (await charger.call("BootNotification", BOOT_V2))["status"] == "Pending"
        status, body = await server.command(
            station, "TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"}
        )
        assert status == 200 and body["response"]["status"] == "Accepted"
        reply = await charger.call("SignCertificate", {"csr": make_csr(station)})
        assert reply == {"status": "Accepted"}
        await asyncio.wait_for(chains.received.get(), 100 * UNIT)
        # The permission was for one SignCertificate.
        reply = await charger.exchange([2, "again", "SignCertificate", {"csr": make_csr(station)}])
        assert reply[0] == 4 and reply[2] == "SecurityError"
    finally:
        await charger.close()


async def test_installed_certificates_follow_the_station_answers(
    server: Running, ca_files: tuple[Path, Path]
) -> None:
    station = "CP-CERTS"
    charger = await _connect(server, station, OcppVersion.V201)
    root_pem = ca_files[0].read_text()
    root = x509.load_pem_x509_certificate(root_pem.encode())
    root_hash = hash_data(root)
    other_hash = {**root_hash, "serialNumber": "abc123"}

    async def answer(status: str) -> Any:
        async def handle(payload: dict[str, Any]) -> dict[str, Any]:
            return {"status": status}

        return handle

    async def installed(payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "status": "Accepted",
            "certificateHashDataChain": [
                {"certificateType": "CSMSRootCertificate", "certificateHashData": root_hash},
                {
                    "certificateType": "ManufacturerRootCertificate",
                    "certificateHashData": other_hash,
                },
            ],
        }

    charger.handlers["InstallCertificate"] = await answer("Accepted")
    charger.handlers["DeleteCertificate"] = await answer("Accepted")
    charger.handlers["GetInstalledCertificateIds"] = installed
    path = f"/api/v1/stations/{station}/certificates"
    try:
        await charger.call("BootNotification", BOOT_V2)
        status, _ = await server.command(
            station,
            "InstallCertificate",
            {"certificateType": "CSMSRootCertificate", "certificate": root_pem},
        )
        assert status == 200
        status, body = await server.get(path)
        assert [(i["certificate_type"], i["serial_number"]) for i in body["items"]] == [
            ("CSMSRootCertificate", root_hash["serialNumber"])
        ]
        assert body["items"][0]["details"]["subject"] == root.subject.rfc4514_string()
        await server.command(station, "GetInstalledCertificateIds", {})
        status, body = await server.get(path)
        assert sorted(i["certificate_type"] for i in body["items"]) == [
            "CSMSRootCertificate",
            "ManufacturerRootCertificate",
        ]
        await server.command(station, "DeleteCertificate", {"certificateHashData": other_hash})
        status, body = await server.get(path)
        assert [i["certificate_type"] for i in body["items"]] == ["CSMSRootCertificate"]
        # A Rejected install changes nothing.
        charger.handlers["InstallCertificate"] = await answer("Rejected")
        other = CertificateAuthority.create("other root").certificate_pem
        await server.command(
            station,
            "InstallCertificate",
            {"certificateType": "V2GRootCertificate", "certificate": other},
        )
        status, body = await server.get(path)
        assert [i["certificate_type"] for i in body["items"]] == ["CSMSRootCertificate"]
    finally:
        await charger.close()
    status, _ = await server.get("/api/v1/stations/NO-SUCH/certificates")
    assert status == 404


async def test_a05_upgrade_path(start_server: StartServer, tmp_path: Path) -> None:
    """OCPP 2.0.1 A05: a profile-1 station gets the CSMS root certificate installed, its profile
    raised to 2, and reconnects over TLS, verifying the CSMS with the root it was given; plain ws
    is a downgrade from then on."""
    pki = make_pki(tmp_path)
    server, wss_url = await start_tls_server(start_server, pki)
    station, password = "CP-A05", "a05-password-0123456"
    status, _ = await server.put(f"/api/v1/stations/{station}", {"password": password})
    assert status == 201
    ws_url = server.ocpp_url.replace("ws://", f"ws://{station}:{password}@")
    charger = await RawCharger.connect(f"{ws_url}/{station}", subprotocols=["ocpp2.0.1"])
    installed: list[str] = []

    async def install(payload: dict[str, Any]) -> dict[str, Any]:
        installed.append(payload["certificate"])
        return {"status": "Accepted"}

    charger.handlers["InstallCertificate"] = install
    try:
        await charger.call("BootNotification", BOOT_V2)
        status, body = await server.command(
            station,
            "InstallCertificate",
            {"certificateType": "CSMSRootCertificate", "certificate": pki.ca.cert_path.read_text()},
        )
        assert status == 200 and body["response"]["status"] == "Accepted"
        status, body = await server.get(f"/api/v1/stations/{station}/certificates")
        assert [i["certificate_type"] for i in body["items"]] == ["CSMSRootCertificate"]
        status, body = await server.put(f"/api/v1/stations/{station}", {"security_profile": 2})
        assert status == 200 and body["security_profile"] == 2
    finally:
        await charger.close()
    # The station trusts only the root it was sent, and it verifies the CSMS with it.
    root = tmp_path / "installed-root.pem"
    root.write_text(installed[0])
    trusting = ssl.create_default_context(cafile=str(root))
    wss_auth = wss_url.replace("wss://", f"wss://{station}:{password}@")
    upgraded = await RawCharger.connect(
        f"{wss_auth}/{station}", subprotocols=["ocpp2.0.1"], ssl=trusting
    )
    try:
        assert (await upgraded.call("BootNotification", BOOT_V2))["status"] == "Accepted"
    finally:
        await upgraded.close()
    # Profile 2 over plain ws is a downgrade now: refused at the upgrade.
    with pytest.raises(websockets.InvalidStatus) as info:
        await RawCharger.connect(f"{ws_url}/{station}", subprotocols=["ocpp2.0.1"])
    assert info.value.response.status_code == 403
