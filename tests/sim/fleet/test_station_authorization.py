"""A simulated station holds reservations (only the reserved token starts there, with the
reservation id; expiry frees the EVSE) and keeps a local authorization list it decides on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import sim.fleet.local_list
from csms.payloads.timestamps import ocpp_time
from sim.fleet.station import SimStation
from tests.sim.fleet.fake_csms import FakeCsms
from tests.sim.fleet.station_harness import (
    ACCELERATION,
    connector_statuses,
    station_against_csms,
)
from tests.timing import UNIT, eventually
from transport.messages import CallError

VERSIONS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]


def reserve(version: str, station: SimStation, rid: int, tag: str, seconds: float) -> Any:
    """A reservation for ``seconds`` simulated seconds: the CSMS states its expiry on its own
    clock (the wall clock), which the station set its clock from at boot."""
    expiry = ocpp_time(datetime.now(UTC) + timedelta(seconds=seconds / ACCELERATION))
    if version == "ocpp1.6":
        return {"connectorId": 1, "expiryDate": expiry, "idTag": tag, "reservationId": rid}
    return {
        "id": rid,
        "expiryDateTime": expiry,
        "idToken": {"idToken": tag, "type": "ISO14443"},
        "evseId": 1,
    }


def starts(csms: FakeCsms) -> list[dict[str, Any]]:
    return csms.of("StartTransaction") + [
        p for p in csms.of("TransactionEvent") if p["eventType"] == "Started"
    ]


@pytest.mark.parametrize("version", VERSIONS)
async def test_only_the_reserved_token_starts_and_the_start_names_the_reservation(
    version: str,
) -> None:
    async with station_against_csms(version) as (csms, station):
        reply = await csms.result(
            station.id, "ReserveNow", reserve(version, station, 7, "MINE", 3600)
        )
        assert reply["status"] == "Accepted"
        await eventually(lambda: connector_statuses(csms)[-1] == "Reserved", what="Reserved")
        # Another driver finds the EVSE reserved: no session, and a remote start for him fails.
        station.arrive(1, "OTHER")
        remote = (
            ("RemoteStartTransaction", {"idTag": "OTHER", "connectorId": 1})
            if version == "ocpp1.6"
            else (
                "RequestStartTransaction",
                {
                    "idToken": {"idToken": "OTHER", "type": "ISO14443"},
                    "evseId": 1,
                    "remoteStartId": 3,
                },
            )
        )
        assert (await csms.result(station.id, *remote))["status"] == "Rejected"
        # A second reservation of the reserved EVSE is refused.
        taken = await csms.result(station.id, "ReserveNow", reserve(version, station, 8, "X", 60))
        assert taken["status"] == "Occupied"
        station.arrive(1, "MINE")
        start = await eventually(lambda: starts(csms), what="a start")
        assert len(start) == 1
        assert start[0]["reservationId"] == 7
        assert station.evses[0].reservation is None


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_reservation_expires_and_can_be_cancelled(version: str) -> None:
    async with station_against_csms(version) as (csms, station):
        # 120 simulated seconds: two wall-clock seconds.
        reply = await csms.result(station.id, "ReserveNow", reserve(version, station, 1, "A", 120))
        assert reply["status"] == "Accepted"
        await eventually(
            lambda: connector_statuses(csms)[-2:] == ["Reserved", "Available"],
            within=200 * UNIT,
            what="Reserved, then Available at expiry",
        )
        if version != "ocpp1.6":
            update = await csms.wait_for("ReservationStatusUpdate")
            assert update == {"reservationId": 1, "reservationUpdateStatus": "Expired"}
        reply = await csms.result(station.id, "ReserveNow", reserve(version, station, 2, "A", 3600))
        assert reply["status"] == "Accepted"
        assert (await csms.result(station.id, "CancelReservation", {"reservationId": 2}))[
            "status"
        ] == "Accepted"
        await eventually(lambda: connector_statuses(csms)[-1] == "Available", what="freed")
        assert (await csms.result(station.id, "CancelReservation", {"reservationId": 2}))[
            "status"
        ] == "Rejected"


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_busy_evse_cannot_be_reserved(version: str) -> None:
    async with station_against_csms(version) as (csms, station):
        station.arrive(1, "A")
        await eventually(lambda: station.evses[0].session is not None, what="a session")
        reply = await csms.result(station.id, "ReserveNow", reserve(version, station, 1, "B", 600))
        assert reply["status"] == "Occupied"


def local_list(version: str, number: int, update: str, entries: dict[str, str | None]) -> Any:
    if version == "ocpp1.6":
        return {
            "listVersion": number,
            "updateType": update,
            "localAuthorizationList": [
                {"idTag": tag}
                if status is None
                else {"idTag": tag, "idTagInfo": {"status": status}}
                for tag, status in entries.items()
            ],
        }
    return {
        "versionNumber": number,
        "updateType": update,
        "localAuthorizationList": [
            {"idToken": {"idToken": tag, "type": "ISO14443"}}
            | ({} if status is None else {"idTokenInfo": {"status": status}})
            for tag, status in entries.items()
        ],
    }


def version_of(version: str, reply: dict[str, Any]) -> int:
    return int(reply["listVersion"] if version == "ocpp1.6" else reply["versionNumber"])


@pytest.mark.parametrize("version", VERSIONS)
async def test_the_local_list_is_versioned_and_decides_locally(version: str) -> None:
    async with station_against_csms(version, evses=2) as (csms, station):
        assert version_of(version, await csms.result(station.id, "GetLocalListVersion", {})) == 0
        full = local_list(version, 3, "Full", {"LOCAL": "Accepted", "BAD": "Blocked"})
        assert (await csms.result(station.id, "SendLocalList", full))["status"] == "Accepted"
        assert version_of(version, await csms.result(station.id, "GetLocalListVersion", {})) == 3
        stale = local_list(version, 3, "Differential", {"NEW": "Accepted"})
        assert (await csms.result(station.id, "SendLocalList", stale))[
            "status"
        ] == "VersionMismatch"

        station.arrive(1, "LOCAL")
        await eventually(lambda: starts(csms), what="a start")
        station.arrive(2, "BAD")
        await eventually(
            lambda: any(r.stop_reason == "NotAuthorized:Blocked" for r in station.records),
            what="the blocked token refused",
        )
        # Both decided on the list: the CSMS was never asked.
        assert csms.of("Authorize") == []
        assert len(starts(csms)) == 1

        diff = local_list(version, 4, "Differential", {"BAD": None, "NEW": "Accepted"})
        assert (await csms.result(station.id, "SendLocalList", diff))["status"] == "Accepted"
        assert station.local_list == {"LOCAL": "Accepted", "NEW": "Accepted"}
        assert station.local_list_version == 4


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_station_without_a_local_list(version: str) -> None:
    async with station_against_csms(version, {"local_list": False}) as (csms, station):
        full = local_list(version, 1, "Full", {"LOCAL": "Accepted"})
        if version == "ocpp1.6":
            assert (await csms.result(station.id, "SendLocalList", full))[
                "status"
            ] == "NotSupported"
            assert (await csms.result(station.id, "GetLocalListVersion", {}))["listVersion"] == -1
        else:
            reply = await csms.call(station.id, "SendLocalList", full)
            assert isinstance(reply, CallError) and reply.error_code == "NotSupported"


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_disabled_local_list_is_not_used(version: str) -> None:
    async with station_against_csms(version) as (csms, station):
        full = local_list(version, 1, "Full", {"LOCAL": "Blocked"})
        assert (await csms.result(station.id, "SendLocalList", full))["status"] == "Accepted"
        if version == "ocpp1.6":
            change = {"key": "LocalAuthListEnabled", "value": "false"}
            assert (await csms.result(station.id, "ChangeConfiguration", change))[
                "status"
            ] == "Accepted"
        else:
            variable = {
                "component": {"name": "LocalAuthListCtrlr"},
                "variable": {"name": "Enabled"},
            }
            reply = await csms.result(
                station.id,
                "SetVariables",
                {"setVariableData": [{**variable, "attributeValue": "false"}]},
            )
            assert reply["setVariableResult"][0]["attributeStatus"] == "Accepted"
            got = await csms.result(station.id, "GetVariables", {"getVariableData": [variable]})
            assert got["getVariableResult"][0]["attributeValue"] == "false"
        # The list says Blocked, but the station asks the CSMS, which accepts.
        station.arrive(1, "LOCAL")
        await eventually(lambda: starts(csms), what="a start")
        assert len(csms.of("Authorize")) == 1


async def test_1_6_list_capacities_are_read_only() -> None:
    """1.6 section 9.1: LocalAuthListMaxLength and SendLocalListMaxLength are read-only."""
    async with station_against_csms("ocpp1.6") as (csms, station):
        keys = ["LocalAuthListMaxLength", "SendLocalListMaxLength", "LocalAuthListEnabled"]
        got = await csms.result(station.id, "GetConfiguration", {"key": keys})
        assert {k["key"]: k["readonly"] for k in got["configurationKey"]} == {
            "LocalAuthListMaxLength": True,
            "SendLocalListMaxLength": True,
            "LocalAuthListEnabled": False,
        }
        change = {"key": "LocalAuthListMaxLength", "value": "1"}
        reply = await csms.result(station.id, "ChangeConfiguration", change)
        assert reply["status"] == "Rejected"
        assert station.configuration["LocalAuthListMaxLength"] == "10000"


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_list_over_its_capacity_fails(
    version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An update that would make the list longer than the station holds is Failed, and the list
    stays as it was."""
    monkeypatch.setattr(sim.fleet.local_list, "MAX_ENTRIES", 2)
    async with station_against_csms(version) as (csms, station):
        full = local_list(version, 1, "Full", {"A": "Accepted", "B": "Accepted"})
        assert (await csms.result(station.id, "SendLocalList", full))["status"] == "Accepted"
        more = local_list(version, 2, "Differential", {"C": "Accepted"})
        assert (await csms.result(station.id, "SendLocalList", more))["status"] == "Failed"
        assert station.local_list == {"A": "Accepted", "B": "Accepted"}
        assert station.local_list_version == 1
