"""Bad input from chargers: the right CALLERROR, and the connection lives on."""

from __future__ import annotations

import asyncio

import pytest
import websockets

from csms.handlers import v16
from tests.raw_charger import RawCharger
from tests.server_fixtures import Running
from tests.timing import UNIT, eventually

BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


async def alive(charger: RawCharger) -> None:
    reply = await charger.call("Heartbeat", {})
    assert "currentTime" in reply


@pytest.mark.parametrize(
    ("frame", "unique_id", "code"),
    [
        ("not json at all", "-1", "FormationViolation"),
        ('{"an": "object"}', "-1", "FormationViolation"),
        ('[2, "m1", "Heartbeat"]', "m1", "FormationViolation"),
        ('[9, "m2", "Heartbeat", {}]', "m2", "FormationViolation"),
        ('[2, "m3", "Heartbeat", []]', "m3", "FormationViolation"),
        ('[2, "m4", "NoSuchAction", {}]', "m4", "NotImplemented"),
        ('[2, "m5", "TransactionEvent", {}]', "m5", "NotSupported"),
        ('[2, "m6", "Reset", {"type": "Hard"}]', "m6", "NotSupported"),
        (
            '[2, "m7", "BootNotification", {"chargePointVendor": "V"}]',
            "m7",
            "OccurenceConstraintViolation",
        ),
        (
            '[2, "m8", "StatusNotification", {"connectorId": "1", "errorCode": "NoError", "status": "Available"}]',
            "m8",
            "TypeConstraintViolation",
        ),
        (
            '[2, "m9", "StatusNotification", {"connectorId": 1, "errorCode": "Error", "status": "Available"}]',
            "m9",
            "PropertyConstraintViolation",
        ),
        ('[2, "m10", "Heartbeat", {"extra": 1}]', "m10", "FormationViolation"),
    ],
)
async def test_bad_frames_get_callerror_and_connection_survives(
    server: Running, frame: str, unique_id: str, code: str
) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-BAD")
    try:
        await charger.call("BootNotification", BOOT)
        await charger.send_frame(frame)
        reply = await charger.next_unsolicited()
        assert reply[:3] == [4, unique_id, code], reply
        await alive(charger)
    finally:
        await charger.close()


async def test_unmatched_result_is_dropped_and_connection_survives(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-UNMATCHED")
    try:
        await charger.send_frame([3, "never-sent", {}])
        await charger.send_frame([4, "never-sent-either", "GenericError", "", {}])
        await alive(charger)
        assert charger.unsolicited.empty()
    finally:
        await charger.close()


async def test_handler_failure_is_internal_error_and_others_go_on(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = v16.HANDLERS["DataTransfer"]

    async def failing(cp, call):  # type: ignore[no-untyped-def]
        if cp.station_id == "CP-FAIL":
            raise RuntimeError("handler bug")
        return await original(cp, call)

    monkeypatch.setitem(v16.HANDLERS, "DataTransfer", failing)
    bad = await RawCharger.connect(f"{server.ocpp_url}/CP-FAIL")
    good = await RawCharger.connect(f"{server.ocpp_url}/CP-GOOD")
    try:
        for charger in (bad, good):
            await charger.call("BootNotification", BOOT)
        start = await good.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "X", "meterStart": 0, "timestamp": "2026-11-01T10:00:00Z"},
        )
        reply = await bad.exchange([2, "df", "DataTransfer", {"vendorId": "acme"}])
        assert reply[:3] == [4, "df", "InternalError"]
        assert (await good.call("DataTransfer", {"vendorId": "acme"}))[
            "status"
        ] == "UnknownVendorId"
        await good.call(
            "StopTransaction",
            {
                "transactionId": start["transactionId"],
                "meterStop": 10,
                "timestamp": "2026-11-01T10:01:00Z",
            },
        )
        await alive(bad)
    finally:
        await bad.close()
        await good.close()
    status, tx = await server.get(f"/api/v1/transactions/{start['transactionId']}")
    assert tx["energy_wh"] == 10.0


async def test_no_subprotocol_offered_gets_default(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-NOPROTO", subprotocols=[])
    try:
        assert charger.ws.subprotocol is None
        assert (await charger.call("BootNotification", BOOT))["status"] == "Accepted"
    finally:
        await charger.close()
    status, station = await server.get("/api/v1/stations/CP-NOPROTO")
    assert station["protocol"] == "ocpp1.6"


async def test_unsupported_subprotocol_is_refused(server: Running) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        await RawCharger.connect(f"{server.ocpp_url}/CP-V12", subprotocols=["ocpp1.2"])
    assert info.value.response.status_code == 400


async def test_plain_path_without_ocpp_prefix(server: Running) -> None:
    url = server.ocpp_url.removesuffix("/ocpp")
    charger = await RawCharger.connect(f"{url}/CP-PLAIN")
    try:
        assert (await charger.call("BootNotification", BOOT))["status"] == "Accepted"
    finally:
        await charger.close()


async def test_new_connection_replaces_zombie(server: Running) -> None:
    old = await RawCharger.connect(f"{server.ocpp_url}/CP-ZOMBIE")
    start = await old.call(
        "StartTransaction",
        {"connectorId": 1, "idTag": "Z", "meterStart": 100, "timestamp": "2026-11-01T10:00:00Z"},
    )
    new = await RawCharger.connect(f"{server.ocpp_url}/CP-ZOMBIE")
    try:
        await asyncio.wait_for(old.ws.wait_closed(), 100 * UNIT)
        assert old.ws.close_code == 1000
        await new.call(
            "StopTransaction",
            {
                "transactionId": start["transactionId"],
                "meterStop": 600,
                "timestamp": "2026-11-01T10:30:00Z",
            },
        )
        status, station = await server.get("/api/v1/stations/CP-ZOMBIE")
        assert station["connected"] is True
    finally:
        await old.close()
        await new.close()
    status, tx = await server.get(f"/api/v1/transactions/{start['transactionId']}")
    assert tx["energy_wh"] == 500.0


async def test_duplicate_message_id_answered_once_stored_once(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-DUP")
    try:
        frame = [2, "same", "DataTransfer", {"vendorId": "acme", "data": "x"}]
        first = await charger.exchange(frame)
        second = await charger.exchange(frame)
        assert first == second
    finally:
        await charger.close()
    from persistence.events import station_events_of
    from persistence.reads import EngineReads

    events = await station_events_of(EngineReads(server.node.engine), "CP-DUP", "DataTransfer")
    assert len(events) == 1


async def test_shutdown_closes_chargers_with_1012(start_server) -> None:  # type: ignore[no-untyped-def]
    running = await start_server()
    charger = await RawCharger.connect(f"{running.ocpp_url}/CP-DRAIN")
    try:
        await charger.call("BootNotification", BOOT)
        await running.node.stop()
        await asyncio.wait_for(charger.ws.wait_closed(), 100 * UNIT)
        assert charger.ws.close_code == 1012
    finally:
        await charger.close()
        # The fixture stops it again: stop must be idempotent.


async def test_zombie_that_never_answers_the_close_does_not_delay_the_new_socket(
    server: Running,
) -> None:
    import aiohttp

    async with (
        aiohttp.ClientSession() as http,
        # Neither reads nor answers a close: a socket whose peer is gone.
        http.ws_connect(f"{server.ocpp_url}/CP-DEAD", protocols=["ocpp1.6"], autoclose=False),
    ):
        # The zombie must hold the station before the new socket comes, or nothing is replaced.
        await eventually(lambda: server.is_connected("CP-DEAD"))
        new = await RawCharger.connect(f"{server.ocpp_url}/CP-DEAD")
        try:
            # Well within the 10 s an unanswered close handshake may take.
            reply = await new.call("Heartbeat", {}, timeout=40 * UNIT)
            assert "currentTime" in reply
        finally:
            await new.close()
