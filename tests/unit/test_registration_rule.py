"""What a station's registration lets the CSMS send it: one rule for the charge point actor and the
REST resources (OCPP 1.6 section 4.2.1, 2.0.1 B02/B03)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from csms.station.registration import WHILE_PENDING, refusal, standing_of
from http_api.station_calls import _refuses
from persistence.records import RegistrationStatus, StationRecord
from persistence.stations import new_station_record

ACCEPTED, PENDING, REJECTED = (
    RegistrationStatus.ACCEPTED,
    RegistrationStatus.PENDING,
    RegistrationStatus.REJECTED,
)


def station(**changes: Any) -> StationRecord:
    record = new_station_record("CS-1", protocol="ocpp2.0.1", registered=True)
    return dataclasses.replace(record, **changes)


@pytest.mark.parametrize("action", ["RequestStartTransaction", "ReserveNow", "SetChargingProfile"])
def test_only_what_b02_allows_goes_to_a_station_not_accepted(action: str) -> None:
    assert refusal(ACCEPTED, action) is None
    assert action not in WHILE_PENDING
    assert refusal(PENDING, action) is not None
    assert refusal(None, action) is not None
    assert refusal(PENDING, "GetVariables") is None
    assert refusal(None, "Reset") is None


def test_nothing_goes_to_a_rejected_station() -> None:
    for action in ("GetVariables", "Reset", "RequestStartTransaction"):
        assert "Rejected" in (refusal(REJECTED, action) or "")


def test_held_back_after_an_accepted_boot_is_served_until_it_boots_again() -> None:
    assert standing_of(station(registration=PENDING, boot_status="Accepted")) is ACCEPTED
    assert standing_of(station(registration=PENDING, boot_status="Pending")) is PENDING
    assert standing_of(station(registration=REJECTED, boot_status="Accepted")) is REJECTED


def test_the_rest_preflight_reads_the_stored_station_the_same_way() -> None:
    assert _refuses(station(), "ReserveNow") is None
    assert _refuses(station(registration=PENDING, boot_status="Pending"), "ReserveNow")
    assert _refuses(station(registration=PENDING, boot_status="Pending"), "GetReport") is None
    # Never registered: Pending or Rejected by the node's policy, never Accepted.
    assert _refuses(station(registered=False), "ReserveNow")
    assert _refuses(station(registered=False), "GetVariables") is None
    # Not allowed is Rejected, even for what a Pending station may be sent.
    assert _refuses(station(allowed=False, registration=REJECTED), "GetVariables")
