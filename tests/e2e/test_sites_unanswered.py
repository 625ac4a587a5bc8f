"""A site member that answers its profiles with a CALLERROR, or not at all: what it may draw stays
counted, and the others share what is left."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.test_sites import (
    ASSUMED_MAX,
    Grid,
    allocation,
    boot2,
    shares,
    site,
    site_charger201,
    start2,
)
from tests.raw_charger import CallErrorReply, RawCharger
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT, eventually
from tests.v2_calls import ts


@pytest.fixture
async def server(start_server: StartServer, monkeypatch: pytest.MonkeyPatch) -> Running:
    """A node whose site loop waits 20 units for a station's answer."""
    monkeypatch.setenv("VOLTMESH_SITE_CALL_TIMEOUT", str(20 * UNIT))
    return await start_server()


async def _raw16(server: Running, station_id: str, tag: str) -> RawCharger:
    charger = await RawCharger.connect(f"{server.ocpp_url}/{station_id}")
    await server.put(f"/api/v1/id-tags/{tag}", {"status": "Accepted"})
    return charger


async def _boot_and_start(charger: RawCharger, tag: str) -> str:
    await _boot(charger)
    return await _start(charger, tag)


async def _boot(charger: RawCharger) -> None:
    boot = await charger.call(
        "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
    )
    assert boot["status"] == "Accepted"


async def _start(charger: RawCharger, tag: str) -> str:
    start = await charger.call(
        "StartTransaction", {"connectorId": 1, "idTag": tag, "meterStart": 0, "timestamp": ts()}
    )
    assert start["idTagInfo"]["status"] == "Accepted"
    return str(start["transactionId"])


async def test_a_callerror_counts_the_assumed_maximum(server: Running) -> None:
    grid = Grid(limit=40.0)
    assert (await server.put("/api/v1/sites/depot", site(40.0, "E16", "E201")))[0] == 201
    charger = await _raw16(server, "E16", "TAG-E")

    async def not_supported(_: dict[str, Any]) -> dict[str, Any]:
        raise CallErrorReply("", "NotSupported", "no smart charging here")

    charger.handlers["SetChargingProfile"] = not_supported
    try:
        async with site_charger201(server, "E201", grid) as b:
            await boot2(b)
            await _boot_and_start(charger, "TAG-E")
            await start2(server, b, "TAG-EB", "tx-eb")
            await eventually(lambda: grid.limit_of("E201") == 40.0 - ASSUMED_MAX, what="the rest")
            await eventually(
                lambda: _status(server, "E16", "rejected"), what="the CALLERROR shown as rejected"
            )
    finally:
        await charger.close()
    grid.never_over()


async def test_a_station_that_does_not_answer_keeps_its_default_counted(server: Running) -> None:
    grid = Grid(limit=40.0)
    assert (await server.put("/api/v1/sites/depot", site(40.0, "Q16", "Q201")))[0] == 201
    charger = await _raw16(server, "Q16", "TAG-Q")
    never = asyncio.Event()
    defaults_answered = 0

    async def default_only(payload: dict[str, Any]) -> dict[str, Any]:
        nonlocal defaults_answered
        if payload["csChargingProfiles"]["chargingProfilePurpose"] == "TxDefaultProfile":
            defaults_answered += 1
            return {"status": "Accepted"}
        await never.wait()  # a TxProfile is never answered
        return {"status": "Accepted"}

    charger.handlers["SetChargingProfile"] = default_only
    try:
        async with site_charger201(server, "Q201", grid) as b:
            await boot2(b)
            # Its session starts under the default (given once: on connecting; its boot on the
            # same connection does not need it again).
            await _boot(charger)
            await eventually(lambda: defaults_answered == 1, what="the default")
            await _start(charger, "TAG-Q")
            await start2(server, b, "TAG-QB", "tx-qb")
            # The silent station draws at most its default (6 A): the other gets the rest.
            await eventually(
                lambda: grid.limit_of("Q201") == 34.0, within=200 * UNIT, what="the rest"
            )
            view = await eventually(
                lambda: _status(server, "Q16", "rejected", allocated=40.0),
                what="no answer shown as rejected",
            )
            assert shares(view)["Q201"] == (34.0, "accepted")
            assert [s["accepted_limit"] for s in view["sessions"]] == [6.0, 34.0]
            assert defaults_answered == 1
    finally:
        never.set()
        await charger.close()
    grid.never_over()


async def _status(
    server: Running, station_id: str, status: str, allocated: float | None = None
) -> dict[str, Any] | None:
    view = await allocation(server)
    if allocated is not None and view["allocated"] != allocated:
        return None
    return view if shares(view).get(station_id, (0.0, ""))[1] == status else None
