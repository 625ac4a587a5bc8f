"""2.0.1 and 2.1 charger sessions end to end over loopback, seen through the same REST views as 1.6."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ocpp_charger import charger16
from tests.ocpp_charger2 import charger2
from tests.server_fixtures import Running
from tests.v2_calls import boot_payload, call2, energy, transaction_event, ts

VERSIONS = ["ocpp2.0.1", "ocpp2.1"]


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return server_on_each_db


@pytest.mark.parametrize("version", VERSIONS)
async def test_full_session_shows_in_rest_like_a_16_one(server: Running, version: str) -> None:
    await server.put("/api/v1/id-tags/TAG1", {"status": "Accepted", "type": "ISO14443"})
    async with charger2(server.ocpp_url, "CS1", version) as cp:
        boot = await call2(cp, "BootNotification", boot_payload())
        assert boot["status"] == "Accepted"
        assert boot["interval"] == 300
        await call2(
            cp,
            "StatusNotification",
            {"timestamp": ts(), "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
        )
        auth = await call2(cp, "Authorize", {"idToken": {"idToken": "tag1", "type": "ISO14443"}})
        assert auth["idTokenInfo"]["status"] == "Accepted"
        token = {"idToken": "TAG1", "type": "ISO14443"}
        started = await call2(
            cp,
            "TransactionEvent",
            transaction_event(
                "Started",
                0,
                "tx-1",
                minutes=0,
                trigger="Authorized",
                meter=[energy(1000, 0, "Transaction.Begin")],
                idToken=token,
                evse={"id": 1, "connectorId": 1},
                info={"chargingState": "EVConnected"},
            ),
        )
        assert started["idTokenInfo"]["status"] == "Accepted"
        power = {
            "timestamp": ts(5),
            "sampledValue": [
                {
                    "value": 11.0,
                    "measurand": "Power.Active.Import",
                    "unitOfMeasure": {"unit": "kW"},
                },
                {
                    "value": 16.0,
                    "measurand": "Current.Import",
                    "phase": "L1",
                    "unitOfMeasure": {"unit": "A"},
                },
            ],
        }
        await call2(
            cp,
            "TransactionEvent",
            transaction_event(
                "Updated",
                1,
                "tx-1",
                minutes=5,
                trigger="MeterValuePeriodic",
                meter=[energy(2500, 5), power],
                info={"chargingState": "Charging"},
            ),
        )
        status, live = await server.get("/api/v1/transactions/CS1,tx-1")
        assert status == 200
        assert live["active"] is True
        assert live["energy_wh"] == 1500
        assert live["extra"]["charging_state"] == "Charging"
        # 4.0 kWh as a multiplier of 3 on Wh: the register is normalised to Wh.
        end = energy(4.0, 30, "Transaction.End")
        end["sampledValue"][0]["unitOfMeasure"] = {"unit": "Wh", "multiplier": 3}
        ended = await call2(
            cp,
            "TransactionEvent",
            transaction_event(
                "Ended",
                2,
                "tx-1",
                minutes=30,
                trigger="EVDeparted",
                meter=[end],
                info={"stoppedReason": "EVDisconnected", "chargingState": "Idle"},
            ),
        )
        assert ended == {}
    status, tx = await server.get("/api/v1/transactions/CS1,tx-1")
    assert status == 200
    assert tx["id"] == "CS1,tx-1"
    assert tx["station_transaction_id"] == "tx-1"
    assert tx["station_id"] == "CS1"
    assert (tx["evse_id"], tx["connector_id"]) == (1, 1)
    assert (tx["id_token"], tx["id_token_type"]) == ("TAG1", "ISO14443")
    assert tx["protocol"] == version
    assert tx["start_time"].startswith("2026-11-01T12:00:00")
    assert tx["stop_time"].startswith("2026-11-01T12:30:00")
    assert (tx["meter_start_wh"], tx["meter_stop_wh"], tx["energy_wh"]) == (1000, 4000, 3000)
    assert tx["stop_reason"] == "EVDisconnected"
    assert tx["active"] is False
    assert tx["extra"]["seq_no_gaps"] == []
    assert tx["extra"]["charging_state"] == "Idle"
    assert [e["event_type"] for e in tx["events"]] == ["Started", "Updated", "Ended"]
    measurands = [(m["measurand"], m["value"], m["unit"]) for m in tx["meter_values"]]
    assert ("Energy.Active.Import.Register", 2500.0, "Wh") in measurands
    assert ("Power.Active.Import", 11.0, "kW") in measurands
    assert ("Energy.Active.Import.Register", 4000.0, "Wh") in measurands
    status, listed = await server.get("/api/v1/transactions?station_id=CS1")
    assert [t["id"] for t in listed["items"]] == ["CS1,tx-1"]
    assert set(listed["items"][0]) == set(tx) - {"events", "meter_values"}
    assert "remote_start" not in tx
    status, station = await server.get("/api/v1/stations/CS1")
    assert station["protocol"] == version
    assert station["boot"] == {
        "vendor": "Voltmesh Labs",
        "model": "VM-2",
        "serial": "SN-1",
        "firmware": "2.0.0",
        "status": "Accepted",
        "reason": "PowerUp",
        "last_boot": station["boot"]["last_boot"],
    }
    connector = station["evses"][0]["connectors"][0]
    assert (station["evses"][0]["id"], connector["id"], connector["status"]) == (1, 1, "Occupied")


async def test_offline_replay_with_resends_is_stored_once(server: Running) -> None:
    events = [
        transaction_event(
            "Started",
            0,
            "offline-1",
            minutes=0,
            trigger="CablePluggedIn",
            meter=[energy(500, 0, "Transaction.Begin")],
            evse={"id": 2, "connectorId": 1},
            offline=True,
        ),
        transaction_event(
            "Updated",
            1,
            "offline-1",
            minutes=10,
            trigger="MeterValuePeriodic",
            meter=[energy(1500, 10)],
            offline=True,
        ),
        transaction_event(
            "Ended",
            2,
            "offline-1",
            minutes=20,
            trigger="EVCommunicationLost",
            meter=[energy(2700, 20, "Transaction.End")],
            offline=True,
            info={"stoppedReason": "PowerLoss"},
        ),
    ]
    async with charger2(server.ocpp_url, "CS-OFF") as cp:
        await call2(cp, "BootNotification", boot_payload())
        for event in events:
            assert await call2(cp, "TransactionEvent", event) == {}
    # The answers were lost: the charger replays its whole queue on the next connection, twice.
    async with charger2(server.ocpp_url, "CS-OFF") as cp:
        for event in events + events:
            assert await call2(cp, "TransactionEvent", event) == {}
    status, tx = await server.get("/api/v1/transactions/CS-OFF,offline-1")
    assert status == 200
    assert [e["seq_no"] for e in tx["events"]] == [0, 1, 2]
    assert all(e["offline"] for e in tx["events"])
    assert tx["extra"]["offline"] is True
    assert tx["energy_wh"] == 2200
    assert tx["stop_reason"] == "PowerLoss"
    registers = [m for m in tx["meter_values"] if m["measurand"] == "Energy.Active.Import.Register"]
    assert [m["value"] for m in registers] == [500.0, 1500.0, 2700.0]


async def test_seq_no_gaps_and_a_lost_start_are_shown(server: Running) -> None:
    async with charger2(server.ocpp_url, "CS-GAP") as cp:
        await call2(cp, "BootNotification", boot_payload())
        # The Started event (seqNo 0) never arrives: the transaction is known from its updates.
        for seq_no, minutes, wh in ((3, 5, 1300.0), (1, 2, 1100.0), (6, 9, 1900.0)):
            await call2(
                cp,
                "TransactionEvent",
                transaction_event(
                    "Updated",
                    seq_no,
                    "g-1",
                    minutes=minutes,
                    trigger="MeterValuePeriodic",
                    meter=[energy(wh, minutes)],
                    evse={"id": 1},
                ),
            )
        status, tx = await server.get("/api/v1/transactions/CS-GAP,g-1")
        assert tx["active"] is True
        assert tx["start_time"].startswith("2026-11-01T12:02:00")
        assert tx["meter_start_wh"] == 1100
        assert tx["extra"]["meter_start_source"] == "lowest"
        assert tx["extra"]["seq_no_gaps"] == [[2, 2], [4, 5]]
        await call2(
            cp,
            "TransactionEvent",
            transaction_event("Ended", 8, "g-1", minutes=12, trigger="StopAuthorized"),
        )
    status, tx = await server.get("/api/v1/transactions/CS-GAP,g-1")
    assert tx["extra"]["seq_no_gaps"] == [[2, 2], [4, 5], [7, 7]]
    # No register in the Ended event: the last one reported ends the transaction.
    assert (tx["meter_stop_wh"], tx["energy_wh"]) == (1900, 800)
    assert tx["stop_reason"] == "Local"


async def test_authorize_statuses(server: Running) -> None:
    await server.put("/api/v1/id-tags/GROUP", {"status": "Accepted", "type": "Central"})
    await server.put("/api/v1/id-tags/OK", {"status": "Accepted", "parent_id_tag": "GROUP"})
    await server.put("/api/v1/id-tags/BLOCKED", {"status": "Blocked"})
    await server.put(
        "/api/v1/id-tags/OLD", {"status": "Accepted", "expiry_date": "2020-01-01T00:00:00Z"}
    )
    await server.put("/api/v1/id-tags/EVSE2", {"status": "Accepted", "evse_ids": [2]})

    async def status_of(cp: Any, token: str) -> dict[str, Any]:
        reply = await call2(cp, "Authorize", {"idToken": {"idToken": token, "type": "ISO14443"}})
        info: dict[str, Any] = reply["idTokenInfo"]
        return info

    async with charger2(server.ocpp_url, "CS-AUTH") as cp:
        await call2(cp, "BootNotification", boot_payload())
        ok = await status_of(cp, "ok")
        assert ok["status"] == "Accepted"
        assert ok["groupIdToken"] == {"idToken": "GROUP", "type": "Central"}
        assert (await status_of(cp, "BLOCKED"))["status"] == "Blocked"
        old = await status_of(cp, "OLD")
        assert old["status"] == "Expired"
        assert old["cacheExpiryDateTime"] == "2020-01-01T00:00:00.000Z"
        assert (await status_of(cp, "NOBODY"))["status"] == "Unknown"
        assert (await status_of(cp, "EVSE2"))["evseId"] == [2]
        # At an EVSE the token is not valid for, a transaction's token is not accepted.
        reply = await call2(
            cp,
            "TransactionEvent",
            transaction_event(
                "Started",
                0,
                "t-evse",
                minutes=0,
                trigger="Authorized",
                idToken={"idToken": "EVSE2", "type": "ISO14443"},
                evse={"id": 1},
            ),
        )
        assert reply["idTokenInfo"]["status"] == "NotAtThisLocation"
        reply = await call2(
            cp,
            "TransactionEvent",
            transaction_event(
                "Started",
                0,
                "t-ok",
                minutes=0,
                trigger="Authorized",
                idToken={"idToken": "OK", "type": "ISO14443"},
                evse={"id": 2},
            ),
        )
        assert reply["idTokenInfo"]["status"] == "Accepted"
    # The same token, still charging there, starting elsewhere.
    async with charger2(server.ocpp_url, "CS-AUTH2") as cp:
        await call2(cp, "BootNotification", boot_payload())
        reply = await call2(
            cp,
            "TransactionEvent",
            transaction_event(
                "Started",
                0,
                "t-ok",
                minutes=1,
                trigger="Authorized",
                idToken={"idToken": "OK", "type": "ISO14443"},
                evse={"id": 1},
            ),
        )
        assert reply["idTokenInfo"]["status"] == "ConcurrentTx"
        # A station that needs no authorization is never refused by the CSMS.
        reply = await call2(
            cp,
            "TransactionEvent",
            transaction_event(
                "Started",
                0,
                "t-free",
                minutes=1,
                trigger="CablePluggedIn",
                idToken={"idToken": "", "type": "NoAuthorization"},
                evse={"id": 2},
            ),
        )
        assert reply["idTokenInfo"]["status"] == "Accepted"


async def test_remote_start_is_linked_by_remote_start_id(server: Running) -> None:
    await server.put("/api/v1/id-tags/REMOTE", {"status": "Accepted"})
    async with charger2(server.ocpp_url, "CS-RS") as cp:
        await call2(cp, "BootNotification", boot_payload())
        status, body = await server.command(
            "CS-RS",
            "RequestStartTransaction",
            {"remoteStartId": 42, "idToken": {"idToken": "REMOTE", "type": "Central"}, "evseId": 1},
        )
        assert status == 200, body
        assert body["response"]["status"] == "Accepted"
        assert cp.calls("RequestStartTransaction")[0]["remote_start_id"] == 42
        await call2(
            cp,
            "TransactionEvent",
            transaction_event(
                "Started",
                0,
                "rs-1",
                minutes=0,
                trigger="RemoteStart",
                idToken={"idToken": "REMOTE", "type": "Central"},
                evse={"id": 1},
                info={"remoteStartId": 42},
            ),
        )
    status, page = await server.get("/api/v1/transactions?remote_start_id=42")
    assert status == 200
    assert [t["id"] for t in page["items"]] == ["CS-RS,rs-1"]
    assert page["items"][0]["remote_start_id"] == 42
    assert page["items"][0]["extra"]["trigger_reason"] == "RemoteStart"
    status, tx = await server.get("/api/v1/transactions/CS-RS,rs-1")
    assert tx["remote_start"]["request"]["remoteStartId"] == 42
    assert tx["remote_start"]["request"]["idToken"]["idToken"] == "REMOTE"
    assert tx["remote_start"]["response"]["status"] == "Accepted"
    status, page = await server.get("/api/v1/transactions?remote_start_id=41")
    assert page["items"] == []
    status, problem = await server.get("/api/v1/transactions?remote_start_id=x")
    assert status == 400


async def test_a_16_and_a_201_charger_side_by_side(server: Running) -> None:
    from ocpp.v16 import call

    await server.put("/api/v1/id-tags/SHARED", {"status": "Accepted"})
    async with (
        charger16(server.ocpp_url, "OLD16") as old,
        charger2(server.ocpp_url, "NEW201") as new,
    ):
        await old.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        await call2(new, "BootNotification", boot_payload())
        start = await old.call(
            call.StartTransaction(connector_id=1, id_tag="SHARED", meter_start=100, timestamp=ts())
        )
        await call2(
            new,
            "TransactionEvent",
            transaction_event(
                "Started",
                0,
                "n-1",
                minutes=0,
                trigger="Authorized",
                idToken={"idToken": "OTHER", "type": "ISO14443"},
                evse={"id": 1, "connectorId": 1},
                meter=[energy(100, 0, "Transaction.Begin")],
            ),
        )
        await old.call(
            call.StopTransaction(
                meter_stop=600, timestamp=ts(10), transaction_id=start.transaction_id
            )
        )
        await call2(
            new,
            "TransactionEvent",
            transaction_event(
                "Ended",
                1,
                "n-1",
                minutes=10,
                trigger="EVDeparted",
                meter=[energy(600, 10, "Transaction.End")],
                info={"stoppedReason": "Local"},
            ),
        )
    status, page = await server.get("/api/v1/transactions")
    by_station = {t["station_id"]: t for t in page["items"]}
    assert set(by_station) == {"OLD16", "NEW201"}
    old_tx, new_tx = by_station["OLD16"], by_station["NEW201"]
    assert set(old_tx) == set(new_tx)
    for tx in (old_tx, new_tx):
        assert (tx["evse_id"], tx["connector_id"], tx["energy_wh"]) == (1, 1, 500)
        assert tx["active"] is False
    assert (old_tx["protocol"], new_tx["protocol"]) == ("ocpp1.6", "ocpp2.0.1")
    assert old_tx["station_transaction_id"] == str(start.transaction_id) == old_tx["id"]


async def test_an_evse_named_only_later_is_published_once(server: Running) -> None:
    """2.0.1 E02 (cable first): a Started event may leave the EVSE out; the first event that names
    it tells the live stream (a site's share waits for it), and later ones do not repeat it."""

    def evse_events() -> list[dict[str, Any]]:
        return [
            e.data
            for e in server.node.events.recent()
            if e.type == "transaction.evse" and e.station_id == "CS-LATE"
        ]

    async with charger2(server.ocpp_url, "CS-LATE", "ocpp2.0.1") as cp:
        await call2(cp, "BootNotification", boot_payload())
        await call2(
            cp,
            "TransactionEvent",
            transaction_event("Started", 0, "tx-late", minutes=0, trigger="CablePluggedIn"),
        )
        assert evse_events() == []
        for seq_no in (1, 2):
            await call2(
                cp,
                "TransactionEvent",
                transaction_event(
                    "Updated",
                    seq_no,
                    "tx-late",
                    minutes=seq_no,
                    trigger="ChargingStateChanged",
                    evse={"id": 2, "connectorId": 1},
                    info={"chargingState": "Charging"},
                ),
            )
    assert evse_events() == [{"transaction_id": "CS-LATE,tx-late", "evse_id": 2, "connector_id": 1}]
