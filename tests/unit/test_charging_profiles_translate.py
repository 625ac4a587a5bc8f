"""One profile model, translated at the edge: the payloads voltmesh builds are valid against the
official schemas of each version and read back to the same model; an operator's profile is
checked as the specifications require; the charging-needs planner stays within the limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from csms.smart_charging.model import (
    Kind,
    ProfileError,
    Purpose,
    RateUnit,
    check_placement,
    profile_from_view,
    profile_view,
)
from csms.smart_charging.needs import NEEDS_PROFILE_ID_BASE, plan_for_needs
from csms.smart_charging.translate import (
    ClearCriteria,
    clear_charging_profile,
    clear_criteria_from_request,
    composite_from_response,
    get_charging_profiles,
    get_composite_schedule,
    installed_from_set_request,
    set_charging_profile,
)
from persistence.records import v2_transaction_key
from transport.schemas import schemas_for
from transport.versions import OcppVersion

VERSIONS = [OcppVersion.V16, OcppVersion.V201, OcppVersion.V21]
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def view(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": 7,
        "stack_level": 2,
        "purpose": "TxDefaultProfile",
        "kind": "Recurring",
        "recurrency": "Daily",
        "valid_from": "2026-12-01T00:00:00Z",
        "valid_to": "2027-01-01T00:00:00Z",
        "schedules": [
            {
                "start": "2026-12-01T18:00:00Z",
                "duration": 14400,
                "unit": "A",
                "min_charging_rate": 6.0,
                "periods": [
                    {"start_period": 0, "limit": 16.0, "number_phases": 3},
                    {"start_period": 3600, "limit": 10.5},
                ],
            }
        ],
    }
    body.update(changes)
    return body


@pytest.mark.parametrize("version", VERSIONS)
def test_set_payload_is_valid_and_reads_back(version: OcppVersion) -> None:
    profile = profile_from_view(view())
    payload = set_charging_profile(version, "CS-1", 1, profile)
    schemas_for(version).validate_request("SetChargingProfile", payload)
    if version is OcppVersion.V16:
        assert payload["connectorId"] == 1
        wire = payload["csChargingProfiles"]
        assert wire["chargingProfileId"] == 7
        assert isinstance(wire["chargingSchedule"], dict)
    else:
        assert payload["evseId"] == 1
        wire = payload["chargingProfile"]
        assert wire["id"] == 7
        assert [s["id"] for s in wire["chargingSchedule"]] == [7]
    installed = installed_from_set_request(version, "CS-1", payload)
    assert installed.evse_id == 1
    # Round trip, less the 2.x schedule id voltmesh chose.
    again = profile_view(installed.profile)
    expected = profile_view(profile)
    for schedule in (*again["schedules"], *expected["schedules"]):
        schedule["id"] = None
    assert again == expected


def test_station_max_purpose_names_differ_per_version() -> None:
    profile = profile_from_view(
        view(purpose="ChargingStationMaxProfile", kind="Absolute", recurrency=None)
    )
    v16 = set_charging_profile(OcppVersion.V16, "CS-1", 0, profile)
    assert v16["csChargingProfiles"]["chargingProfilePurpose"] == "ChargePointMaxProfile"
    v2 = set_charging_profile(OcppVersion.V201, "CS-1", 0, profile)
    assert v2["chargingProfile"]["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    back = installed_from_set_request(OcppVersion.V16, "CS-1", v16)
    assert back.profile.purpose is Purpose.STATION_MAX


def test_transaction_ids_per_version() -> None:
    tx16 = profile_from_view(
        view(purpose="TxProfile", kind="Relative", recurrency=None, transaction_id="42")
        | {"schedules": [{"unit": "W", "periods": [{"start_period": 0, "limit": 7400}]}]}
    )
    v16 = set_charging_profile(OcppVersion.V16, "CS-1", 1, tx16)
    assert v16["csChargingProfiles"]["transactionId"] == 42
    schemas_for(OcppVersion.V16).validate_request("SetChargingProfile", v16)
    stored = v2_transaction_key("CS-2", "abc-1")
    tx2 = profile_from_view(
        view(purpose="TxProfile", kind="Relative", recurrency=None, transaction_id=stored)
        | {"schedules": [{"unit": "W", "periods": [{"start_period": 0, "limit": 7400}]}]}
    )
    v2 = set_charging_profile(OcppVersion.V201, "CS-2", 1, tx2)
    assert v2["chargingProfile"]["transactionId"] == "abc-1"
    back = installed_from_set_request(OcppVersion.V201, "CS-2", v2)
    assert back.profile.transaction_id == stored
    with pytest.raises(ProfileError, match="integer"):
        set_charging_profile(OcppVersion.V16, "CS-1", 1, tx2)


def test_one_six_takes_one_schedule() -> None:
    schedule = view()["schedules"][0]
    two = profile_from_view(view(schedules=[schedule, schedule]))
    with pytest.raises(ProfileError, match="exactly one"):
        set_charging_profile(OcppVersion.V16, "CS-1", 1, two)
    payload = set_charging_profile(OcppVersion.V201, "CS-1", 1, two)
    schemas_for(OcppVersion.V201).validate_request("SetChargingProfile", payload)
    assert [s["id"] for s in payload["chargingProfile"]["chargingSchedule"]] == [7, 8]


def test_a_relative_station_maximum_is_refused_in_2x() -> None:
    relative_max = profile_from_view(
        view(
            purpose="ChargingStationMaxProfile",
            kind="Relative",
            recurrency=None,
            schedules=[{"unit": "A", "periods": [{"start_period": 0, "limit": 32}]}],
        )
    )
    with pytest.raises(ProfileError, match="not Relative"):
        set_charging_profile(OcppVersion.V201, "CS-1", 0, relative_max)
    # OCPP 1.6 does not forbid it.
    payload = set_charging_profile(OcppVersion.V16, "CS-1", 0, relative_max)
    schemas_for(OcppVersion.V16).validate_request("SetChargingProfile", payload)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"purpose": "Nope"}, "purpose must be one of"),
        ({"kind": "Recurring", "recurrency": None}, "recurrency is required"),
        ({"kind": "Absolute"}, "recurrency is only"),
        ({"schedules": []}, "one to three"),
        ({"stack_level": -1}, "at least 0"),
        ({"valid_to": "2026-11-01T00:00:00Z"}, "valid_to must be after"),
        ({"transaction_id": "5"}, "only for a TxProfile"),
        ({"extra": 1}, "unknown fields"),
        ({"purpose": "ChargingStationExternalConstraints"}, "set by the station"),
    ],
)
def test_bad_profiles_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        profile_from_view(view(**changes))


@pytest.mark.parametrize(
    ("periods", "message"),
    [
        ([{"start_period": 10, "limit": 1}], "start at start_period 0"),
        ([{"start_period": 0, "limit": 1}, {"start_period": 0, "limit": 2}], "increasing"),
        ([{"start_period": 0}], "limit is required"),
        ([{"start_period": 0, "limit": -1}], "must not be negative"),
        ([{"start_period": 0, "limit": 1, "number_phases": 4}], "number_phases"),
        ([{"start_period": s, "limit": 1} for s in range(1025)], "1 to 1024 periods"),
    ],
)
def test_bad_periods_are_refused(periods: list[dict[str, Any]], message: str) -> None:
    schedule = {"start": "2026-12-01T18:00:00Z", "unit": "A", "periods": periods}
    with pytest.raises(ProfileError, match=message):
        profile_from_view(view(schedules=[schedule]))


def test_placement() -> None:
    station_max = profile_from_view(
        view(purpose="ChargingStationMaxProfile", kind="Absolute", recurrency=None)
    )
    check_placement(0, station_max)
    with pytest.raises(ProfileError, match="evse_id 0"):
        check_placement(1, station_max)
    tx = profile_from_view(view(purpose="TxProfile", kind="Absolute", recurrency=None))
    with pytest.raises(ProfileError, match="not 0"):
        check_placement(0, tx)


@pytest.mark.parametrize("version", VERSIONS)
def test_clear_payloads(version: OcppVersion) -> None:
    for criteria in (
        ClearCriteria(profile_id=3),
        ClearCriteria(evse_id=1, purpose=Purpose.STATION_MAX, stack_level=2),
        ClearCriteria(),
    ):
        if version is not OcppVersion.V16 and criteria.purpose is Purpose.STATION_MAX:
            criteria = ClearCriteria(evse_id=0, purpose=criteria.purpose, stack_level=2)
        payload = clear_charging_profile(version, criteria)
        schemas_for(version).validate_request("ClearChargingProfile", payload)
        assert clear_criteria_from_request(version, payload) == criteria


@pytest.mark.parametrize("version", VERSIONS)
def test_composite_and_report_requests(version: OcppVersion) -> None:
    payload = get_composite_schedule(version, 1, 600, RateUnit.W)
    schemas_for(version).validate_request("GetCompositeSchedule", payload)
    if version.is_2x:
        request = get_charging_profiles(5, evse_id=1, sources=["CSO"])
        schemas_for(version).validate_request("GetChargingProfiles", request)


def test_composite_answers_of_both_versions() -> None:
    v16 = {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2026-12-01T08:00:00Z",
        "chargingSchedule": {
            "duration": 600,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
        },
    }
    v2 = {
        "status": "Accepted",
        "schedule": {
            "evseId": 1,
            "duration": 600,
            "scheduleStart": "2026-12-01T08:00:00Z",
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
        },
    }
    one = composite_from_response(OcppVersion.V16, v16)
    two = composite_from_response(OcppVersion.V201, v2)
    assert one == two
    assert one is not None and one["periods"] == [
        {"start_period": 0, "limit": 16, "number_phases": None}
    ]
    assert composite_from_response(OcppVersion.V201, {"status": "Rejected"}) is None


def test_needs_ac_with_departure_charge_evenly() -> None:
    needs = {
        "requestedEnergyTransfer": "AC_three_phase",
        "departureTime": (NOW + timedelta(hours=5)).isoformat(),
        "acChargingParameters": {
            "energyAmount": 20_700,
            "evMinCurrent": 6,
            "evMaxCurrent": 32,
            "evMaxVoltage": 400,
        },
    }
    profile = plan_for_needs(needs, evse_id=1, transaction_id="t", now=NOW, station_limit=16.0)
    assert profile is not None
    assert profile.id == NEEDS_PROFILE_ID_BASE + 1
    assert profile.purpose is Purpose.TX and profile.kind is Kind.ABSOLUTE
    schedule = profile.schedules[0]
    # 20.7 kWh in 5 h over 3 x 230 V is 6 A; with the margin 7.2 A, within 16 A.
    assert schedule.unit is RateUnit.A
    assert schedule.periods[0].limit == 7.2
    assert schedule.duration == 5 * 3600
    assert schedule.periods[0].number_phases == 3
    payload = set_charging_profile(OcppVersion.V201, "CS", 1, profile)
    schemas_for(OcppVersion.V201).validate_request("SetChargingProfile", payload)


@pytest.mark.parametrize(("mode", "phases"), [("AC_single_phase", 1), ("AC_two_phase", 2)])
def test_needs_of_an_ev_on_fewer_phases(mode: str, phases: int) -> None:
    # Amperes are per phase: the same energy by the same time takes more of them on fewer phases,
    # and the profile says on how many phases the EV charges.
    needs = {
        "requestedEnergyTransfer": mode,
        "departureTime": (NOW + timedelta(hours=5)).isoformat(),
        "acChargingParameters": {
            "energyAmount": 6_900,
            "evMinCurrent": 1,
            "evMaxCurrent": 32,
            "evMaxVoltage": 230,
        },
    }
    profile = plan_for_needs(needs, evse_id=1, transaction_id="t", now=NOW, station_limit=None)
    assert profile is not None
    (period,) = profile.schedules[0].periods
    # 6.9 kWh in 5 h is 1380 W: 6 A on one phase, 3 A on two; then the margin.
    assert period.limit == round(1380 / (230 * phases) * 1.2, 1)
    assert period.number_phases == phases


def test_needs_are_capped_by_station_and_ev() -> None:
    dc = {
        "requestedEnergyTransfer": "DC",
        "dcChargingParameters": {"evMaxCurrent": 200, "evMaxVoltage": 400, "evMaxPower": 50_000},
    }
    profile = plan_for_needs(dc, evse_id=2, transaction_id="t", now=NOW, station_limit=30_000.0)
    assert profile is not None
    assert profile.schedules[0].unit is RateUnit.W
    assert profile.schedules[0].periods[0].limit == 30_000.0
    uncapped = plan_for_needs(dc, evse_id=2, transaction_id="t", now=NOW, station_limit=None)
    assert uncapped is not None and uncapped.schedules[0].periods[0].limit == 50_000.0
    nothing = {"requestedEnergyTransfer": "AC_single_phase"}
    assert (
        plan_for_needs(nothing, evse_id=1, transaction_id="t", now=NOW, station_limit=None) is None
    )
