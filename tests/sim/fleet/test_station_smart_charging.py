"""A simulated station keeps the charging profiles it accepts and obeys them: its power (and so the
energy its meter reports) stays within the composite limit; it answers GetCompositeSchedule and
(2.x) GetChargingProfiles, and refuses what a charger refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sim.fleet.station import SimStation
from tests.sim.fleet.fake_csms import FakeCsms
from tests.sim.fleet.station_harness import (
    connector_statuses,
    power_samples,
    station_against_csms,
)
from tests.timing import eventually
from transport.messages import CallError

VERSIONS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
VOLTS_3PH = 230 * 3


def tx_profile(version: str, pid: int, amps: float, tx: str | None, level: int = 0) -> Any:
    schedule = {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": amps}],
    }
    if version == "ocpp1.6":
        body: dict[str, Any] = {
            "chargingProfileId": pid,
            "stackLevel": level,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": schedule,
        }
        if tx is not None:
            body["transactionId"] = int(tx)
        return {"connectorId": 1, "csChargingProfiles": body}
    body = {
        "id": pid,
        "stackLevel": level,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": [{"id": pid, **schedule}],
    }
    if tx is not None:
        body["transactionId"] = tx
    return {"evseId": 1, "chargingProfile": body}


def station_max(version: str, watts: float) -> Any:
    schedule = {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": watts}],
        "startSchedule": "2026-01-01T00:00:00Z",
    }
    if version == "ocpp1.6":
        return {
            "connectorId": 0,
            "csChargingProfiles": {
                "chargingProfileId": 50,
                "stackLevel": 0,
                "chargingProfilePurpose": "ChargePointMaxProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": schedule,
            },
        }
    return {
        "evseId": 0,
        "chargingProfile": {
            "id": 50,
            "stackLevel": 0,
            "chargingProfilePurpose": "ChargingStationMaxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [{"id": 1, **schedule}],
        },
    }


async def charging(csms: FakeCsms, station: SimStation, evse: int = 1) -> str:
    """Plug an EV in and wait until its transaction has an id; returns the id."""
    station.arrive(evse, "TAG-A", energy_wh=50_000)

    def transaction_id() -> str | None:
        session = station.evses[evse - 1].session
        return None if session is None else session.transaction_id

    found = await eventually(transaction_id, what="a transaction")
    assert found is not None
    return found


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_tx_profile_caps_the_power_and_the_energy(version: str) -> None:
    async with station_against_csms(version) as (csms, station):
        tx = await charging(csms, station)
        await eventually(lambda: power_samples(csms), what="a meter value")
        assert power_samples(csms)[-1] == pytest.approx(22_000)
        reply = await csms.result(station.id, "SetChargingProfile", tx_profile(version, 1, 10, tx))
        assert reply["status"] == "Accepted"
        seen = len(power_samples(csms))
        await eventually(lambda: len(power_samples(csms)) >= seen + 2, what="two more samples")
        assert power_samples(csms)[-1] == pytest.approx(10 * VOLTS_3PH)
        # The energy between two samples is what 6.9 kW gives over one meter interval.
        battery = station.evses[0].battery
        assert battery is not None and battery.power_w() == pytest.approx(6900)

        unit = "A"
        request = (
            {"connectorId": 1, "duration": 600, "chargingRateUnit": unit}
            if version == "ocpp1.6"
            else {"evseId": 1, "duration": 600, "chargingRateUnit": unit}
        )
        answer = await csms.result(station.id, "GetCompositeSchedule", request)
        assert answer["status"] == "Accepted"
        schedule = answer["chargingSchedule"] if version == "ocpp1.6" else answer["schedule"]
        assert schedule["chargingSchedulePeriod"][0]["limit"] == 10.0

        cleared = await csms.result(
            station.id,
            "ClearChargingProfile",
            {"id": 1} if version == "ocpp1.6" else {"chargingProfileId": 1},
        )
        assert cleared["status"] == "Accepted"
        seen = len(power_samples(csms))
        await eventually(lambda: len(power_samples(csms)) >= seen + 1, what="one more sample")
        assert power_samples(csms)[-1] == pytest.approx(22_000)
        again = await csms.result(
            station.id,
            "ClearChargingProfile",
            {"id": 1} if version == "ocpp1.6" else {"chargingProfileId": 1},
        )
        assert again["status"] == "Unknown"


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_tx_profile_needs_its_transaction_and_ends_with_it(version: str) -> None:
    async with station_against_csms(version) as (csms, station):
        reply = await csms.result(
            station.id, "SetChargingProfile", tx_profile(version, 1, 10, None)
        )
        assert reply["status"] == "Rejected"
        tx = await charging(csms, station)
        # 1.6: a TxProfile without transactionId is for the running transaction; 2.0.1
        # K01.FR.03: it must name it.
        reply = await csms.result(
            station.id, "SetChargingProfile", tx_profile(version, 1, 10, None)
        )
        assert reply["status"] == ("Accepted" if version == "ocpp1.6" else "Rejected")
        wrong = "999999" if version == "ocpp1.6" else "not-this-one"
        reply = await csms.result(
            station.id, "SetChargingProfile", tx_profile(version, 1, 10, wrong)
        )
        assert reply["status"] == "Rejected"
        reply = await csms.result(station.id, "SetChargingProfile", tx_profile(version, 1, 10, tx))
        assert reply["status"] == "Accepted"
        assert [p.id for p in station.profiles] == [1]
        stop = {"transactionId": int(tx)} if version == "ocpp1.6" else {"transactionId": tx}
        action = "RemoteStopTransaction" if version == "ocpp1.6" else "RequestStopTransaction"
        assert (await csms.result(station.id, action, stop))["status"] == "Accepted"
        await eventually(lambda: station.evses[0].session is None, what="the session ended")
        assert station.profiles == []


@pytest.mark.parametrize("version", VERSIONS)
async def test_the_station_maximum_is_shared_by_its_evses(version: str) -> None:
    async with station_against_csms(version, evses=2) as (csms, station):
        reply = await csms.result(station.id, "SetChargingProfile", station_max(version, 11_000))
        assert reply["status"] == "Accepted"
        await charging(csms, station, 1)
        await charging(csms, station, 2)
        batteries = [e.battery for e in station.evses]
        assert all(b is not None for b in batteries)
        assert sum(b.power_w() for b in batteries if b is not None) == pytest.approx(11_000)
        # A station maximum on an EVSE is refused.
        misplaced = station_max(version, 5_000)
        misplaced["connectorId" if version == "ocpp1.6" else "evseId"] = 1
        reply = await csms.result(station.id, "SetChargingProfile", misplaced)
        assert reply["status"] == "Rejected"


async def test_2x_reports_its_profiles() -> None:
    async with station_against_csms("ocpp2.0.1") as (csms, station):
        none = await csms.result(
            station.id, "GetChargingProfiles", {"requestId": 4, "chargingProfile": {}}
        )
        assert none["status"] == "NoProfiles"
        await csms.result(station.id, "SetChargingProfile", station_max("ocpp2.0.1", 11_000))
        reply = await csms.result(
            station.id,
            "GetChargingProfiles",
            {
                "requestId": 5,
                "chargingProfile": {"chargingProfilePurpose": "ChargingStationMaxProfile"},
            },
        )
        assert reply["status"] == "Accepted"
        report = await csms.wait_for("ReportChargingProfiles")
        assert report["requestId"] == 5 and report["evseId"] == 0
        assert [p["id"] for p in report["chargingProfile"]] == [50]


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_station_without_smart_charging_says_so(version: str) -> None:
    async with station_against_csms(version, {"smart_charging": False}) as (csms, station):
        reply = await csms.call(station.id, "SetChargingProfile", station_max(version, 11_000))
        assert isinstance(reply, CallError)
        assert reply.error_code == ("NotImplemented" if version == "ocpp1.6" else "NotSupported")


@pytest.mark.parametrize("version", VERSIONS)
async def test_an_absolute_profile_starting_now_on_the_csms_clock_applies_now(version: str) -> None:
    """The station set its clock from BootNotification: "now" for the CSMS is now for it, even
    though its own (accelerated, simulated) calendar is elsewhere."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    async with station_against_csms(version) as (csms, station):
        await charging(csms, station)
        request = station_max(version, 4_000)
        body = request["csChargingProfiles" if version == "ocpp1.6" else "chargingProfile"]
        schedule = body["chargingSchedule"]
        (schedule if isinstance(schedule, dict) else schedule[0])["startSchedule"] = now
        assert (await csms.result(station.id, "SetChargingProfile", request))[
            "status"
        ] == "Accepted"
        battery = station.evses[0].battery
        assert battery is not None and battery.power_w() == pytest.approx(4_000)
        # A start an hour ahead on the CSMS's clock is not in force yet.
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
        (schedule if isinstance(schedule, dict) else schedule[0])["startSchedule"] = later
        assert (await csms.result(station.id, "SetChargingProfile", request))[
            "status"
        ] == "Accepted"
        assert battery.power_w() == pytest.approx(22_000)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_zero_limit_suspends_the_session_until_it_is_raised(version: str) -> None:
    async with station_against_csms(version) as (csms, station):
        tx = await charging(csms, station)
        held = await csms.result(station.id, "SetChargingProfile", tx_profile(version, 1, 0, tx))
        assert held["status"] == "Accepted"
        if version == "ocpp1.6":
            await eventually(
                lambda: connector_statuses(csms)[-1] == "SuspendedEVSE", what="SuspendedEVSE"
            )
        else:
            await eventually(
                lambda: any(
                    p["transactionInfo"].get("chargingState") == "SuspendedEVSE"
                    for p in csms.of("TransactionEvent")
                ),
                what="chargingState SuspendedEVSE",
            )
        seen = len(power_samples(csms))
        await eventually(lambda: len(power_samples(csms)) > seen, what="a sample")
        assert power_samples(csms)[-1] == 0
        raised = await csms.result(station.id, "SetChargingProfile", tx_profile(version, 1, 16, tx))
        assert raised["status"] == "Accepted"
        if version == "ocpp1.6":
            await eventually(lambda: connector_statuses(csms)[-1] == "Charging", what="Charging")
        seen = len(power_samples(csms))
        await eventually(lambda: len(power_samples(csms)) > seen, what="a sample")
        assert power_samples(csms)[-1] == pytest.approx(16 * VOLTS_3PH)


def default_profile(
    version: str,
    pid: int,
    amps: float,
    *,
    valid_from: str | None = None,
    valid_to: str | None = None,
) -> Any:
    schedule = {
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": amps}],
    }
    body: dict[str, Any] = {
        "stackLevel": 3,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Relative",
    }
    if valid_from is not None:
        body["validFrom"] = valid_from
    if valid_to is not None:
        body["validTo"] = valid_to
    if version == "ocpp1.6":
        return {
            "connectorId": 1,
            "csChargingProfiles": {**body, "chargingProfileId": pid, "chargingSchedule": schedule},
        }
    return {
        "evseId": 1,
        "chargingProfile": {**body, "id": pid, "chargingSchedule": [{"id": 1, **schedule}]},
    }


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_rival_at_the_same_stack_level_replaces_or_is_refused(version: str) -> None:
    """1.6 section 3.13.2: the same stack level and purpose on the connector replaces the old
    profile; 2.0.1 K01.FR.06: refused when the validity periods overlap, kept beside otherwise."""
    async with station_against_csms(version) as (csms, station):
        first = default_profile(version, 1, 16, valid_to="2030-01-01T00:00:00Z")
        assert (await csms.result(station.id, "SetChargingProfile", first))["status"] == "Accepted"
        later = default_profile(version, 2, 10, valid_from="2030-01-01T00:00:00Z")
        assert (await csms.result(station.id, "SetChargingProfile", later))["status"] == "Accepted"
        overlapping = default_profile(version, 3, 8)
        reply = await csms.result(station.id, "SetChargingProfile", overlapping)
        if version == "ocpp1.6":
            assert reply["status"] == "Accepted"
            assert [p.id for p in station.profiles] == [3]
        else:
            assert reply["status"] == "Rejected"
            assert [p.id for p in station.profiles] == [1, 2]
        # The same id replaces its profile (K01.FR.05, 1.6 section 5.16).
        pid = 3 if version == "ocpp1.6" else 1
        again = default_profile(version, pid, 6, valid_to="2030-01-01T00:00:00Z")
        assert (await csms.result(station.id, "SetChargingProfile", again))["status"] == "Accepted"
        replaced = next(p for p in station.profiles if p.id == pid)
        assert replaced.periods[0].limit == 6


@pytest.mark.parametrize("version", VERSIONS)
async def test_schedule_offsets_are_seconds_of_the_csms_clock(version: str) -> None:
    """The station runs 60 times faster than the CSMS's clock: a period that starts 3 s into the
    schedule (CSMS seconds) starts 180 simulated seconds in, 3 wall-clock seconds later."""
    start = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    async with station_against_csms(version) as (csms, station):
        await charging(csms, station)
        request = station_max(version, 0)
        body = request["csChargingProfiles" if version == "ocpp1.6" else "chargingProfile"]
        schedule = body["chargingSchedule"]
        schedule = schedule if isinstance(schedule, dict) else schedule[0]
        schedule["startSchedule"] = start
        schedule["chargingSchedulePeriod"] = [
            {"startPeriod": 0, "limit": 9_000},
            {"startPeriod": 3, "limit": 5_000},
        ]
        assert (await csms.result(station.id, "SetChargingProfile", request))[
            "status"
        ] == "Accepted"
        battery = station.evses[0].battery
        assert battery is not None and battery.power_w() == pytest.approx(9_000)
        asked = (
            {"connectorId": 0, "duration": 10, "chargingRateUnit": "W"}
            if version == "ocpp1.6"
            else {"evseId": 0, "duration": 10, "chargingRateUnit": "W"}
        )
        answer = await csms.result(station.id, "GetCompositeSchedule", asked)
        got = answer["chargingSchedule"] if version == "ocpp1.6" else answer["schedule"]
        periods = got["chargingSchedulePeriod"]
        assert [p["limit"] for p in periods] == [9_000, 5_000]
        assert 1 <= periods[1]["startPeriod"] <= 3
        await eventually(
            lambda: battery.power_w() == pytest.approx(5_000), what="the second period"
        )
