"""Reservations end to end on OCPP 1.6 and 2.0.1 with the `ocpp` package's chargers: ReserveNow
from the REST resource and from the raw command endpoint, CancelReservation, expiry, a transaction
that uses the reservation, 2.x ReservationStatusUpdate, and the station's refusals, CALLERRORs and
silence."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import call as call201

from csms.station.services import UnknownStationPolicy
from tests.ocpp_charger import Charger16
from tests.ocpp_charger2 import Charger201, charger201
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT, eventually


class Reserving16(Charger16):
    """A 1.6 charger of the Reservation profile: answers ReserveNow with ``reserve_status`` and
    CancelReservation with ``cancel_status``; ``silent`` makes it never answer ReserveNow."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reserve_status = "Accepted"
        self.cancel_status = "Accepted"
        self.silent = False

    @on("ReserveNow")
    async def reserve_now(self, **kwargs: Any) -> result16.ReserveNow:
        self._note("ReserveNow", **kwargs)
        if self.silent:
            await asyncio.Event().wait()
        return result16.ReserveNow(status=self.reserve_status)

    @on("CancelReservation")
    async def cancel_reservation(self, **kwargs: Any) -> result16.CancelReservation:
        self._note("CancelReservation", **kwargs)
        return result16.CancelReservation(status=self.cancel_status)


@contextlib.asynccontextmanager
async def reserving16(
    server: Running, station_id: str, cls: type[Charger16] = Reserving16
) -> AsyncIterator[Any]:
    """A booted 1.6 charger whose receive loop runs for the block."""
    async with websockets.connect(
        f"{server.ocpp_url}/{station_id}", subprotocols=["ocpp1.6"], open_timeout=100 * UNIT
    ) as ws:
        cp = cls(station_id, ws, response_timeout=200 * UNIT)
        loop = asyncio.create_task(cp.start())
        try:
            await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop


@contextlib.asynccontextmanager
async def booted201(server: Running, station_id: str) -> AsyncIterator[Charger201]:
    async with charger201(server.ocpp_url, station_id) as cp:
        await cp.call(
            call201.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
        )
        yield cp


async def delete_json(server: Running, path: str) -> tuple[int, Any]:
    async with server.http.delete(server.api_url + path) as r:
        return r.status, await r.json(content_type=None)


def soon(units: float = 2000) -> str:
    return (datetime.now(UTC) + timedelta(seconds=units * UNIT)).isoformat()


def event_types(server: Running, station_id: str) -> list[str]:
    return [
        e.type
        for e in server.node.events.recent()
        if e.station_id == station_id and e.type.startswith("reservation.")
    ]


async def reservation_status(server: Running, reservation_id: int) -> str:
    status, body = await server.get(f"/api/v1/reservations/{reservation_id}")
    assert status == 200, body
    return str(body["status"])


async def test_v16_reserve_list_and_cancel(server_on_each_db: Running) -> None:
    server = server_on_each_db
    async with reserving16(server, "RSV-16") as cp:
        for connector, state in ((1, "Reserved"), (2, "Available")):
            await cp.call(
                call16.StatusNotification(
                    connector_id=connector, error_code="NoError", status=state
                )
            )
        expires = soon()
        status, body = await server.post(
            "/api/v1/stations/RSV-16/reservations",
            {"id_token": "tag-1", "expires_at": expires, "connector_id": 1, "group_id_token": "G"},
        )
        assert status == 201, body
        sent = cp.received[-1]
        assert sent[0] == "ReserveNow"
        assert sent[1]["connector_id"] == 1 and sent[1]["id_tag"] == "tag-1"
        assert sent[1]["parent_id_tag"] == "G"
        assert sent[1]["reservation_id"] == body["id"]
        assert body["status"] == "Active" and body["station_id"] == "RSV-16"
        assert body["id_token"] == "TAG-1" and body["evse_id"] == 1 and body["connector_id"] == 1
        assert body["connectors"] == [{"evse_id": 1, "connector_id": 1, "status": "Reserved"}]
        # Any connector (connectorId 0): every connector is shown.
        status, anywhere = await server.post(
            "/api/v1/stations/RSV-16/reservations", {"id_token": "tag-9", "expires_at": expires}
        )
        assert status == 201 and anywhere["connector_id"] == 0 and anywhere["evse_id"] is None
        assert [c["evse_id"] for c in anywhere["connectors"]] == [1, 2]
        status, page = await server.get("/api/v1/reservations?station_id=RSV-16&status=Active")
        assert status == 200 and [r["id"] for r in page["items"]] == [anywhere["id"], body["id"]]
        status, page = await server.get("/api/v1/reservations?station_id=RSV-16&status=Used")
        assert status == 200 and page["items"] == []

        assert await server.delete(f"/api/v1/reservations/{body['id']}") == 200
        assert cp.received[-1] == ("CancelReservation", {"reservation_id": body["id"]})
        assert await reservation_status(server, body["id"]) == "Cancelled"
        # Ended: cancelling again is a conflict, and nothing is sent.
        status, problem = await delete_json(server, f"/api/v1/reservations/{body['id']}")
        assert status == 409 and problem["reservation_status"] == "Cancelled"
    assert event_types(server, "RSV-16") == [
        "reservation.created",
        "reservation.created",
        "reservation.cancelled",
    ]


async def test_v201_reserve_and_cancel(server: Running) -> None:
    async with booted201(server, "RSV-2") as cp:
        status, body = await server.post(
            "/api/v1/stations/RSV-2/reservations",
            {
                "id_token": "tag-2",
                "expires_at": soon(),
                "evse_id": 1,
                "connector_type": "cType2",
                "group_id_token": "GROUP",
            },
        )
        assert status == 201, body
        (sent,) = cp.calls("ReserveNow")
        assert sent["id"] == body["id"]
        assert sent["id_token"] == {"id_token": "tag-2", "type": "ISO14443"}
        assert sent["evse_id"] == 1 and sent["connector_type"] == "cType2"
        assert sent["group_id_token"] == {"id_token": "GROUP", "type": "Central"}
        assert body["connector_type"] == "cType2" and body["group_id_token"] == "GROUP"
        assert body["connector_id"] is None and body["protocol"] == "ocpp2.0.1"

        # 1.6 connectors do not exist in 2.x: refused before anything is sent.
        status, problem = await server.post(
            "/api/v1/stations/RSV-2/reservations",
            {"id_token": "tag-2", "expires_at": soon(), "connector_id": 2},
        )
        assert status == 400 and "connector_id" in problem["detail"]

        cp.overrides["CancelReservation"] = {"status": "Rejected"}
        status, problem = await delete_json(server, f"/api/v1/reservations/{body['id']}")
        assert status == 409 and problem["reservation_status"] == "Rejected"
        assert await reservation_status(server, body["id"]) == "Active"
        del cp.overrides["CancelReservation"]
        assert await server.delete(f"/api/v1/reservations/{body['id']}") == 200
        assert await reservation_status(server, body["id"]) == "Cancelled"


@pytest.mark.parametrize("answer", ["Occupied", "Faulted", "Rejected", "Unavailable"])
async def test_v16_refusals_are_conflicts_and_not_kept(server: Running, answer: str) -> None:
    async with reserving16(server, "RSV-NO") as cp:
        cp.reserve_status = answer
        status, problem = await server.post(
            "/api/v1/stations/RSV-NO/reservations", {"id_token": "T", "expires_at": soon()}
        )
        assert status == 409, problem
        assert problem["reservation_status"] == answer
        assert cp.received[-1][1]["connector_id"] == 0  # any connector
    status, page = await server.get("/api/v1/reservations?station_id=RSV-NO")
    assert status == 200 and page["items"] == []
    assert event_types(server, "RSV-NO") == []


async def test_v201_refused_reservation(server: Running) -> None:
    async with booted201(server, "RSV-2NO") as cp:
        cp.overrides["ReserveNow"] = {"status": "Occupied"}
        status, problem = await server.post(
            "/api/v1/stations/RSV-2NO/reservations",
            {"id_token": "T", "expires_at": soon(), "evse_id": 1},
        )
        assert status == 409 and problem["reservation_status"] == "Occupied"


async def test_not_supported_no_answer_and_bad_requests(start_server: StartServer) -> None:
    server = await start_server(command_timeout=10 * UNIT)
    path = "/api/v1/stations/RSV-ERR/reservations"
    status, problem = await server.post(path, {"id_token": "T", "expires_at": soon()})
    assert status == 404  # unknown station
    # A 1.6 charger without the Reservation profile answers with a CALLERROR.
    async with reserving16(server, "RSV-ERR", cls=Charger16):
        status, problem = await server.post(path, {"id_token": "T", "expires_at": soon()})
        assert status == 502 and problem["code"] == "NotImplemented"
        for body, word in [
            ({"expires_at": soon()}, "id_token"),
            ({"id_token": "T"}, "expires_at"),
            ({"id_token": "T", "expires_at": "tomorrow"}, "expires_at"),
            ({"id_token": "T", "expires_at": "2020-01-01T00:00:00Z"}, "future"),
            ({"id_token": "T", "expires_at": soon(), "evse_id": -1}, "evse_id"),
            ({"id_token": "T", "expires_at": soon(), "connector_id": 2**31}, "connector_id"),
            ({"id_token": "T", "expires_at": soon(), "connector_type": "cType2"}, "2.x"),
            ({"id_token": "T", "expires_at": soon(), "colour": "red"}, "colour"),
            ({"id_token": "T" * 21, "expires_at": soon()}, "idTag"),
        ]:
            status, problem = await server.post(path, body)
            assert status == 400, (body, problem)
            assert word in problem["detail"], (body, problem)
    async with reserving16(server, "RSV-ERR") as cp:
        cp.silent = True
        status, problem = await server.post(path, {"id_token": "T", "expires_at": soon()})
        assert status == 504
    status, page = await server.get("/api/v1/reservations?station_id=RSV-ERR")
    assert page["items"] == []
    status, problem = await server.get("/api/v1/reservations?status=Sideways")
    assert status == 400
    status, problem = await server.get("/api/v1/reservations?statoin_id=X")
    assert status == 400
    assert (await server.get("/api/v1/reservations/999999"))[0] == 404
    assert (await server.get("/api/v1/reservations/abc"))[0] == 404


async def test_expiry_is_shown_at_once_and_announced(server: Running) -> None:
    async with reserving16(server, "RSV-EXP"):
        expires = datetime.now(UTC) + timedelta(seconds=10 * UNIT)
        status, body = await server.post(
            "/api/v1/stations/RSV-EXP/reservations",
            {"id_token": "T", "expires_at": expires.isoformat(), "connector_id": 1},
        )
        assert status == 201 and body["status"] == "Active"

        async def expired() -> bool:
            return await reservation_status(server, body["id"]) == "Expired"

        await eventually(expired, what="the reservation expired")
        await eventually(
            lambda: "reservation.expired" in event_types(server, "RSV-EXP"),
            what="reservation.expired published",
        )
        status, problem = await delete_json(server, f"/api/v1/reservations/{body['id']}")
        assert status == 409 and problem["reservation_status"] == "Expired"


async def test_v16_transaction_uses_the_reservation(server: Running) -> None:
    await server.put("/api/v1/id-tags/USER-1", {"status": "Accepted"})
    async with reserving16(server, "RSV-USE") as cp:
        status, body = await server.post(
            "/api/v1/stations/RSV-USE/reservations",
            {"id_token": "USER-1", "expires_at": soon(), "connector_id": 1},
        )
        assert status == 201
        started = await cp.call(
            call16.StartTransaction(
                connector_id=1,
                id_tag="USER-1",
                meter_start=0,
                timestamp=datetime.now(UTC).isoformat(),
                reservation_id=body["id"],
            )
        )
        status, used = await server.get(f"/api/v1/reservations/{body['id']}")
        assert used["status"] == "Used"
        assert used["transaction_id"] == str(started.transaction_id)
        await eventually(
            lambda: "reservation.used" in event_types(server, "RSV-USE"),
            what="reservation.used published",
        )
        status, page = await server.get("/api/v1/reservations?station_id=RSV-USE&status=Used")
        assert [r["id"] for r in page["items"]] == [body["id"]]


async def test_v16_a_start_refused_does_not_use_the_reservation(
    server_on_each_db: Running,
) -> None:
    """A StartTransaction voltmesh answered Expired is stored closed (refused): the driver never
    charged, so the reservation stays Active, also after the station's own stop of it; the
    start accepted later uses it."""
    server = server_on_each_db
    await server.put("/api/v1/id-tags/TAG-1", {"status": "Accepted"})
    async with reserving16(server, "RSV-REF") as cp:
        status, body = await server.post(
            "/api/v1/stations/RSV-REF/reservations",
            {"id_token": "TAG-1", "expires_at": soon(), "connector_id": 2},
        )
        assert status == 201, body
        status, _ = await server.put("/api/v1/id-tags/TAG-1", {"status": "Expired"})
        assert status == 200

        async def start(connector: int, reservation_id: int | None) -> Any:
            return await cp.call(
                call16.StartTransaction(
                    connector_id=connector,
                    id_tag="TAG-1",
                    meter_start=0,
                    timestamp=datetime.now(UTC).isoformat(),
                    reservation_id=reservation_id,
                )
            )

        refused = await start(2, body["id"])
        assert refused.id_tag_info["status"] == "Expired"
        # Without the reservation's id too (1.6 section 5.13's match by tag and connector).
        assert (await start(2, None)).id_tag_info["status"] == "Expired"
        status, kept = await server.get(f"/api/v1/reservations/{body['id']}")
        assert (kept["status"], kept["transaction_id"]) == ("Active", None)
        await cp.call(
            call16.StopTransaction(
                transaction_id=refused.transaction_id,
                meter_stop=0,
                timestamp=datetime.now(UTC).isoformat(),
                reason="DeAuthorized",
            )
        )
        assert await reservation_status(server, body["id"]) == "Active"
        status, page = await server.get("/api/v1/reservations?station_id=RSV-REF&status=Active")
        assert [r["id"] for r in page["items"]] == [body["id"]]
        assert "reservation.used" not in event_types(server, "RSV-REF")

        await server.put("/api/v1/id-tags/TAG-1", {"status": "Accepted"})
        accepted = await start(2, body["id"])
        assert accepted.id_tag_info["status"] == "Accepted"
        status, used = await server.get(f"/api/v1/reservations/{body['id']}")
        assert (used["status"], used["transaction_id"]) == (
            "Used",
            str(accepted.transaction_id),
        )


async def test_v16_a_start_for_the_reserved_tag_uses_it_without_its_id(
    server_on_each_db: Running,
) -> None:
    """1.6 section 5.13: a transaction for the reserved id tag on the reserved connector ends the
    reservation at the station, whether its StartTransaction names the reservation or not."""
    server = server_on_each_db
    await server.put("/api/v1/id-tags/USER-3", {"status": "Accepted"})
    await server.put("/api/v1/id-tags/OTHER", {"status": "Accepted"})
    async with reserving16(server, "RSV-IMP") as cp:
        ids = {}
        for connector in (1, 2):
            status, body = await server.post(
                "/api/v1/stations/RSV-IMP/reservations",
                {"id_token": "USER-3", "expires_at": soon(), "connector_id": connector},
            )
            assert status == 201
            ids[connector] = body["id"]

        async def start(connector: int, id_tag: str) -> str:
            started = await cp.call(
                call16.StartTransaction(
                    connector_id=connector,
                    id_tag=id_tag,
                    meter_start=0,
                    timestamp=datetime.now(UTC).isoformat(),
                )
            )
            return str(started.transaction_id)

        transaction_id = await start(2, "user-3")
        status, used = await server.get(f"/api/v1/reservations/{ids[2]}")
        assert used["status"] == "Used" and used["transaction_id"] == transaction_id
        # The tag on another connector, another tag on the reserved one: neither uses it.
        await start(1, "OTHER")
        assert await reservation_status(server, ids[1]) == "Active"


async def test_v201_transaction_uses_the_reservation_and_status_updates(
    server_on_each_db: Running,
) -> None:
    server = server_on_each_db
    async with booted201(server, "RSV-2USE") as cp:
        ids = []
        for _ in range(3):
            status, body = await server.post(
                "/api/v1/stations/RSV-2USE/reservations",
                {"id_token": "USER-2", "expires_at": soon(), "evse_id": 1},
            )
            assert status == 201
            ids.append(body["id"])
        used, removed, expired = ids
        await cp.call(
            call201.TransactionEvent(
                event_type="Started",
                timestamp=datetime.now(UTC).isoformat(),
                trigger_reason="Authorized",
                seq_no=0,
                transaction_info={"transaction_id": "TX-R"},
                evse={"id": 1, "connector_id": 1},
                reservation_id=used,
            )
        )
        await cp.call(
            call201.ReservationStatusUpdate(
                reservation_id=removed, reservation_update_status="Removed"
            )
        )
        await cp.call(
            call201.ReservationStatusUpdate(
                reservation_id=expired, reservation_update_status="Expired"
            )
        )
        status, body = await server.get(f"/api/v1/reservations/{used}")
        assert body["status"] == "Used" and body["transaction_id"] == "RSV-2USE,TX-R"
        assert await reservation_status(server, removed) == "Removed"
        assert await reservation_status(server, expired) == "Expired"
        # The notifications are kept as station events too.
        status, events = await server.get(
            "/api/v1/stations/RSV-2USE/events?type=ReservationStatusUpdate"
        )
        assert len(events["items"]) == 2
        await eventually(
            lambda: (
                sorted(event_types(server, "RSV-2USE"))
                == sorted(
                    ["reservation.created"] * 3
                    + ["reservation.removed", "reservation.expired", "reservation.used"]
                )
            ),
            what="the reservation events",
        )


async def test_raw_command_reservations_are_kept_and_ids_never_collide(
    server_on_each_db: Running,
) -> None:
    server = server_on_each_db
    # Accepted: a start that voltmesh refused would not use the reservation.
    await server.put("/api/v1/id-tags/raw", {"status": "Accepted"})
    async with reserving16(server, "RSV-RAW") as cp:
        status, body = await server.command(
            "RSV-RAW",
            "ReserveNow",
            {"connectorId": 2, "expiryDate": soon(), "idTag": "raw", "reservationId": 5000},
        )
        assert status == 200 and body["response"] == {"status": "Accepted"}
        status, kept = await server.get("/api/v1/reservations/5000")
        assert status == 200 and kept["station_id"] == "RSV-RAW" and kept["evse_id"] == 2
        status, body = await server.post(
            "/api/v1/stations/RSV-RAW/reservations", {"id_token": "T", "expires_at": soon()}
        )
        assert status == 201 and body["id"] > 5000
        # A raw CancelReservation is followed too.
        status, _ = await server.command("RSV-RAW", "CancelReservation", {"reservationId": 5000})
        assert await reservation_status(server, 5000) == "Cancelled"
        assert cp.received[-1][0] == "CancelReservation"

        # A transaction uses a raw reservation; its id given again replaces it at the station
        # (1.6 section 5.13): the new one is not used by the earlier transaction.
        raw = {"connectorId": 1, "expiryDate": soon(), "idTag": "raw", "reservationId": 6000}
        assert (await server.command("RSV-RAW", "ReserveNow", raw))[0] == 200
        started = await cp.call(
            call16.StartTransaction(
                connector_id=1,
                id_tag="raw",
                meter_start=0,
                timestamp=datetime.now(UTC).isoformat(),
                reservation_id=6000,
            )
        )
        assert started.id_tag_info["status"] == "Accepted"
        assert await reservation_status(server, 6000) == "Used"
        assert (await server.command("RSV-RAW", "ReserveNow", {**raw, "connectorId": 2}))[0] == 200
        status, again = await server.get("/api/v1/reservations/6000")
        assert again["status"] == "Active" and again["transaction_id"] is None, again
        assert again["evse_id"] == 2


async def test_a_reservation_outlives_a_reconnect(server: Running) -> None:
    async with reserving16(server, "RSV-BACK"):
        status, body = await server.post(
            "/api/v1/stations/RSV-BACK/reservations",
            {"id_token": "T", "expires_at": soon(), "connector_id": 1},
        )
        assert status == 201
    status, problem = await delete_json(server, f"/api/v1/reservations/{body['id']}")
    assert status == 404 and "not connected" in problem["detail"]
    assert await reservation_status(server, body["id"]) == "Active"
    async with reserving16(server, "RSV-BACK") as cp:
        assert await server.delete(f"/api/v1/reservations/{body['id']}") == 200
        assert cp.received[-1] == ("CancelReservation", {"reservation_id": body["id"]})
    assert await reservation_status(server, body["id"]) == "Cancelled"


async def test_roles(server: Running) -> None:
    viewer = await server.add_user("res-viewer", "viewer")
    async with server.client(viewer) as http:
        async with http.get(server.api_url + "/api/v1/reservations") as r:
            assert r.status == 200
        async with http.post(
            server.api_url + "/api/v1/stations/X/reservations",
            json={"id_token": "T", "expires_at": soon()},
        ) as r:
            assert r.status == 403


async def test_a_station_not_accepted_gets_no_reservation(start_server: StartServer) -> None:
    server = await start_server(unknown_stations=UnknownStationPolicy.PENDING)
    async with reserving16(server, "RSV-PEND") as cp:
        status, problem = await server.post(
            "/api/v1/stations/RSV-PEND/reservations", {"id_token": "T", "expires_at": soon()}
        )
        assert status == 409 and "not accepted" in problem["detail"]
        assert [a for a, _ in cp.received if a == "ReserveNow"] == []


async def test_v16_faulted_or_unavailable_connector_removes_its_reservations(
    server: Running,
) -> None:
    """1.6 section 5.13: the station ends them and says nothing; a 2.x station says so itself
    (ReservationStatusUpdate), so its reservations wait for that."""
    async with reserving16(server, "RSV-FLT") as cp, booted201(server, "RSV-FLT2") as cp2:
        ids = {}
        for name, body in [
            ("connector-1", {"connector_id": 1}),
            ("connector-2", {"connector_id": 2}),
            ("any", {}),
        ]:
            status, made = await server.post(
                "/api/v1/stations/RSV-FLT/reservations",
                {"id_token": "T", "expires_at": soon(), **body},
            )
            assert status == 201, made
            ids[name] = made["id"]
        status, v2 = await server.post(
            "/api/v1/stations/RSV-FLT2/reservations",
            {"id_token": "T", "expires_at": soon(), "evse_id": 1},
        )
        assert status == 201
        await cp2.call(
            call201.StatusNotification(
                timestamp=datetime.now(UTC).isoformat(),
                connector_status="Faulted",
                evse_id=1,
                connector_id=1,
            )
        )
        await cp.call(
            call16.StatusNotification(connector_id=1, error_code="GroundFailure", status="Faulted")
        )

        async def removed(name: str) -> bool:
            return await reservation_status(server, ids[name]) == "Removed"

        await eventually(lambda: removed("connector-1"), what="connector 1's reservation removed")
        assert await reservation_status(server, ids["connector-2"]) == "Active"
        assert await reservation_status(server, ids["any"]) == "Active"
        # Handled in order: the 2.x station's Faulted EVSE came first and changed nothing.
        assert await reservation_status(server, v2["id"]) == "Active"

        await cp.call(
            call16.StatusNotification(connector_id=0, error_code="NoError", status="Unavailable")
        )
        await eventually(lambda: removed("any"), what="the station's reservations removed")
        assert await reservation_status(server, ids["connector-2"]) == "Removed"
    removals = [
        e.data
        for e in server.node.events.recent()
        if e.type == "reservation.removed" and e.station_id == "RSV-FLT"
    ]
    assert removals == [
        {"reservation_id": ids["connector-1"], "reason": "Faulted"},
        {"reservation_id": ids["connector-2"], "reason": "Unavailable"},
        {"reservation_id": ids["any"], "reason": "Unavailable"},
    ]
