"""Every charger-initiated OCPP 2.0.1 and 2.1 action that voltmesh answers (``csms.handlers.v2.HANDLERS`` and
``HANDLERS_V21``), sent as raw frames: each is answered with a valid CALLRESULT and leaves its trace in
the store. Also the 2.1 SEND frame, and what a station that is not accepted gets.

BootNotification, Heartbeat, StatusNotification, Authorize, TransactionEvent and NotifyReport have
tests of their own (test_v2_session, test_v2_protocol, test_v2_device_model).

One node serves the module's parametrized tests (in the module's event loop), each test under a
station id of its own; the tests that need a node configured otherwise start their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from csms.handlers.v2 import HANDLERS, HANDLERS_V21
from csms.station.services import UnknownStationPolicy
from persistence.events import station_events_of
from persistence.models import meter_values
from persistence.reads import EngineReads
from tests import server_fixtures
from tests.raw_charger import RawCharger
from tests.server_fixtures import Running, StartServer
from transport.schemas import schemas_for
from transport.versions import OcppVersion

Payload = dict[str, Any]

EARLIER = "2025-01-01T00:00:00.000Z"
ID_TOKEN = {"idToken": "TAG-1", "type": "ISO14443"}
HASH_DATA = {
    "hashAlgorithm": "SHA256",
    "issuerNameHash": "0a1b2c",
    "issuerKeyHash": "3d4e5f",
    "serialNumber": "01",
}
CSR = "-----BEGIN CERTIFICATE REQUEST-----\nMIIBszCCAVmgAwIBAgIUY2hlY2s=\n-----END CERTIFICATE REQUEST-----\n"
BOOT = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}

# Tested elsewhere.
EXCLUDED = frozenset(
    {
        "BootNotification",
        "Heartbeat",
        "StatusNotification",
        "Authorize",
        "TransactionEvent",
        "NotifyReport",
    }
)

# A minimal valid request (wire form) of each 2.0.1 action, valid in 2.1 as well.
REQUESTS_V201: dict[str, Payload] = {
    "ClearedChargingLimit": {"chargingLimitSource": "EMS"},
    "DataTransfer": {"vendorId": "acme", "messageId": "ping", "data": "hello"},
    "FirmwareStatusNotification": {"status": "Installed", "requestId": 1},
    "Get15118EVCertificate": {
        "iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
        "action": "Install",
        "exiRequest": "AAAA",
    },
    "GetCertificateStatus": {
        "ocspRequestData": {**HASH_DATA, "responderURL": "http://ocsp.example.com"}
    },
    "LogStatusNotification": {"status": "Uploaded", "requestId": 1},
    "MeterValues": {
        "evseId": 1,
        "meterValue": [{"timestamp": EARLIER, "sampledValue": [{"value": 1234.5}]}],
    },
    "NotifyChargingLimit": {"chargingLimit": {"chargingLimitSource": "EMS"}, "evseId": 1},
    "NotifyCustomerInformation": {
        "data": "no data held",
        "seqNo": 0,
        "generatedAt": EARLIER,
        "requestId": 1,
    },
    "NotifyDisplayMessages": {"requestId": 1},
    "NotifyEVChargingNeeds": {
        "evseId": 1,
        "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase"},
    },
    "NotifyEVChargingSchedule": {
        "timeBase": EARLIER,
        "evseId": 1,
        "chargingSchedule": {
            "id": 1,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
        },
    },
    "NotifyEvent": {
        "generatedAt": EARLIER,
        "seqNo": 0,
        "eventData": [
            {
                "eventId": 1,
                "timestamp": EARLIER,
                "trigger": "Delta",
                "actualValue": "Faulted",
                "eventNotificationType": "HardWiredNotification",
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "AvailabilityState"},
            }
        ],
    },
    "NotifyMonitoringReport": {"requestId": 1, "seqNo": 0, "generatedAt": EARLIER},
    "PublishFirmwareStatusNotification": {"status": "Idle"},
    "ReportChargingProfiles": {
        "requestId": 1,
        "chargingLimitSource": "CSO",
        "evseId": 1,
        "chargingProfile": [
            {
                "id": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": [
                    {
                        "id": 1,
                        "chargingRateUnit": "A",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
                    }
                ],
            }
        ],
    },
    "ReservationStatusUpdate": {"reservationId": 1, "reservationUpdateStatus": "Expired"},
    "SecurityEventNotification": {"type": "FirmwareUpdated", "timestamp": EARLIER},
    "SignCertificate": {"csr": CSR},
}
# The actions that 2.1 added.
REQUESTS_V21_ONLY: dict[str, Payload] = {
    "BatterySwap": {
        "batteryData": [{"evseId": 1, "serialNumber": "B-1", "soC": 80.0, "soH": 95.0}],
        "eventType": "BatteryIn",
        "idToken": ID_TOKEN,
        "requestId": 1,
    },
    "ClosePeriodicEventStream": {"id": 1},
    "GetCertificateChainStatus": {
        "certificateStatusRequests": [
            {
                "certificateHashData": HASH_DATA,
                "source": "OCSP",
                "urls": ["http://ocsp.example.com"],
            }
        ]
    },
    "NotifyDERAlarm": {"controlType": "EnterService", "timestamp": EARLIER},
    "NotifyDERStartStop": {"controlId": "DER-1", "started": True, "timestamp": EARLIER},
    "NotifyPriorityCharging": {"transactionId": "TX-1", "activated": True},
    "NotifySettlement": {
        "pspRef": "PSP-1",
        "status": "Settled",
        "settlementAmount": 12.5,
        "settlementTime": EARLIER,
    },
    "OpenPeriodicEventStream": {
        "constantStreamData": {"id": 1, "params": {"interval": 60}, "variableMonitoringId": 1}
    },
    "PullDynamicScheduleUpdate": {"chargingProfileId": 1},
    "ReportDERControl": {"requestId": 1},
    "VatNumberValidation": {"vatNumber": "NL123456789B01"},
}
REQUESTS: dict[OcppVersion, dict[str, Payload]] = {
    OcppVersion.V201: REQUESTS_V201,
    OcppVersion.V21: {**REQUESTS_V201, **REQUESTS_V21_ONLY},
}
HANDLED: dict[OcppVersion, frozenset[str]] = {
    OcppVersion.V201: frozenset(HANDLERS),
    OcppVersion.V21: frozenset(HANDLERS_V21),
}
CASES = [(version, action) for version, table in REQUESTS.items() for action in sorted(table)]
CASE_IDS = [f"{version}-{action}" for version, action in CASES]

# OCPP 2.1 SEND (message type 6).
PERIODIC_EVENT_STREAM: Payload = {
    "id": 1,
    "pending": 0,
    "basetime": EARLIER,
    "data": [{"t": 0.0, "v": "230.1"}, {"t": 1.5, "v": "229.8"}],
}

# The async tests on the shared node run in the module's loop.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def node(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    """One node on loopback port 0 for the whole module."""
    async with server_fixtures.node_on_loopback(
        tmp_path_factory.mktemp("v2-notifications")
    ) as running:
        yield running


async def _connect(server: Running, station_id: str, version: OcppVersion) -> RawCharger:
    return await RawCharger.connect(f"{server.ocpp_url}/{station_id}", subprotocols=[version.value])


async def _booted(server: Running, station_id: str, version: OcppVersion) -> RawCharger:
    """A raw charger of ``version`` whose BootNotification was accepted."""
    charger = await _connect(server, station_id, version)
    try:
        reply = await charger.call("BootNotification", BOOT)
        assert reply["status"] == "Accepted", reply
    except BaseException:
        await charger.close()
        raise
    return charger


async def _events(server: Running, station_id: str, kind: str) -> list[tuple[str, Payload]]:
    return await station_events_of(EngineReads(server.node.engine), station_id, kind)


@pytest.mark.parametrize("version", list(REQUESTS), ids=str)
def test_the_table_covers_every_handled_action(version: OcppVersion) -> None:
    """Fails when a handler is added (or dropped) without its row here."""
    assert set(REQUESTS[version]) == HANDLED[version] - EXCLUDED
    assert set(REQUESTS[version]) <= schemas_for(version).charger_initiated


@pytest.mark.parametrize(("version", "action"), CASES, ids=CASE_IDS)
def test_each_request_of_the_table_is_valid(version: OcppVersion, action: str) -> None:
    schemas_for(version).validate_request(action, REQUESTS[version][action])


def test_the_periodic_event_stream_is_a_valid_send() -> None:
    schemas = schemas_for(OcppVersion.V21)
    assert schemas.unconfirmed == {"NotifyPeriodicEventStream"}
    schemas.validate_request("NotifyPeriodicEventStream", PERIODIC_EVENT_STREAM)


@in_module_loop
@pytest.mark.parametrize(("version", "action"), CASES, ids=CASE_IDS)
async def test_notification_is_answered_and_stored(
    node: Running, version: OcppVersion, action: str
) -> None:
    station_id = f"{version.name}-{action}"
    request = REQUESTS[version][action]
    charger = await _booted(node, station_id, version)
    try:
        reply = await charger.exchange([2, "n-1", action, request])
    finally:
        await charger.close()
    assert reply[0] == 3, reply
    assert reply[1] == "n-1"
    response = reply[2]
    schemas_for(version).validate_response(action, response)

    if action == "MeterValues":
        # Outside a transaction: no session to show them; they are in meter_values all the same.
        async with node.node.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        select(meter_values).where(meter_values.c.station_id == station_id)
                    )
                )
                .mappings()
                .all()
            )
        assert [
            (r["transaction_id"], r["evse_id"], r["measurand"], r["unit"], r["value"]) for r in rows
        ] == [(None, 1, "Energy.Active.Import.Register", "Wh", 1234.5)]
    else:
        # Stored before the answer went out.
        assert await _events(node, station_id, action) == [(action, request)]

    if action == "NotifyEvent":
        status, page = await node.get(
            f"/api/v1/stations/{station_id}/variables",
            params={"component": "EVSE", "variable": "AvailabilityState"},
        )
        assert status == 200, page
        assert [(v["evse_id"], v["value"], v["source"]) for v in page["items"]] == [
            (1, "Faulted", "NotifyEvent")
        ]
    elif action == "VatNumberValidation":
        assert response["vatNumber"] == request["vatNumber"]
    elif action == "GetCertificateChainStatus":
        assert [s["certificateHashData"] for s in response["certificateStatus"]] == [HASH_DATA]


@in_module_loop
async def test_a_send_frame_is_stored_and_never_answered(node: Running) -> None:
    station_id = "V21-SEND"
    charger = await _booted(node, station_id, OcppVersion.V21)
    try:
        await charger.send_frame([6, "s-1", "NotifyPeriodicEventStream", PERIODIC_EVENT_STREAM])
        # The connection goes on: the next call is answered, and nothing came for the SEND. (A
        # connection's frames are handled in order and answered on one socket: anything sent for
        # the SEND would have arrived before the answer to this call.)
        reply = await charger.call("Heartbeat", {})
        schemas_for(OcppVersion.V21).validate_response("Heartbeat", reply)
        assert charger.unsolicited.empty(), charger.unsolicited.get_nowait()
        assert charger.received_calls == []
    finally:
        await charger.close()
    assert await _events(node, station_id, "NotifyPeriodicEventStream") == [
        ("NotifyPeriodicEventStream", PERIODIC_EVENT_STREAM)
    ]


@in_module_loop
async def test_a_send_frame_that_breaks_its_schema_is_dropped_unanswered(node: Running) -> None:
    station_id = "V21-BAD-SEND"
    broken = {**PERIODIC_EVENT_STREAM, "pending": -1}
    charger = await _booted(node, station_id, OcppVersion.V21)
    try:
        await charger.send_frame([6, "s-2", "NotifyPeriodicEventStream", broken])
        # Handled in order: an answer to the SEND would come before this call's.
        await charger.call("Heartbeat", {})
        assert charger.unsolicited.empty(), charger.unsolicited.get_nowait()
    finally:
        await charger.close()
    assert await _events(node, station_id, "NotifyPeriodicEventStream") == []


@pytest.mark.parametrize("version", list(REQUESTS), ids=str)
@pytest.mark.parametrize("booted", [True, False], ids=["pending", "not-booted"])
async def test_a_station_not_accepted_gets_security_error(
    start_server: StartServer, version: OcppVersion, booted: bool
) -> None:
    server = await start_server(unknown_stations=UnknownStationPolicy.PENDING)
    station_id = f"{version.name}-PENDING"
    action = "SecurityEventNotification"
    charger = await _connect(server, station_id, version)
    try:
        if booted:
            reply = await charger.call("BootNotification", BOOT)
            assert reply["status"] == "Pending", reply
        frame = await charger.exchange([2, "p-1", action, REQUESTS[version][action]])
        assert frame[:3] == [4, "p-1", "SecurityError"], frame
        # What a station may send before it is accepted is still answered.
        reply = await charger.call("Heartbeat", {})
        schemas_for(version).validate_response("Heartbeat", reply)
    finally:
        await charger.close()
    assert await _events(server, station_id, action) == []


async def test_a_send_before_being_accepted_is_dropped(start_server: StartServer) -> None:
    server = await start_server(unknown_stations=UnknownStationPolicy.PENDING)
    station_id = "V21-PENDING-SEND"
    charger = await _connect(server, station_id, OcppVersion.V21)
    try:
        assert (await charger.call("BootNotification", BOOT))["status"] == "Pending"
        await charger.send_frame([6, "s-3", "NotifyPeriodicEventStream", PERIODIC_EVENT_STREAM])
        # Handled in order: an answer to the SEND would come before this call's.
        await charger.call("Heartbeat", {})
        assert charger.unsolicited.empty()
    finally:
        await charger.close()
    assert await _events(server, station_id, "NotifyPeriodicEventStream") == []


@in_module_loop
async def test_a_call_result_error_is_kept_and_the_connection_lives_on(node: Running) -> None:
    station_id = "V21-CRE"
    charger = await _booted(node, station_id, OcppVersion.V21)
    try:
        frame = await charger.exchange([2, "h-1", "Heartbeat", {}])
        assert frame[0] == 3
        # OCPP-J 2.1 message type 5: the charger could not use our CALLRESULT.
        await charger.send_frame([5, "h-1", "FormatViolation", "currentTime unreadable", {}])
        # One that answers nothing at all is dropped.
        await charger.send_frame([5, "never", "GenericError", "", {}])
        assert "currentTime" in await charger.call("Heartbeat", {})
    finally:
        await charger.close()
    assert await _events(node, station_id, "CallResultError") == [
        (
            "CallResultError",
            {
                "messageId": "h-1",
                "action": "Heartbeat",
                "errorCode": "FormatViolation",
                "errorDescription": "currentTime unreadable",
                "errorDetails": {},
            },
        )
    ]
