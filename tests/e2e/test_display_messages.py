"""Display messages per 2.x station (OCPP 2.0.1 O01-O06) end to end: a message the station
accepts is kept whichever path sent it (201; 409 with the station's status otherwise), a cleared
one goes, and a multi-part NotifyDisplayMessages report replaces what it covers; with the unhappy
paths (each refusal status, Unknown, a CALLERROR, no answer, offline, a 1.6 station)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.v16 import call as call16
from sqlalchemy import select

from csms.events import Event
from persistence.display_messages import station_display_messages
from tests.ocpp_charger import charger16
from tests.ocpp_charger2 import Charger21, Charger201, charger2
from tests.raw_charger import CallErrorReply, RawCharger
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT, eventually
from tests.v2_calls import boot_payload, call2, energy, transaction_event

VERSIONS = ["ocpp2.0.1", "ocpp2.1"]
BOOT_V2 = {"chargingStation": {"model": "M", "vendorName": "V"}, "reason": "PowerUp"}
WELCOME = {
    "priority": "InFront",
    "state": "Idle",
    "start": "2099-12-24T08:00:00+01:00",
    "end": "2099-12-26T20:00:00Z",
    "message": {"format": "UTF8", "language": "de", "content": "Frohe Weihnachten"},
    "display": {"component": "Display", "evse_id": 1},
}


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    return server_on_each_db


def _path(station: str) -> str:
    return f"/api/v1/stations/{station}/display-messages"


async def _messages(server: Running, station: str) -> dict[int, dict[str, Any]]:
    status, page = await server.get(_path(station))
    assert status == 200, page
    assert page["next"] is None
    return {m["id"]: m for m in page["items"]}


async def _delete(server: Running, station: str, message_id: int | str) -> tuple[int, Any]:
    async with server.http.delete(f"{server.api_url}{_path(station)}/{message_id}") as r:
        return r.status, await r.json(content_type=None)


def _changes(server: Running, station: str) -> list[dict[str, Any]]:
    events: list[Event] = server.node.events.recent()
    return [
        e.data for e in events if e.type == "display_message.changed" and e.station_id == station
    ]


def _info(message_id: int, priority: str, content: str, **fields: Any) -> dict[str, Any]:
    """A MessageInfoType as a station reports it."""
    return {
        "id": message_id,
        "priority": priority,
        "message": {"format": "ASCII", "content": content},
        **fields,
    }


async def _report_part(
    cp: Charger201 | Charger21, request_id: int, infos: list[dict[str, Any]], *, tbc: bool
) -> None:
    payload: dict[str, Any] = {"requestId": request_id}
    if infos:
        payload["messageInfo"] = infos
    if tbc:
        payload["tbc"] = True
    assert await call2(cp, "NotifyDisplayMessages", payload) == {}


@pytest.mark.parametrize("version", VERSIONS)
async def test_messages_are_kept_replaced_and_cleared(server: Running, version: str) -> None:
    station = f"CS-DM-{version}"
    async with charger2(server.ocpp_url, station, version) as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, created = await server.post(_path(station), WELCOME)
        assert status == 201, created
        assert created["id"] == 1
        sent = cp.calls("SetDisplayMessage")[-1]["message"]
        assert sent["id"] == 1
        assert sent["start_date_time"] == "2099-12-24T07:00:00.000Z"
        assert sent["display"] == {"name": "Display", "evse": {"id": 1}}
        assert created["priority"] == "InFront"
        assert created["state"] == "Idle"
        assert created["start"] == "2099-12-24T07:00:00Z"
        assert created["end"] == "2099-12-26T20:00:00Z"
        assert created["message"] == {
            "format": "UTF8",
            "language": "de",
            "content": "Frohe Weihnachten",
        }
        assert created["display"] == {
            "component": "Display",
            "component_instance": None,
            "evse_id": 1,
            "connector_id": None,
        }
        assert created["source"] == "operator"

        # Without an id: one more than the highest kept.
        status, second = await server.post(
            _path(station),
            {
                "priority": "NormalCycle",
                "message": {"format": "ASCII", "content": "Tarif 0,39/kWh"},
            },
        )
        assert status == 201, second
        assert second["id"] == 2
        assert (second["state"], second["start"], second["display"]) == (None, None, None)

        # The same id replaces the message.
        status, replaced = await server.post(
            _path(station),
            {
                "id": 1,
                "priority": "AlwaysFront",
                "message": {"format": "ASCII", "content": "Defekt"},
            },
        )
        assert status == 201, replaced
        kept = await _messages(server, station)
        assert set(kept) == {1, 2}
        assert (kept[1]["priority"], kept[1]["message"]["content"]) == ("AlwaysFront", "Defekt")

        # Cleared: 204 and gone; the station does not know it: 404, and it goes all the same.
        assert (await _delete(server, station, 1))[0] == 204
        assert cp.calls("ClearDisplayMessage")[-1] == {"id": 1}
        assert set(await _messages(server, station)) == {2}
        cp.overrides["ClearDisplayMessage"] = {"status": "Unknown"}
        status, problem = await _delete(server, station, 2)
        assert status == 404, problem
        assert problem["station_status"] == "Unknown"
        assert await _messages(server, station) == {}

        # Through the raw command endpoint: kept as well.
        del cp.overrides["ClearDisplayMessage"]
        status, body = await server.command(
            station,
            "SetDisplayMessage",
            {"message": _info(7, "NormalCycle", "Hello", transactionId="TX-7")},
        )
        assert status == 200, body
        kept = await _messages(server, station)
        assert list(kept) == [7]
        assert kept[7]["transaction_id"] == "TX-7"
        status, body = await server.command(station, "ClearDisplayMessage", {"id": 7})
        assert status == 200, body
        assert await _messages(server, station) == {}

    changes = _changes(server, station)
    assert {"cause": "SetDisplayMessage", "set": [1], "removed": []} in changes
    assert {"cause": "ClearDisplayMessage", "set": [], "removed": [2]} in changes


@pytest.mark.parametrize(
    "refusal",
    [
        "NotSupportedMessageFormat",
        "Rejected",
        "NotSupportedPriority",
        "NotSupportedState",
        "UnknownTransaction",
    ],
)
async def test_a_refused_message_is_409_with_the_status_and_not_kept(
    server: Running, refusal: str
) -> None:
    station = f"CS-DM-{refusal}"
    async with charger2(server.ocpp_url, station) as cp:
        await call2(cp, "BootNotification", boot_payload())
        cp.overrides["SetDisplayMessage"] = {
            "status": refusal,
            "statusInfo": {"reasonCode": "Because"},
        }
        status, problem = await server.post(
            _path(station), {**WELCOME, "transaction_id": "TX-UNKNOWN"}
        )
        assert status == 409, problem
        assert problem["station_status"] == refusal
        assert problem["status_info"] == {"reasonCode": "Because"}
        assert problem["id"] == 1
        assert refusal in problem["detail"]
        assert await _messages(server, station) == {}
        assert _changes(server, station) == []


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_multi_part_report_replaces_what_it_covers(server: Running, version: str) -> None:
    station = f"CS-DM-REPORT-{version}"
    async with charger2(server.ocpp_url, station, version) as cp:
        await call2(cp, "BootNotification", boot_payload())
        for body in (
            {"id": 1, "priority": "NormalCycle", "message": {"format": "ASCII", "content": "a"}},
            {"id": 2, "priority": "AlwaysFront", "message": {"format": "ASCII", "content": "b"}},
        ):
            status, created = await server.post(_path(station), body)
            assert status == 201, created

        cp.overrides["GetDisplayMessages"] = {"status": "Accepted"}
        status, answer = await server.post(f"{_path(station)}/report", {"priority": "NormalCycle"})
        assert status == 202, answer
        request_id = answer["request_id"]
        assert cp.calls("GetDisplayMessages")[-1] == {
            "request_id": request_id,
            "priority": "NormalCycle",
        }
        await _report_part(cp, request_id, [_info(5, "NormalCycle", "five")], tbc=True)
        assert set(await _messages(server, station)) == {1, 2, 5}
        await _report_part(
            cp,
            request_id,
            [
                _info(
                    6, "NormalCycle", "six", state="Charging", startDateTime="2026-12-01T10:00:00Z"
                )
            ],
            tbc=False,
        )
        kept = await _messages(server, station)
        # Message 1 (NormalCycle) was not reported: gone; 2 (AlwaysFront) was not asked about.
        assert set(kept) == {2, 5, 6}
        assert (kept[5]["source"], kept[5]["request_id"]) == ("report", request_id)
        assert kept[6]["state"] == "Charging"
        assert kept[6]["start"] == "2026-12-01T10:00:00Z"
        assert kept[2]["source"] == "operator"
        status, report = await server.get(f"{_path(station)}/report")
        assert status == 200, report
        assert (report["request_id"], report["status"], report["parts"], report["removed"]) == (
            request_id,
            "complete",
            2,
            1,
        )
        assert report["criteria"] == {"priority": "NormalCycle"}

        # Unknown: the station has none of those ids, and they go.
        cp.overrides["GetDisplayMessages"] = {"status": "Unknown"}
        status, answer = await server.post(f"{_path(station)}/report", {"ids": [2, 5]})
        assert status == 200, answer
        assert answer["status"] == "Unknown"
        assert set(await _messages(server, station)) == {6}


async def test_callerror_no_answer_offline_bad_bodies_and_1_6(start_server: StartServer) -> None:
    server = await start_server(command_timeout=10 * UNIT)
    station = "CS-DM-RAW"
    status, problem = await server.get(_path("NOBODY"))
    assert status == 404, problem
    await server.put(f"/api/v1/stations/{station}", {})
    status, problem = await server.post(_path(station), WELCOME)
    assert status == 404, problem
    assert "not connected" in problem["detail"]
    status, problem = await server.get(f"{_path(station)}/report")
    assert status == 404, problem

    charger = await RawCharger.connect(f"{server.ocpp_url}/{station}", subprotocols=["ocpp2.0.1"])
    never = asyncio.Event()
    try:
        assert (await charger.call("BootNotification", BOOT_V2))["status"] == "Accepted"

        async def refuse(payload: dict[str, Any]) -> dict[str, Any]:
            raise CallErrorReply("", "NotSupported", "no display")

        charger.handlers["SetDisplayMessage"] = refuse
        status, problem = await server.post(_path(station), WELCOME)
        assert status == 502, problem

        async def silent(payload: dict[str, Any]) -> dict[str, Any]:
            await never.wait()
            return {}

        charger.handlers["SetDisplayMessage"] = silent
        charger.handlers["ClearDisplayMessage"] = silent
        status, problem = await server.post(_path(station), WELCOME)
        assert status == 504, problem
        assert await _messages(server, station) == {}
        status, problem = await _delete(server, station, 1)
        assert status == 504, problem

        sent = len(charger.received_calls)
        bodies: list[dict[str, Any]] = [
            {},
            {"priority": "InFront"},
            {**WELCOME, "priority": "Sometimes"},
            {**WELCOME, "state": "Asleep"},
            {**WELCOME, "message": {"format": "ASCII"}},
            {**WELCOME, "message": {"format": "Morse", "content": "..."}},
            {**WELCOME, "message": {"format": "ASCII", "content": "x" * 1025}},
            {**WELCOME, "start": "2099-12-24T08:00:00"},
            {**WELCOME, "start": "tomorrow"},
            {**WELCOME, "end": "2099-12-24T06:00:00Z"},
            {**WELCOME, "id": -1},
            {**WELCOME, "colour": "red"},
            {**WELCOME, "display": {"name": "Display"}},
            {**WELCOME, "transaction_id": "x" * 37},
        ]
        for bad in bodies:
            status, problem = await server.post(_path(station), bad)
            assert status == 400, (bad, problem)
        status, problem = await _delete(server, station, "one")
        assert status == 400, problem
        status, problem = await server.post(f"{_path(station)}/report", {"state": "Asleep"})
        assert status == 400, problem
        assert len(charger.received_calls) == sent
        # A 2.0.1 station takes 512 characters: the schema refuses more before sending.
        long = {**WELCOME, "message": {"format": "ASCII", "content": "x" * 600}}
        status, problem = await server.post(_path(station), long)
        assert status == 400, problem
        assert len(charger.received_calls) == sent
    finally:
        never.set()
        await charger.close()

    station16 = "CP-DM-16"
    async with charger16(server.ocpp_url, station16) as cp16:
        boot = await cp16.call(
            call16.BootNotification(charge_point_model="M", charge_point_vendor="V")
        )
        assert boot.status == "Accepted"
        for path, payload in ((_path(station16), WELCOME), (f"{_path(station16)}/report", {})):
            status, problem = await server.post(path, payload)
            assert status == 409, (path, problem)
            assert "OCPP 1.6" in problem["detail"]
        status, problem = await _delete(server, station16, 1)
        assert status == 409, problem
        status, page = await server.get(_path(station16))
        assert (status, page) == (200, {"items": [], "next": None})


async def test_what_only_2_1_has(server: Running) -> None:
    extra = {
        **WELCOME,
        "state": "Suspended",
        "message": {"format": "QRCODE", "content": "https://pay.example.com/CS-1"},
        "message_extra": [{"format": "ASCII", "language": "en", "content": "Scan to pay"}],
    }
    async with charger2(server.ocpp_url, "CS-DM-21", "ocpp2.1") as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, created = await server.post(_path("CS-DM-21"), extra)
        assert status == 201, created
        assert created["state"] == "Suspended"
        assert created["message"]["format"] == "QRCODE"
        assert created["message_extra"] == [
            {"format": "ASCII", "language": "en", "content": "Scan to pay"}
        ]
        assert cp.calls("SetDisplayMessage")[-1]["message"]["message_extra"] == [
            {"format": "ASCII", "language": "en", "content": "Scan to pay"}
        ]
        cp.overrides["SetDisplayMessage"] = {"status": "LanguageNotSupported"}
        status, problem = await server.post(_path("CS-DM-21"), WELCOME)
        assert status == 409, problem
        assert problem["station_status"] == "LanguageNotSupported"
        # 2.1 may refuse to clear a message: it stays.
        cp.overrides["ClearDisplayMessage"] = {"status": "Rejected"}
        status, problem = await _delete(server, "CS-DM-21", created["id"])
        assert status == 409, problem
        assert set(await _messages(server, "CS-DM-21")) == {created["id"]}
    async with charger2(server.ocpp_url, "CS-DM-201") as cp:
        await call2(cp, "BootNotification", boot_payload())
        # Not in 2.0.1: refused by its schema before anything is sent.
        status, problem = await server.post(_path("CS-DM-201"), extra)
        assert status == 400, problem
        assert cp.calls("SetDisplayMessage") == []


async def test_messages_sent_at_once_without_an_id_get_different_ids(server: Running) -> None:
    """The second request chooses its id while the first is still at the station: with the same
    id the station would replace the first message (2.0.1 O06), and both would be answered 201."""
    station = "CS-DM-AT-ONCE"
    charger = await RawCharger.connect(f"{server.ocpp_url}/{station}", subprotocols=["ocpp2.0.1"])
    release = asyncio.Event()
    shown: dict[int, str] = {}
    try:
        assert (await charger.call("BootNotification", BOOT_V2))["status"] == "Accepted"

        async def show(payload: dict[str, Any]) -> dict[str, Any]:
            if not shown:
                await release.wait()
            shown[payload["message"]["id"]] = payload["message"]["message"]["content"]
            return {"status": "Accepted"}

        charger.handlers["SetDisplayMessage"] = show

        def body(content: str) -> dict[str, Any]:
            return {"priority": "NormalCycle", "message": {"format": "ASCII", "content": content}}

        def queued() -> int:
            events: list[Event] = server.node.events.recent()
            return sum(
                1
                for e in events
                if e.type == "command.sent"
                and e.station_id == station
                and e.data["action"] == "SetDisplayMessage"
            )

        first = asyncio.create_task(server.post(_path(station), body("first")))
        await eventually(lambda: queued() == 1, what="the first message sent")
        second = asyncio.create_task(server.post(_path(station), body("second")))
        await eventually(lambda: queued() == 2, what="the second message queued")
        release.set()
        (status1, one), (status2, two) = await asyncio.gather(first, second)
        assert (status1, status2) == (201, 201), (one, two)
        assert {one["id"], two["id"]} == {1, 2}
        assert shown == {one["id"]: "first", two["id"]: "second"}
        kept = await _messages(server, station)
        assert {i: m["message"]["content"] for i, m in kept.items()} == shown
    finally:
        release.set()
        await charger.close()


async def test_an_id_out_of_range_is_refused_and_the_station_goes_on(server: Running) -> None:
    """The schemas leave integers unbounded; the store's columns are 32-bit."""
    station = "CS-DM-HUGE"
    async with charger2(server.ocpp_url, station) as cp:
        await call2(cp, "BootNotification", boot_payload())
        for request_id, message_id in ((1, 2**31), (2**31, 1)):
            with pytest.raises(PropertyConstraintViolationError):
                await _report_part(
                    cp, request_id, [_info(message_id, "NormalCycle", "big")], tbc=False
                )
        await _report_part(cp, 1, [_info(4, "NormalCycle", "fine")], tbc=False)
        assert set(await _messages(server, station)) == {4}
        # The highest id there is, kept: voltmesh has none left to choose above it.
        highest = {"priority": "NormalCycle", "message": {"format": "ASCII", "content": "top"}}
        status, created = await server.post(_path(station), {**highest, "id": 2**31 - 1})
        assert status == 201, created
        sent = len(cp.calls("SetDisplayMessage"))
        status, problem = await server.post(_path(station), highest)
        assert status == 409, problem
        assert "give an id" in problem["detail"]
        assert len(cp.calls("SetDisplayMessage")) == sent


async def test_messages_the_station_removes_on_its_own_are_not_listed(server: Running) -> None:
    """A station removes a message past its end, or set for a transaction that has ended (2.0.1
    MessageInfoType endDateTime, transactionId): no longer listed, and the rows go once the
    next message is set."""
    station = "CS-DM-ENDED"
    async with charger2(server.ocpp_url, station) as cp:
        await call2(cp, "BootNotification", boot_payload())
        started = transaction_event(
            "Started",
            0,
            "TX-DM",
            minutes=0,
            trigger="Authorized",
            meter=[energy(1000, 0, "Transaction.Begin")],
            evse={"id": 1, "connectorId": 1},
        )
        await call2(cp, "TransactionEvent", started)

        def ascii_message(message_id: int, content: str, **fields: Any) -> dict[str, Any]:
            return {
                "id": message_id,
                "priority": "NormalCycle",
                "message": {"format": "ASCII", "content": content},
                **fields,
            }

        for body in (
            ascii_message(1, "during TX-DM", transaction_id="TX-DM"),
            ascii_message(2, "during another", transaction_id="TX-OTHER"),
            ascii_message(3, "over", end="2020-01-01T00:00:00Z"),
            ascii_message(4, "until 2099", end="2099-01-01T00:00:00Z"),
            ascii_message(5, "always"),
        ):
            status, created = await server.post(_path(station), body)
            assert status == 201, created
        assert set(await _messages(server, station)) == {1, 2, 4, 5}

        ended = transaction_event(
            "Ended",
            1,
            "TX-DM",
            minutes=5,
            trigger="EVDeparted",
            meter=[energy(2000, 5, "Transaction.End")],
            info={"stoppedReason": "EVDisconnected"},
        )
        await call2(cp, "TransactionEvent", ended)
        assert set(await _messages(server, station)) == {2, 4, 5}

        status, created = await server.post(_path(station), ascii_message(6, "next"))
        assert status == 201, created
        async with server.node.engine.connect() as conn:
            rows = await conn.execute(
                select(station_display_messages.c.message_id).where(
                    station_display_messages.c.station_id == station
                )
            )
            assert {r[0] for r in rows} == {2, 4, 5, 6}
