"""What a CSMS sends without end cannot grow a simulated station without bound: a flow started
over keeps one pending step (a fleet holds tens of thousands of stations), and the display
messages and charging profiles a station holds are capped as a charger's are."""

from __future__ import annotations

from typing import Any

import pytest

from sim.fleet.display import MAX_MESSAGES
from sim.fleet.smart_charging import MAX_PROFILES
from tests.sim.fleet.station_harness import station_against_csms

SLOW = {"step_seconds": 36_000}
"""Ten simulated hours between statuses: no step runs while the test looks."""
FUTURE = "2099-01-01T00:00:00Z"


def _firmware(version: str, request_id: int) -> tuple[str, dict[str, Any]]:
    if version == "ocpp1.6":
        return "UpdateFirmware", {"location": "https://fw.example/a.bin", "retrieveDate": FUTURE}
    firmware = {"location": "https://fw.example/a.bin", "retrieveDateTime": FUTURE}
    return "UpdateFirmware", {"requestId": request_id, "firmware": firmware}


def _reserve(version: str) -> dict[str, Any]:
    if version == "ocpp1.6":
        return {"connectorId": 1, "expiryDate": FUTURE, "idTag": "TAG-R", "reservationId": 7}
    return {
        "id": 7,
        "evseId": 1,
        "expiryDateTime": FUTURE,
        "idToken": {"idToken": "TAG-R", "type": "ISO14443"},
    }


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_flow_started_over_keeps_one_pending_step(version: str) -> None:
    async with station_against_csms(version, SLOW) as (csms, station):
        for n in range(5):
            action, payload = _firmware(version, n)
            await csms.result(station.id, action, payload)
            reply = await csms.result(station.id, "ReserveNow", _reserve(version))
            assert reply["status"] == "Accepted"
        # The station's own step list: one firmware step, one reservation expiry.
        assert sorted(str(t.key) for t in station._timers) == ["firmware", "reservation-1"]


async def test_a_new_log_request_cancels_the_one_under_way() -> None:
    """2.0.1 N01: a GetLog while an upload is under way is AcceptedCanceled; one upload stays."""
    async with station_against_csms("ocpp2.0.1", SLOW) as (csms, station):
        answers = []
        for request_id in (1, 2, 3):
            request = {
                "logType": "DiagnosticsLog",
                "requestId": request_id,
                "log": {"remoteLocation": f"{csms.http}/upload/"},
            }
            answers.append((await csms.result(station.id, "GetLog", request))["status"])
        assert answers == ["Accepted", "AcceptedCanceled", "AcceptedCanceled"]
        assert [t.key for t in station._timers] == ["log"]


async def test_display_messages_are_capped() -> None:
    async with station_against_csms("ocpp2.0.1") as (csms, station):

        def message(mid: int) -> dict[str, Any]:
            content = {"format": "UTF8", "content": f"m{mid}"}
            return {"message": {"id": mid, "priority": "NormalCycle", "message": content}}

        for mid in range(MAX_MESSAGES):
            reply = await csms.result(station.id, "SetDisplayMessage", message(mid))
            assert reply["status"] == "Accepted"
        over = await csms.result(station.id, "SetDisplayMessage", message(MAX_MESSAGES))
        assert over["status"] == "Rejected"
        # Replacing a message the display holds is still allowed.
        again = await csms.result(station.id, "SetDisplayMessage", message(0))
        assert again["status"] == "Accepted"
        assert len(station.display_messages) == MAX_MESSAGES


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_charging_profiles_are_capped(version: str) -> None:
    async with station_against_csms(version) as (csms, station):

        def default(pid: int) -> dict[str, Any]:
            schedule = {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
            }
            body: dict[str, Any] = {
                "stackLevel": pid,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative",
            }
            if version == "ocpp1.6":
                body |= {"chargingProfileId": pid, "chargingSchedule": schedule}
                return {"connectorId": 0, "csChargingProfiles": body}
            body |= {"id": pid, "chargingSchedule": [{"id": pid, **schedule}]}
            return {"evseId": 0, "chargingProfile": body}

        for pid in range(MAX_PROFILES):
            reply = await csms.result(station.id, "SetChargingProfile", default(pid))
            assert reply["status"] == "Accepted"
        over = await csms.result(station.id, "SetChargingProfile", default(MAX_PROFILES))
        assert over["status"] == "Rejected"
        # The same id replaces its profile, within the cap.
        again = await csms.result(station.id, "SetChargingProfile", default(0))
        assert again["status"] == "Accepted"
        assert len(station.profiles) == MAX_PROFILES
