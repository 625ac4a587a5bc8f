"""Firmware updates end to end with the ``ocpp`` package's chargers: an update asked for through
``/api/v1/stations/{id}/firmware-updates`` and tracked from the station's notifications to its
final status (1.6 UpdateFirmware, 1.6 security SignedUpdateFirmware, 2.0.1 L01/L02), retried after
a failure, timed out without news, kept across a reconnect; campaigns; 2.0.1 publications."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import call, call_result
from ocpp.v16.enums import Action

from csms.firmware import settings
from tests.ocpp_charger import Charger16, charger16
from tests.ocpp_charger2 import Charger201, charger2, charger201
from tests.server_fixtures import Running, StartServer
from tests.timing import UNIT, eventually
from tests.v2_calls import boot_payload, call2

LOCATION = "https://firmware.example.com/vm-2.1.0.bin"
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
SIGNATURE = "c2lnbmF0dXJl"
BOOT_V16 = {"charge_point_vendor": "Voltmesh Labs", "charge_point_model": "VM-1"}


@pytest.fixture
def fast_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop looks every two units; retries without an interval wait one unit."""
    monkeypatch.setattr(
        settings,
        "SETTINGS",
        dataclasses.replace(
            settings.SETTINGS,
            tick=2 * UNIT,
            default_retry_interval=timedelta(seconds=UNIT),
            call_timeout=50 * UNIT,
        ),
    )


@pytest.fixture
def server(fast_loop: None, server_on_each_db: Running) -> Running:
    """SQLite, then PostgreSQL; the loop made fast before the node starts."""
    return server_on_each_db


class Firmware16(Charger16):
    """A 1.6 charger with Firmware Management and the security extension's signed update."""

    update_status: str | None = "Accepted"

    @on(Action.update_firmware)
    async def update_firmware(self, **kwargs: Any) -> call_result.UpdateFirmware:
        self._note("UpdateFirmware", **kwargs)
        return call_result.UpdateFirmware()

    @on(Action.signed_update_firmware)
    async def signed_update(self, **kwargs: Any) -> call_result.SignedUpdateFirmware:
        self._note("SignedUpdateFirmware", **kwargs)
        return call_result.SignedUpdateFirmware(status=self.update_status)

    def calls(self, action: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.received if name == action]


async def _update(server: Running, update_id: int) -> dict[str, Any]:
    status, body = await server.get(f"/api/v1/firmware-updates/{update_id}")
    assert status == 200, body
    update: dict[str, Any] = body
    return update


async def _status_is(server: Running, update_id: int, wanted: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        body = await _update(server, update_id)
        return body if body["status"] == wanted else None

    found: dict[str, Any] = await eventually(check, what=f"update {update_id} {wanted}")
    return found


def _events(server: Running, type: str, station: str) -> list[dict[str, Any]]:
    return [
        e.data for e in server.node.events.recent() if e.type == type and e.station_id == station
    ]


# -- 1.6 ---------------------------------------------------------------------------------------


class _Served16:
    """A Firmware16 on a websocket, its receive loop running."""

    def __init__(self, server: Running, station: str, kind: type[Firmware16] = Firmware16) -> None:
        self.server, self.station, self.kind = server, station, kind

    async def __aenter__(self) -> Firmware16:
        import websockets

        self._ws = await websockets.connect(
            f"{self.server.ocpp_url}/{self.station}",
            subprotocols=[websockets.Subprotocol("ocpp1.6")],
            open_timeout=100 * UNIT,
        )
        self.cp = self.kind(self.station, self._ws, response_timeout=200 * UNIT)
        self._loop = asyncio.create_task(self.cp.start())
        await self.cp.call(call.BootNotification(**BOOT_V16))
        return self.cp

    async def __aexit__(self, *exc: object) -> None:
        self._loop.cancel()
        await asyncio.gather(self._loop, return_exceptions=True)
        await self._ws.close()


async def test_a_16_update_is_tracked_to_installed(server: Running) -> None:
    async with _Served16(server, "FW16-A") as cp:
        # 1.6's plain UpdateFirmware has no install time: refused rather than dropped.
        status, problem = await server.post(
            "/api/v1/stations/FW16-A/firmware-updates",
            {"location": LOCATION, "install_at": "2030-01-01T02:00:00Z"},
        )
        assert status == 400 and "install_at" in problem["detail"], problem
        assert cp.calls("UpdateFirmware") == []
        status, update = await server.post(
            "/api/v1/stations/FW16-A/firmware-updates", {"location": LOCATION, "retries": 2}
        )
        assert status == 201, update
        assert (update["status"], update["action"], update["final"]) == (
            "Accepted",
            "UpdateFirmware",
            False,
        )
        [sent] = cp.calls("UpdateFirmware")
        assert sent["location"] == LOCATION and sent["retries"] == 2
        assert "retrieve_date" in sent
        for step in ("Downloading", "Downloaded", "Installing", "Installed"):
            await cp.call(call.FirmwareStatusNotification(status=step))
        body = await _update(server, update["id"])
        assert (body["status"], body["final"], body["attempts"]) == ("Installed", True, 1)
        # A notification the station sends again late does not undo it.
        await cp.call(call.FirmwareStatusNotification(status="Downloading"))
        assert (await _update(server, update["id"]))["status"] == "Installed"
    seen = [e["status"] for e in _events(server, "firmware.update", "FW16-A")]
    assert seen[-1] == "Installed" and "Downloading" in seen
    status, page = await server.get("/api/v1/stations/FW16-A/firmware-updates")
    assert status == 200 and [u["id"] for u in page["items"]] == [update["id"]]
    # The notifications are kept as station events too.
    status, events = await server.get(
        "/api/v1/stations/FW16-A/events?type=FirmwareStatusNotification"
    )
    assert status == 200 and len(events["items"]) == 5


async def test_a_newer_16_update_replaces_the_one_in_progress(server: Running) -> None:
    """1.6 section 5.19: a station runs one update at a time, and a newer UpdateFirmware replaces
    the older (its empty answer says nothing of it): the older ends Canceled at once, final, rather
    than staying Accepted until it times out; the notifications are about the newer one."""
    station = "FW16-TWICE"
    async with _Served16(server, station) as cp:
        status, first = await server.post(
            f"/api/v1/stations/{station}/firmware-updates", {"location": LOCATION}
        )
        assert status == 201 and first["status"] == "Accepted", first
        await cp.call(call.FirmwareStatusNotification(status="Downloading"))
        await _status_is(server, first["id"], "Downloading")

        newer = LOCATION.replace("2.1.0", "2.1.1")
        status, second = await server.post(
            f"/api/v1/stations/{station}/firmware-updates", {"location": newer}
        )
        assert status == 201 and second["status"] == "Accepted", second
        assert [c["location"] for c in cp.calls("UpdateFirmware")] == [LOCATION, newer]
        replaced = await _status_is(server, first["id"], "Canceled")
        assert replaced["final"] is True
        assert str(second["id"]) in replaced["detail"]
        await eventually(
            lambda: any(
                e["id"] == first["id"] and e["status"] == "Canceled"
                for e in _events(server, "firmware.update", station)
            ),
            what="the replaced update's event",
        )

        for step in ("Downloading", "Downloaded", "Installing", "Installed"):
            await cp.call(call.FirmwareStatusNotification(status=step))
        assert (await _update(server, second["id"]))["status"] == "Installed"
        assert (await _update(server, first["id"]))["status"] == "Canceled"


async def test_a_signed_16_update_uses_the_security_extension(server: Running) -> None:
    async with _Served16(server, "FW16-S") as cp:
        status, update = await server.post(
            "/api/v1/stations/FW16-S/firmware-updates",
            {
                "location": LOCATION,
                "signature": SIGNATURE,
                "signing_certificate": CERTIFICATE,
                "install_at": "2030-01-01T02:00:00Z",
            },
        )
        assert status == 201, update
        assert (update["action"], update["signed"], update["status"]) == (
            "SignedUpdateFirmware",
            True,
            "Accepted",
        )
        [sent] = cp.calls("SignedUpdateFirmware")
        assert sent["request_id"] == update["request_id"]
        assert sent["firmware"]["signature"] == SIGNATURE
        assert sent["firmware"]["install_date_time"].startswith("2030-01-01T02:00:00")
        await cp.call(
            call.SignedFirmwareStatusNotification(
                status="InvalidSignature", request_id=update["request_id"]
            )
        )
        body = await _update(server, update["id"])
        assert (body["status"], body["final"]) == ("InvalidSignature", True)

        # Rejected by the station: final at once.
        cp.update_status = "Rejected"
        status, rejected = await server.post(
            "/api/v1/stations/FW16-S/firmware-updates",
            {"location": LOCATION, "signature": SIGNATURE, "signing_certificate": CERTIFICATE},
        )
        assert status == 201
        assert (rejected["status"], rejected["final"]) == ("Rejected", True)


async def test_a_16_station_without_firmware_management_gets_not_sent(server: Running) -> None:
    async with charger16(server.ocpp_url, "FW16-N") as cp:
        await cp.call(call.BootNotification(**BOOT_V16))
        status, problem = await server.post(
            "/api/v1/stations/FW16-N/firmware-updates", {"location": LOCATION, "resends": 2}
        )
        assert status == 502, problem
        assert problem["code"] == "NotImplemented"
    status, page = await server.get("/api/v1/stations/FW16-N/firmware-updates")
    [update] = page["items"]
    assert problem["firmware_update_id"] == update["id"]
    # Sending it again would change nothing: no resend is scheduled.
    assert (update["status"], update["final"], update["next_attempt_at"]) == ("NotSent", True, None)
    assert "NotImplemented" in update["detail"]


async def test_a_16_update_survives_a_reconnect(server: Running) -> None:
    async with _Served16(server, "FW16-R") as cp:
        status, update = await server.post(
            "/api/v1/stations/FW16-R/firmware-updates", {"location": LOCATION}
        )
        assert status == 201
        await cp.call(call.FirmwareStatusNotification(status="Installing"))
    await eventually(lambda: _not_connected(server, "FW16-R"))
    # The station installs, reboots and reports on its new connection.
    async with _Served16(server, "FW16-R") as cp:
        await cp.call(call.FirmwareStatusNotification(status="Installed"))
    body = await _update(server, update["id"])
    assert body["status"] == "Installed"


async def _not_connected(server: Running, station: str) -> bool:
    return not await server.is_connected(station)


# -- 2.0.1 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
async def test_a_2x_update_with_resends_is_sent_again_after_download_failed(
    server: Running, version: str
) -> None:
    async with charger2(server.ocpp_url, "FW2-RETRY", version) as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, update = await server.post(
            "/api/v1/stations/FW2-RETRY/firmware-updates",
            {
                "location": LOCATION,
                "retries": 3,
                "retry_interval": 60,
                "resends": 1,
                "resend_interval": 0,
                "signature": SIGNATURE,
                "signing_certificate": CERTIFICATE,
            },
        )
        assert status == 201, update
        first = update["request_id"]
        [sent] = cp.calls("UpdateFirmware")
        # The station's own download retries go with the request; voltmesh's resends do not.
        assert (sent["request_id"], sent["retries"], sent["retry_interval"]) == (first, 3, 60)
        assert "resends" not in sent
        assert sent["firmware"]["signing_certificate"] == CERTIFICATE
        await call2(cp, "FirmwareStatusNotification", {"status": "Downloading", "requestId": first})
        await call2(
            cp, "FirmwareStatusNotification", {"status": "DownloadFailed", "requestId": first}
        )
        await eventually(lambda: len(cp.calls("UpdateFirmware")) == 2, what="the retry")
        retried = await _status_is(server, update["id"], "Accepted")
        assert retried["attempts"] == 2 and retried["request_id"] != first
        assert cp.calls("UpdateFirmware")[1]["request_id"] == retried["request_id"]
        # A late notification of the first attempt is not taken for the second.
        await call2(cp, "FirmwareStatusNotification", {"status": "Installed", "requestId": first})
        assert (await _update(server, update["id"]))["status"] == "Accepted"
        # The second fails too: the resends are used up, it stays DownloadFailed.
        await call2(
            cp,
            "FirmwareStatusNotification",
            {"status": "DownloadFailed", "requestId": retried["request_id"]},
        )
        body = await _update(server, update["id"])
        assert (body["status"], body["final"], body["next_attempt_at"]) == (
            "DownloadFailed",
            True,
            None,
        )


async def test_a_201_update_answered_rejected_or_with_a_callerror(server: Running) -> None:
    async with charger201(server.ocpp_url, "FW2-REJ") as cp:
        await call2(cp, "BootNotification", boot_payload())
        cp.overrides["UpdateFirmware"] = {"status": "InvalidCertificate"}
        status, update = await server.post(
            "/api/v1/stations/FW2-REJ/firmware-updates",
            {"location": LOCATION, "resends": 3, "resend_interval": 0},
        )
        assert status == 201
        assert (update["status"], update["final"]) == ("InvalidCertificate", True)
        # AcceptedCanceled: the station drops the update in progress for the new one.
        cp.overrides["UpdateFirmware"] = {"status": "Accepted"}
        status, older = await server.post(
            "/api/v1/stations/FW2-REJ/firmware-updates", {"location": LOCATION}
        )
        # A plain Accepted on 2.x says no update was canceled (unlike 1.6's empty answer).
        status, beside = await server.post(
            "/api/v1/stations/FW2-REJ/firmware-updates", {"location": LOCATION + "?v=1"}
        )
        assert beside["status"] == "Accepted"
        assert (await _update(server, older["id"]))["status"] == "Accepted"
        cp.overrides["UpdateFirmware"] = {"status": "AcceptedCanceled"}
        status, newer = await server.post(
            "/api/v1/stations/FW2-REJ/firmware-updates", {"location": LOCATION + "?v=2"}
        )
        assert newer["status"] == "Accepted"
        assert (await _update(server, older["id"]))["status"] == "Canceled"
        assert (await _update(server, beside["id"]))["status"] == "Canceled"


async def test_an_update_sent_as_a_raw_command_is_tracked(server: Running) -> None:
    async with charger201(server.ocpp_url, "FW2-RAW") as cp:
        await call2(cp, "BootNotification", boot_payload())
        # An earlier update of voltmesh's that failed...
        status, earlier = await server.post(
            "/api/v1/stations/FW2-RAW/firmware-updates", {"location": LOCATION}
        )
        taken = earlier["request_id"]
        await call2(
            cp, "FirmwareStatusNotification", {"status": "DownloadFailed", "requestId": taken}
        )
        # ... and an operator's raw command that happens to pick its requestId.
        request = {
            "requestId": taken,
            "firmware": {"location": LOCATION + "?raw", "retrieveDateTime": "2026-12-01T00:00:00Z"},
        }
        status, body = await server.command("FW2-RAW", "UpdateFirmware", request)
        assert status == 200, body
        status, page = await server.get("/api/v1/stations/FW2-RAW/firmware-updates")
        [update, _] = page["items"]
        assert (update["request_id"], update["status"]) == (taken, "Accepted")
        assert update["location"] == LOCATION + "?raw"
        await call2(cp, "FirmwareStatusNotification", {"status": "Installed", "requestId": taken})
        assert (await _update(server, earlier["id"]))["status"] == "DownloadFailed"
        # A raw command with a requestId of its own.
        request = {
            "requestId": 777,
            "firmware": {"location": LOCATION, "retrieveDateTime": "2026-12-01T00:00:00Z"},
        }
        status, body = await server.command("FW2-RAW", "UpdateFirmware", request)
        assert status == 200, body
        await call2(cp, "FirmwareStatusNotification", {"status": "Downloading", "requestId": 777})
        status, page = await server.get("/api/v1/stations/FW2-RAW/firmware-updates?limit=1")
        [update] = page["items"]
        assert (update["request_id"], update["status"]) == (777, "Downloading")
        await call2(cp, "FirmwareStatusNotification", {"status": "Installed", "requestId": 777})
        assert (await _update(server, update["id"]))["status"] == "Installed"
        await call2(cp, "FirmwareStatusNotification", {"status": "Installing", "requestId": 777})
        assert (await _update(server, update["id"]))["status"] == "Installed"


async def test_an_update_without_news_times_out_and_is_retried(
    server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        settings,
        "SETTINGS",
        dataclasses.replace(settings.SETTINGS, stale_after=timedelta(seconds=10 * UNIT)),
    )
    async with (
        charger201(server.ocpp_url, "FW2-SILENT") as cp,
        charger201(server.ocpp_url, "FW2-NIGHT") as night,
    ):
        await call2(cp, "BootNotification", boot_payload())
        await call2(night, "BootNotification", boot_payload())
        # Told to download and install later: silent until then, by design (made first, so
        # every round that times out the other one has looked at it too).
        status, scheduled = await server.post(
            "/api/v1/stations/FW2-NIGHT/firmware-updates",
            {
                "location": LOCATION,
                "retrieve_at": "2099-01-01T01:00:00Z",
                "install_at": "2099-01-01T02:00:00Z",
            },
        )
        assert status == 201 and scheduled["status"] == "Accepted", scheduled
        status, update = await server.post(
            "/api/v1/stations/FW2-SILENT/firmware-updates",
            {"location": LOCATION, "resends": 1, "resend_interval": 0},
        )
        assert status == 201
        await eventually(lambda: len(cp.calls("UpdateFirmware")) == 2, what="the retry")
        body = await _status_is(server, update["id"], "TimedOut")
        assert body["attempts"] == 2 and body["final"] is True
        assert "no news" in body["detail"]
        later = await _update(server, scheduled["id"])
        assert (later["status"], later["attempts"]) == ("Accepted", 1)
        assert len(night.calls("UpdateFirmware")) == 1


async def test_a_station_that_is_not_connected_or_bad_requests(server: Running) -> None:
    status, problem = await server.post(
        "/api/v1/stations/NOBODY/firmware-updates", {"location": LOCATION}
    )
    assert status == 404
    async with charger201(server.ocpp_url, "FW2-BAD") as cp:
        await call2(cp, "BootNotification", boot_payload())
        for body, words in (
            ({"location": "not a url"}, "absolute URL"),
            ({"location": LOCATION, "signature": SIGNATURE}, "go together"),
            ({"location": LOCATION, "retrieve_at": "tomorrow"}, "RFC 3339"),
            ({"location": LOCATION, "retries": -1}, "retries"),
            ({"location": LOCATION, "resends": 101}, "resends"),
            ({"location": LOCATION, "colour": "blue"}, "unknown fields"),
            ({}, "location is required"),
        ):
            status, problem = await server.post("/api/v1/stations/FW2-BAD/firmware-updates", body)
            assert status == 400, (body, problem)
            assert words in problem["detail"], problem
        assert cp.calls("UpdateFirmware") == []
    status, _ = await server.get("/api/v1/firmware-updates/123456")
    assert status == 404
    status, _ = await server.get("/api/v1/firmware-updates/not-a-number")
    assert status == 404


# -- campaigns ---------------------------------------------------------------------------------


async def test_a_campaign_keeps_to_its_concurrency_and_finishes(server: Running) -> None:
    names = ["FW-C1", "FW-C2", "FW-C3"]
    async with (
        charger201(server.ocpp_url, names[0]) as c1,
        charger201(server.ocpp_url, names[1]) as c2,
        charger201(server.ocpp_url, names[2]) as c3,
    ):
        chargers: dict[str, Charger201] = dict(zip(names, (c1, c2, c3), strict=True))
        for cp in chargers.values():
            await call2(cp, "BootNotification", boot_payload())
        status, campaign = await server.post(
            "/api/v1/firmware-campaigns",
            {"location": LOCATION, "stations": names, "concurrency": 2},
        )
        assert status == 201, campaign
        assert campaign["status"] == "Scheduled"

        async def counts() -> dict[str, int]:
            status, body = await server.get(f"/api/v1/firmware-campaigns/{campaign['id']}")
            assert status == 200
            result: dict[str, int] = body["counts"]
            return result

        # One round sends every due member it may: two, and the third waits.
        await eventually(lambda: _has(counts, {"Accepted": 2, "Queued": 1}), what="two sent")
        sent = [name for name, cp in chargers.items() if cp.calls("UpdateFirmware")]
        assert len(sent) == 2
        first = chargers[sent[0]]
        request_id = first.calls("UpdateFirmware")[0]["request_id"]
        await call2(
            first, "FirmwareStatusNotification", {"status": "Installed", "requestId": request_id}
        )
        [waiting] = [name for name in names if name not in sent]
        await eventually(lambda: bool(chargers[waiting].calls("UpdateFirmware")), what="third sent")
        for name in names[:]:
            if name == sent[0]:
                continue
            cp = chargers[name]
            rid = cp.calls("UpdateFirmware")[0]["request_id"]
            await call2(cp, "FirmwareStatusNotification", {"status": "Installed", "requestId": rid})

        async def finished() -> bool:
            status, body = await server.get(f"/api/v1/firmware-campaigns/{campaign['id']}")
            return bool(body["status"] == "Finished" and body["counts"] == {"Installed": 3})

        await eventually(finished, what="campaign finished")


async def _has(counts: Any, wanted: dict[str, int]) -> bool:
    return bool(await counts() == wanted)


async def test_a_campaign_by_filter_on_16_and_its_cancel(server: Running) -> None:
    later = "2099-01-01T00:00:00Z"
    async with _Served16(server, "FW-F1") as cp:
        status, campaign = await server.post(
            "/api/v1/firmware-campaigns",
            {"location": LOCATION, "filter": {"model": "VM-1"}, "start_at": "2020-01-01T00:00:00Z"},
        )
        assert status == 201, campaign
        await eventually(lambda: bool(cp.calls("UpdateFirmware")), what="the filtered station")

        async def running() -> bool:
            status, body = await server.get(f"/api/v1/firmware-campaigns/{campaign['id']}")
            return bool(body["status"] == "Running" and body["counts"] == {"Accepted": 1})

        await eventually(running, what="the station's answer kept")
        await cp.call(call.FirmwareStatusNotification(status="Installed"))
    # A campaign for later is canceled before it starts.
    status, future = await server.post(
        "/api/v1/firmware-campaigns",
        {"location": LOCATION, "stations": ["FW-F1"], "start_at": later},
    )
    assert status == 201
    assert await server.delete(f"/api/v1/firmware-campaigns/{future['id']}") == 204
    status, body = await server.get(f"/api/v1/firmware-campaigns/{future['id']}")
    assert body["status"] == "Canceled" and body["total"] == 0
    for bad in (
        {"location": LOCATION},
        {"location": LOCATION, "stations": ["A"], "filter": {"model": "M"}},
        {"location": LOCATION, "filter": {"colour": "blue"}},
        {"location": LOCATION, "stations": []},
        {"location": LOCATION, "stations": ["FW-F1", "NOBODY"]},
    ):
        status, _ = await server.post("/api/v1/firmware-campaigns", bad)
        assert status == 400, bad
    status, page = await server.get("/api/v1/firmware-campaigns")
    assert status == 200 and [c["id"] for c in page["items"]] == [future["id"], campaign["id"]]


# -- publication by a local controller (2.0.1 L03/L04) -----------------------------------------


async def test_a_local_controller_publishes_and_unpublishes(server: Running) -> None:
    checksum = "0123456789abcdef0123456789ABCDEF"
    async with charger201(server.ocpp_url, "LC-1") as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, publication = await server.post(
            "/api/v1/stations/LC-1/firmware-publications",
            {"location": LOCATION, "checksum": checksum},
        )
        assert status == 201, publication
        assert (publication["status"], publication["final"]) == ("Accepted", False)
        [sent] = cp.calls("PublishFirmware")
        assert sent["request_id"] == publication["request_id"]
        assert sent["checksum"] == checksum.lower()
        await call2(
            cp,
            "PublishFirmwareStatusNotification",
            {
                "status": "Published",
                "location": ["http://192.168.1.2/fw.bin"],
                "requestId": publication["request_id"],
            },
        )
        status, page = await server.get("/api/v1/stations/LC-1/firmware-publications")
        [shown] = page["items"]
        assert shown["status"] == "Published"
        assert shown["published_at"] == ["http://192.168.1.2/fw.bin"]
        cp.overrides["UnpublishFirmware"] = {"status": "Unpublished"}
        async with server.http.delete(
            f"{server.api_url}/api/v1/stations/LC-1/firmware-publications/{publication['id']}"
        ) as r:
            assert r.status == 200
            body = await r.json()
        assert body["status"] == "Unpublished"
        assert body["publication"]["status"] == "Unpublished"
        assert cp.calls("UnpublishFirmware")[0]["checksum"] == checksum.lower()
        status, problem = await server.post(
            "/api/v1/stations/LC-1/firmware-publications", {"location": LOCATION, "checksum": "x"}
        )
        assert status == 400
        # A CALLERROR: kept as NotSent, named in the problem.
        cp.overrides["PublishFirmware"] = {"notAField": True}
        status, problem = await server.post(
            "/api/v1/stations/LC-1/firmware-publications",
            {"location": LOCATION, "checksum": checksum},
        )
        assert status == 502, problem
        status, page = await server.get("/api/v1/stations/LC-1/firmware-publications")
        failed = page["items"][0]
        assert failed["id"] == problem["firmware_publication_id"]
        assert (failed["status"], failed["final"]) == ("NotSent", True)
        assert [e["status"] for e in _events(server, "firmware.publication", "LC-1")][-1] == (
            "NotSent"
        )
    async with _Served16(server, "LC-16"):
        status, problem = await server.post(
            "/api/v1/stations/LC-16/firmware-publications",
            {"location": LOCATION, "checksum": checksum},
        )
        assert status == 409, problem


class Silent16(Firmware16):
    """Answers its first UpdateFirmware too late (after the CSMS gave up), the next at once."""

    @on(Action.update_firmware)
    async def update_firmware(self, **kwargs: Any) -> call_result.UpdateFirmware:
        self._note("UpdateFirmware", **kwargs)
        if len(self.calls("UpdateFirmware")) == 1:
            await asyncio.sleep(20 * UNIT)
        return call_result.UpdateFirmware()


async def test_an_unanswered_update_is_not_sent_and_retried(
    fast_loop: None, start_server: StartServer
) -> None:
    server = await start_server(command_timeout=10 * UNIT)
    async with _Served16(server, "FW16-Q", Silent16) as cp:
        status, problem = await server.post(
            "/api/v1/stations/FW16-Q/firmware-updates",
            {"location": LOCATION, "resends": 1, "resend_interval": 0},
        )
        assert status == 504, problem
        status, page = await server.get("/api/v1/stations/FW16-Q/firmware-updates")
        [update] = page["items"]
        assert update["status"] == "NotSent" and update["final"] is False
        assert update["next_attempt_at"] is not None
        # The loop sends it again, and this time the station answers.
        await eventually(lambda: len(cp.calls("UpdateFirmware")) == 2, what="the retry")
        body = await _status_is(server, update["id"], "Accepted")
        assert body["attempts"] == 2
