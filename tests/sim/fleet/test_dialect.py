"""What a simulated station sends and answers is valid OCPP: every payload of its dialects against
the official request schemas, every answer to a CSMS call against the response schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from sim.fleet.clock import SimClock
from sim.fleet.dialect import Session, dialect_for
from sim.fleet.plan import StationSpec, fleet
from sim.fleet.scenario import Scenario, parse_scenario
from sim.fleet.station import _HANDLERS_2, _HANDLERS_16, SimStation
from sim.fleet.tally import FleetTally
from tests.v2_requests import REQUESTS
from transport.schemas import schemas_for
from transport.versions import OcppVersion

WHEN = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
VERSIONS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_payload_a_station_sends_is_valid(version: str) -> None:
    dialect = dialect_for(version)
    schemas = schemas_for(OcppVersion(version))
    session = Session(evse=2, id_tag="SIMTAG00001", plugged_at=WHEN, meter_start_wh=12_345.6)
    session.transaction_id = "17" if version == "ocpp1.6" else "a1b2c3d4e5f60708"
    session.remote_start_id = 5
    sent = [
        dialect.boot("voltmesh-sim", "home", "SIM-home-00001", "PowerUp"),
        dialect.authorize("SIMTAG00001"),
        dialect.started(session, WHEN, "Authorized", False),
        dialect.meter(session, 13_000.0, 7_400.0, WHEN, False),
        dialect.meter(session, 13_500.0, 0.0, WHEN, True),
        *(dialect.status(2, state, WHEN) for state in dialect.statuses),
    ]
    session.stop_reason = "EVDeparted"
    sent.append(dialect.ended(session, 14_000.0, WHEN, True))
    for action, payload in sent:
        schemas.validate_request(action, payload)
    if version != "ocpp1.6":
        assert [p["seqNo"] for a, p in sent if a == "TransactionEvent"] == [0, 1, 2, 3]


def _scenario() -> Scenario:
    return parse_scenario(
        {
            "duration": 10,
            "fleet": [
                {"model": "m", "count": 3, "versions": {"ocpp1.6": 1}, "evses": 2},
                {"model": "n", "count": 3, "versions": {"ocpp2.0.1": 1}, "evses": 2},
            ],
        },
        name="dialect",
    )


REQUESTS_16: dict[str, dict[str, Any]] = {
    "RemoteStartTransaction": {"idTag": "T1", "connectorId": 1},
    "RemoteStopTransaction": {"transactionId": 99},
    "Reset": {"type": "Soft"},
    "UnlockConnector": {"connectorId": 1},
    "ChangeAvailability": {"connectorId": 0, "type": "Inoperative"},
    "GetConfiguration": {"key": ["HeartbeatInterval", "Nope"]},
    "ChangeConfiguration": {"key": "HeartbeatInterval", "value": "60"},
    "TriggerMessage": {"requestedMessage": "StatusNotification"},
    "ClearCache": {},
    "DataTransfer": {"vendorId": "acme"},
    "SetChargingProfile": {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
            },
        },
    },
    "ClearChargingProfile": {"id": 1},
    "GetCompositeSchedule": {"connectorId": 1, "duration": 3600, "chargingRateUnit": "A"},
    "ReserveNow": {
        "connectorId": 1,
        "expiryDate": "2030-01-01T00:00:00.000Z",
        "idTag": "T1",
        "reservationId": 1,
    },
    "CancelReservation": {"reservationId": 1},
    "SendLocalList": {"listVersion": 1, "updateType": "Full"},
    "GetLocalListVersion": {},
    "UpdateFirmware": {
        "location": "https://example.com/fw-2.bin",
        "retrieveDate": "2030-01-01T00:00:00.000Z",
    },
    "SignedUpdateFirmware": {
        "requestId": 1,
        "firmware": {
            "location": "https://example.com/fw-2.bin",
            "retrieveDateTime": "2030-01-01T00:00:00.000Z",
            "signingCertificate": "-----BEGIN CERTIFICATE-----",
            "signature": "c2ln",
        },
    },
    "GetDiagnostics": {"location": "https://example.com/logs/"},
    "GetLog": {
        "logType": "DiagnosticsLog",
        "requestId": 1,
        "log": {"remoteLocation": "https://example.com/logs"},
    },
}


async def _station(spec: StationSpec, scenario: Scenario) -> SimStation:
    clock = SimClock(WHEN, 1.0)
    async with aiohttp.ClientSession() as http:
        return SimStation(spec, scenario, clock, FleetTally(), http, [])


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_every_answer_to_the_csms_is_valid(version: str) -> None:
    scenario = _scenario()
    spec = next(s for s in fleet(scenario) if s.version == version)
    station = await _station(spec, scenario)
    handlers = _HANDLERS_16 if version == "ocpp1.6" else _HANDLERS_2
    requests = REQUESTS_16 if version == "ocpp1.6" else REQUESTS[OcppVersion.V201]
    schemas = schemas_for(OcppVersion(version))
    assert set(handlers) <= set(requests)
    for action, handler in handlers.items():
        schemas.validate_request(action, requests[action])
        response, _ = handler(station, requests[action])
        schemas.validate_response(action, response)
