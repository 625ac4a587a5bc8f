"""Local authorization lists end to end on OCPP 1.6 and 2.0.1 with the `ocpp` package's chargers:
the list built from the id tags through a station's filter, sent Full then Differential, kept in
sync when id tags change, checked when a station boots or reconnects, and the station's
VersionMismatch, Failed, NotSupported, CALLERRORs and silence."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import websockets
from ocpp.routing import on
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import call as call201

from csms.station.services import UnknownStationPolicy
from http_api.local_lists import station_deleted
from persistence import id_tokens
from persistence.records import IdTokenRecord, IdTokenStatus
from tests.ocpp_charger import Charger16
from tests.ocpp_charger2 import charger201
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT, eventually


class Listing16(Charger16):
    """A 1.6 charger of the Local Auth List Management profile: keeps what SendLocalList sends
    (``entries``, ``version``) unless ``send_status`` says otherwise; ``silent`` never answers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = 0
        self.entries: dict[str, dict[str, Any] | None] = {}
        self.send_status = "Accepted"
        self.silent = False

    @on("SendLocalList")
    async def send_local_list(self, **kwargs: Any) -> result16.SendLocalList:
        self._note("SendLocalList", **kwargs)
        if self.silent:
            await asyncio.Event().wait()
        if self.send_status != "Accepted":
            return result16.SendLocalList(status=self.send_status)
        if kwargs["update_type"] == "Full":
            self.entries = {}
        for item in kwargs.get("local_authorization_list") or []:
            if item.get("id_tag_info") is None:
                self.entries.pop(item["id_tag"], None)
            else:
                self.entries[item["id_tag"]] = item["id_tag_info"]
        self.version = kwargs["list_version"]
        return result16.SendLocalList(status="Accepted")

    @on("GetLocalListVersion")
    async def get_local_list_version(self, **kwargs: Any) -> result16.GetLocalListVersion:
        self._note("GetLocalListVersion", **kwargs)
        return result16.GetLocalListVersion(list_version=self.version)


@contextlib.asynccontextmanager
async def listing16(
    server: Running, station_id: str, cls: type[Charger16] = Listing16, state: Any = None
) -> AsyncIterator[Any]:
    """A booted 1.6 charger (with the list ``state`` of an earlier connection, if given)."""
    async with websockets.connect(
        f"{server.ocpp_url}/{station_id}", subprotocols=["ocpp1.6"], open_timeout=100 * UNIT
    ) as ws:
        cp = cls(station_id, ws, response_timeout=200 * UNIT)
        if state is not None:
            cp.version, cp.entries = state.version, state.entries
        loop = asyncio.create_task(cp.start())
        try:
            await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
            yield cp
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await loop


def sent(cp: Any, action: str = "SendLocalList") -> list[dict[str, Any]]:
    return [kwargs for name, kwargs in cp.received if name == action]


async def local_list(server: Running, station_id: str) -> dict[str, Any]:
    status, body = await server.get(f"/api/v1/stations/{station_id}/local-list")
    assert status == 200, body
    return dict(body)


async def put_tags(server: Running, tags: dict[str, dict[str, Any]]) -> None:
    for tag, body in tags.items():
        status, answer = await server.put(f"/api/v1/id-tags/{tag}", body)
        assert status in (200, 201), answer


TAGS = {
    "ALICE": {"status": "Accepted", "expiry_date": "2030-01-01T00:00:00.123456Z"},
    "BOB": {"status": "Blocked", "parent_id_tag": "FLEET"},
    "CAROL": {"status": "Accepted", "parent_id_tag": "FLEET"},
    "DAVE": {"status": "Accepted"},
}


async def test_v16_list_follows_filter_and_id_tags(server_on_each_db: Running) -> None:
    server = server_on_each_db
    await put_tags(server, TAGS)
    async with listing16(server, "LL-16") as cp:
        view = await local_list(server, "LL-16")
        assert view["filter"] is None and view["entries"] == [] and not view["dirty"]
        assert sent(cp) == []  # no filter: voltmesh leaves the station's list alone

        status, view = await server.put(
            "/api/v1/stations/LL-16/local-list", {"include": ["alice"], "groups": ["fleet"]}
        )
        assert status == 200, view
        assert view["filter"] == {"include": ["ALICE"], "groups": ["FLEET"]}
        # The loop sends it: the first update is Full (what the station held is unknown).
        await eventually(lambda: cp.version == 1, what="list version 1 at the station")
        first = sent(cp)[0]
        assert first["update_type"] == "Full" and first["list_version"] == 1
        assert cp.entries == {
            "ALICE": {"status": "Accepted", "expiry_date": "2030-01-01T00:00:00.123Z"},
            "BOB": {"status": "Blocked", "parent_id_tag": "FLEET"},
            "CAROL": {"status": "Accepted", "parent_id_tag": "FLEET"},
        }

        async def confirmed(version: int) -> dict[str, Any] | None:
            view = await local_list(server, "LL-16")
            return view if view["version_confirmed"] == version and not view["dirty"] else None

        view = await eventually(lambda: confirmed(1), what="version 1 confirmed")
        assert [e["id_tag"] for e in view["entries"]] == ["ALICE", "BOB", "CAROL"]
        assert view["last_sync"]["status"] == "Accepted"
        assert view["last_sync"]["update_type"] == "Full"

        # An id tag changes: a Differential update with that entry only.
        await put_tags(server, {"CAROL": {"status": "Blocked", "parent_id_tag": "FLEET"}})
        await eventually(lambda: cp.version == 2, what="list version 2 at the station")
        second = sent(cp)[1]
        assert second["update_type"] == "Differential"
        assert second["local_authorization_list"] == [
            {"id_tag": "CAROL", "id_tag_info": {"status": "Blocked", "parent_id_tag": "FLEET"}}
        ]
        # One leaves the group, one is deleted: both removed, in one update.
        await put_tags(server, {"BOB": {"status": "Blocked"}})
        assert await server.delete("/api/v1/id-tags/ALICE") == 204
        await eventually(lambda: set(cp.entries) == {"CAROL"}, what="BOB and ALICE removed")
        assert all(s["update_type"] == "Differential" for s in sent(cp)[1:])
        # A tag no list holds nor picks changes: nothing is sent.
        await eventually(lambda: confirmed(cp.version), what="the removals confirmed")
        count = len(sent(cp))
        await put_tags(server, {"DAVE": {"status": "Blocked"}})
        view = await local_list(server, "LL-16")
        assert not view["dirty"] and len(sent(cp)) == count
        # A tag the list holds changes in what the list does not carry, and a tag the filter
        # picks is too long for 1.6: the list is in sync without an update.
        await put_tags(
            server,
            {
                "CAROL": {"status": "Blocked", "parent_id_tag": "FLEET", "evse_ids": [1]},
                "FLEET-MEMBER-LONG-NAME-21": {"status": "Accepted", "parent_id_tag": "FLEET"},
            },
        )
        assert (await local_list(server, "LL-16"))["dirty"]
        await eventually(lambda: confirmed(cp.version), what="in sync again")
        assert len(sent(cp)) == count

        # Sync on demand answers the station's status.
        status, outcome = await server.post(
            "/api/v1/stations/LL-16/local-list/sync", {"full": True}
        )
        assert status == 200, outcome
        assert outcome["status"] == "Accepted" and outcome["update_type"] == "Full"
        assert outcome["entries"] == 1 and cp.version == outcome["version"]
        assert outcome["skipped"] == 1
    events = [
        e.data
        for e in server.node.events.recent()
        if e.type == "local_list.updated" and e.station_id == "LL-16"
    ]
    assert events and all(e["status"] == "Accepted" for e in events)
    assert events[-1]["version"] == outcome["version"]


async def test_v201_sync_version_mismatch_and_refusals(server: Running) -> None:
    await put_tags(
        server,
        {
            "T-1": {"status": "Accepted", "type": "eMAID", "evse_ids": [2]},
            "T-2": {"status": "Invalid"},
        },
    )
    path = "/api/v1/stations/LL-2/local-list"
    async with charger201(server.ocpp_url, "LL-2") as cp:
        await cp.call(
            call201.BootNotification(
                charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
            )
        )
        status, problem = await server.post(path + "/sync", {})
        assert status == 409 and "filter" in problem["detail"]
        # A filter that picks nothing: the station is sent an empty Full list.
        status, view = await server.put(path, {"include": "none"})
        assert status == 200
        await eventually(lambda: cp.calls("SendLocalList"), what="the empty list sent")
        assert cp.calls("SendLocalList")[0] == {"version_number": 1, "update_type": "Full"}

        await server.put(path, {"include": "all"})
        await eventually(lambda: cp.local_list_version == 2, what="version 2 at the station")
        items = cp.calls("SendLocalList")[1]["local_authorization_list"]
        assert {i["id_token"]["id_token"]: i["id_token"]["type"] for i in items} == {
            "T-1": "eMAID",
            "T-2": "ISO14443",
        }
        # Valid at EVSE 2 only: the station is told (2.0.1 IdTokenInfo.evseId).
        assert [i["id_token_info"].get("evse_id") for i in items] == [[2], None]

        async def held() -> list[Any] | None:
            view = await local_list(server, "LL-2")
            return view["entries"] if view["version_confirmed"] == 2 else None

        entries = await eventually(held, what="version 2 confirmed")
        assert [e["evse_ids"] for e in entries] == [[2], None]

        # VersionMismatch on a Differential update: a Full update follows at once.
        cp.overrides["SendLocalList"] = {"status": "VersionMismatch"}
        status, outcome = await server.post(path + "/sync", {"full": False})
        assert status == 200
        assert outcome["status"] == "VersionMismatch" and outcome["update_type"] == "Differential"
        assert outcome["full_update"]["update_type"] == "Full"
        assert outcome["full_update"]["status"] == "VersionMismatch"
        assert [c["update_type"] for c in cp.calls("SendLocalList")[-2:]] == [
            "Differential",
            "Full",
        ]
        cp.overrides["SendLocalList"] = {"status": "Failed"}
        status, outcome = await server.post(path + "/sync", {"full": True})
        assert status == 200 and outcome["status"] == "Failed"
        view = await local_list(server, "LL-2")
        assert view["last_sync"]["status"] == "Failed" and view["version_confirmed"] == 2
        del cp.overrides["SendLocalList"]
        status, outcome = await server.post(path + "/sync", {"full": True})
        assert outcome["status"] == "Accepted"
        assert cp.local_list_version == outcome["version"] > 2

        for bad in ({"full": "yes"}, {"fully": True}):
            status, problem = await server.post(path + "/sync", bad)
            assert status == 400, problem
        for bad in ({"include": "some"}, {"include": [1]}, {"groups": "G"}, {"other": 1}, []):
            status, problem = await server.put(path, bad)
            assert status == 400, (bad, problem)


async def test_v16_not_supported_is_left_alone(server: Running) -> None:
    await put_tags(server, {"GINA": {"status": "Accepted"}})
    async with listing16(server, "LL-NS-A") as unsupported, listing16(server, "LL-NS-B") as cp:
        unsupported.send_status = "NotSupported"
        await server.put("/api/v1/stations/LL-NS-A/local-list", {"include": "all"})

        async def refused() -> bool:
            view = await local_list(server, "LL-NS-A")
            return view["last_sync"] is not None and view["last_sync"]["status"] == "NotSupported"

        await eventually(refused, what="NotSupported kept")
        await server.put("/api/v1/stations/LL-NS-B/local-list", {"include": "all"})
        await eventually(lambda: cp.version == 1, what="the other station's list")
        # Both lists change; a round of the loop passes both (in station order): the supported
        # station gets its update, the other is not sent one again.
        await put_tags(server, {"HANK": {"status": "Accepted"}})
        assert (await local_list(server, "LL-NS-A"))["dirty"]
        await eventually(lambda: cp.version == 2, what="the change sent")
        assert len(sent(unsupported)) == 1
        # On demand it is still sent, and answered.
        status, outcome = await server.post("/api/v1/stations/LL-NS-A/local-list/sync", {})
        assert status == 200 and outcome["status"] == "NotSupported"


async def test_reconnect_with_a_dirty_list_and_a_reboot_that_lost_it(server: Running) -> None:
    await put_tags(server, {"ERIN": {"status": "Accepted"}})
    async with listing16(server, "LL-BACK") as cp:
        await server.put("/api/v1/stations/LL-BACK/local-list", {"include": "all"})
        await eventually(lambda: cp.version == 1, what="the first list")
        held = cp
    # Changed while the station is away: it gets the change when it comes back.
    await put_tags(server, {"FRANK": {"status": "Accepted"}})
    assert (await local_list(server, "LL-BACK"))["dirty"]
    async with listing16(server, "LL-BACK", state=held) as cp:
        await eventually(lambda: cp.version == 2, what="the change after the reconnect")
        assert sent(cp, "GetLocalListVersion")
        update = sent(cp)[-1]
        assert update["update_type"] == "Differential"
        assert [i["id_tag"] for i in update["local_authorization_list"]] == ["FRANK"]
    # A station that lost its list (a new controller board) reports version 0: a Full update.
    async with listing16(server, "LL-BACK") as cp:
        await eventually(lambda: cp.version == 3, what="a full list after the reboot")
        assert sent(cp)[-1]["update_type"] == "Full"
        assert set(cp.entries) == {"ERIN", "FRANK"}


async def test_no_answer_callerror_and_unsupported(start_server: StartServer) -> None:
    server = await start_server(command_timeout=10 * UNIT)
    path = "/api/v1/stations/LL-ERR/local-list"
    assert (await server.get(path))[0] == 404
    async with listing16(server, "LL-ERR", cls=Charger16):
        await server.put(path, {"include": "all"})
        # No Local Auth List Management: the station answers with a CALLERROR.
        status, problem = await server.post(path + "/sync", {"full": True})
        assert status == 502 and problem["code"] == "NotImplemented"
        view = await local_list(server, "LL-ERR")
        assert "NotImplemented" in view["last_error"]
    async with listing16(server, "LL-ERR") as cp:
        cp.silent = True
        status, problem = await server.post(path + "/sync", {"full": True})
        assert status == 504
        view = await local_list(server, "LL-ERR")
        assert view["last_error"] and view["version_confirmed"] is None and view["dirty"]
    status, problem = await server.post(path + "/sync", {})
    assert status == 404 and "not connected" in problem["detail"]


async def test_raw_command_updates_are_followed(server: Running) -> None:
    async with listing16(server, "LL-RAW") as cp:
        status, body = await server.command(
            "LL-RAW",
            "SendLocalList",
            {
                "listVersion": 7,
                "updateType": "Full",
                "localAuthorizationList": [{"idTag": "x", "idTagInfo": {"status": "Accepted"}}],
            },
        )
        assert status == 200 and cp.version == 7
        status, body = await server.command("LL-RAW", "GetLocalListVersion", {})
        assert body["response"] == {"listVersion": 7}
        view = await local_list(server, "LL-RAW")
        assert view["filter"] is None and view["version_confirmed"] == 7
        assert view["version_reported"] == 7
        assert [e["id_tag"] for e in view["entries"]] == ["X"]
        # Versions voltmesh hands out follow the station's.
        await server.put("/api/v1/stations/LL-RAW/local-list", {"include": "none"})
        await eventually(lambda: cp.version == 8, what="the next version after the raw one")

        async def confirmed_8() -> bool:
            return (await local_list(server, "LL-RAW"))["version_confirmed"] == 8

        await eventually(confirmed_8, what="version 8 confirmed")

        # voltmesh stops building the list: the station keeps it, raw updates are followed.
        async with server.http.delete(server.api_url + "/api/v1/stations/LL-RAW/local-list") as r:
            assert r.status == 200
            view = await r.json()
        assert view["filter"] is None and not view["dirty"] and view["version_confirmed"] == 8
        status, problem = await server.post("/api/v1/stations/LL-RAW/local-list/sync", {})
        assert status == 409 and "filter" in problem["detail"]
        status, body = await server.command(
            "LL-RAW", "SendLocalList", {"listVersion": 9, "updateType": "Full"}
        )
        assert status == 200
        view = await local_list(server, "LL-RAW")
        assert view["version_confirmed"] == 9 and view["entries"] == []


async def test_roles(server: Running) -> None:
    viewer = await server.add_user("ll-viewer", "viewer")
    operator = await server.add_user("ll-operator", "operator")
    url = server.api_url + "/api/v1/stations/X/local-list"
    async with server.client(viewer) as http, http.put(url, json={"include": "all"}) as r:
        assert r.status == 403
    async with server.client(operator) as http:
        async with http.put(url, json={"include": "all"}) as r:
            assert r.status == 403
        async with http.delete(url) as r:
            assert r.status == 403
        async with http.post(url + "/sync", json={}) as r:
            assert r.status == 404


async def test_a_long_list_goes_in_messages_the_station_can_take(server: Running) -> None:
    await put_tags(server, {f"M-{n}": {"status": "Accepted"} for n in range(5)})
    async with listing16(server, "LL-LONG") as cp:
        cp.configuration["SendLocalListMaxLength"] = "2"
        status, _ = await server.command("LL-LONG", "GetConfiguration", {})
        assert status == 200
        await server.put("/api/v1/stations/LL-LONG/local-list", {"include": "all"})

        async def in_sync() -> dict[str, Any] | None:
            view = await local_list(server, "LL-LONG")
            return view if view["version_confirmed"] and not view["dirty"] else None

        view = await eventually(in_sync, what="the list sent")
        updates = [
            (s["update_type"], s["list_version"], len(s["local_authorization_list"]))
            for s in sent(cp)
        ]
        assert updates == [("Full", 1, 2), ("Differential", 2, 2), ("Differential", 3, 1)]
        assert view["version_confirmed"] == 3 and len(view["entries"]) == 5
        assert set(cp.entries) == {f"M-{n}" for n in range(5)}
        # On demand, the same three messages.
        status, outcome = await server.post(
            "/api/v1/stations/LL-LONG/local-list/sync", {"full": True}
        )
        assert status == 200, outcome
        assert (outcome["status"], outcome["messages"], outcome["entries"]) == ("Accepted", 3, 5)
        assert outcome["version"] == cp.version == 6


async def test_v201_a_rebooted_station_gets_its_list_back(server: Running) -> None:
    await put_tags(server, {"IVY": {"status": "Accepted", "type": "eMAID"}})
    boot = call201.BootNotification(
        charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
    )
    async with charger201(server.ocpp_url, "LL-2B") as cp:
        await cp.call(boot)
        status, _ = await server.put("/api/v1/stations/LL-2B/local-list", {"include": "all"})
        assert status == 200
        await eventually(lambda: cp.local_list_version == 1, what="the first list")
    await put_tags(server, {"JACK": {"status": "Accepted"}})
    # A new charger object: it lost its list (version 0), so the change alone would not do.
    async with charger201(server.ocpp_url, "LL-2B") as cp:
        await cp.call(boot)
        await eventually(lambda: cp.local_list_version == 2, what="the list after the reboot")
        assert cp.calls("GetLocalListVersion")
        (update,) = cp.calls("SendLocalList")
        assert update["update_type"] == "Full"
        assert sorted(i["id_token"]["id_token"] for i in update["local_authorization_list"]) == [
            "IVY",
            "JACK",
        ]

        async def confirmed() -> bool:
            view = await local_list(server, "LL-2B")
            return view["version_confirmed"] == 2 and not view["dirty"]

        await eventually(confirmed, what="version 2 confirmed")
    assert (await local_list(server, "LL-2B"))["version_reported"] == 0


async def test_a_station_not_accepted_gets_no_list(start_server: StartServer) -> None:
    server = await start_server(unknown_stations=UnknownStationPolicy.PENDING)
    await put_tags(server, {"KIM": {"status": "Accepted"}})
    async with listing16(server, "LL-A-PEND") as pending, listing16(server, "LL-OK") as cp:
        await server.put("/api/v1/stations/LL-OK", {})  # registered: accepted on its next boot
        await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        for station in ("LL-A-PEND", "LL-OK"):
            status, _ = await server.put(
                f"/api/v1/stations/{station}/local-list", {"include": "all"}
            )
            assert status == 200
        status, problem = await server.post("/api/v1/stations/LL-A-PEND/local-list/sync", {})
        assert status == 409 and "not accepted" in problem["detail"]
        # A round of the loop passes both lists (in station order): only the accepted one is sent.
        await eventually(lambda: cp.version == 1, what="the accepted station's list")
        assert sent(pending) == [] and sent(pending, "GetLocalListVersion") == []


async def test_a_deleted_station_forgets_its_list(server: Running) -> None:
    await put_tags(server, {"LENA": {"status": "Accepted"}})
    async with listing16(server, "LL-DEL") as cp:
        await server.put("/api/v1/stations/LL-DEL/local-list", {"include": "all"})
        await eventually(lambda: cp.version == 1, what="the list sent")
    # What ``DELETE /api/v1/stations/{id}`` calls once the station is gone.
    await station_deleted(server.node.api_state, "LL-DEL")
    view = await local_list(server, "LL-DEL")
    assert view["filter"] is None and view["entries"] == [] and view["version_confirmed"] is None


async def test_a_stored_tag_a_version_cannot_carry_is_skipped(server_on_each_db: Running) -> None:
    """Rows stored before the id tags resource refused them (a type no version has, an EVSE id
    past 32 bits): a 2.0.1 station still gets the rest of its list, its Blocked card among
    them, and the sync says how many were left off; a 1.6 list, which carries no type, gets the
    one with the odd type."""
    server = server_on_each_db
    await put_tags(server, {"NORA": {"status": "Blocked"}, "OLGA": {"status": "Accepted"}})
    engine = server.node.api_state.engine
    for stored in (
        IdTokenRecord("ODD-TYPE", "Bogus", IdTokenStatus.ACCEPTED, None, None, None),
        IdTokenRecord("FAR-EVSE", None, IdTokenStatus.BLOCKED, None, None, (2**40,)),
    ):
        await id_tokens.put_id_token(engine, stored)
    boot = call201.BootNotification(
        charging_station={"model": "M", "vendor_name": "V"}, reason="PowerUp"
    )
    async with (
        charger201(server.ocpp_url, "LL-SKIP-2") as cp2,
        listing16(server, "LL-SKIP-1") as cp1,
    ):
        await cp2.call(boot)
        for station in ("LL-SKIP-2", "LL-SKIP-1"):
            status, _ = await server.put(
                f"/api/v1/stations/{station}/local-list", {"include": "all"}
            )
            assert status == 200

            async def in_sync(station: str = station) -> bool:
                view = await local_list(server, station)
                return view["version_confirmed"] is not None and not view["dirty"]

            await eventually(in_sync, what=f"the list of {station} sent")
        status, outcome = await server.post(
            "/api/v1/stations/LL-SKIP-2/local-list/sync", {"full": True}
        )
        assert status == 200, outcome
        assert outcome["status"] == "Accepted" and outcome["skipped"] == 2
        update = cp2.calls("SendLocalList")[-1]
        items = {
            i["id_token"]["id_token"]: i["id_token_info"]["status"]
            for i in update["local_authorization_list"]
        }
        assert items == {"NORA": "Blocked", "OLGA": "Accepted"}
        assert cp2.local_list_version == outcome["version"]

        status, outcome = await server.post(
            "/api/v1/stations/LL-SKIP-1/local-list/sync", {"full": True}
        )
        assert status == 200, outcome
        assert outcome["status"] == "Accepted" and outcome["skipped"] == 0
        assert set(cp1.entries) == {"NORA", "OLGA", "ODD-TYPE", "FAR-EVSE"}
