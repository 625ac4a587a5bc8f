"""A 1.6 charger session end to end over loopback, seen through the REST API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from ocpp.v16 import call

from tests.ocpp_charger import charger16
from tests.raw_charger import RawCharger
from tests.server_fixtures import Running
from tests.timing import eventually


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return server_on_each_db


def ts(minutes: float = 0) -> str:
    base = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    return (base + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def test_full_session_shows_in_rest_with_energy(server: Running) -> None:
    status, _ = await server.put("/api/v1/id-tags/TAG1", {"status": "Accepted"})
    assert status == 201
    async with charger16(server.ocpp_url, "CP1") as cp:
        boot = await cp.call(
            call.BootNotification(
                charge_point_model="M1",
                charge_point_vendor="V1",
                charge_point_serial_number="S1",
                firmware_version="1.2.3",
            )
        )
        assert boot.status == "Accepted"
        assert boot.interval == 300
        await cp.call(
            call.StatusNotification(connector_id=0, error_code="NoError", status="Available")
        )
        await cp.call(
            call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing")
        )
        auth = await cp.call(call.Authorize(id_tag="TAG1"))
        assert auth.id_tag_info["status"] == "Accepted"
        start = await cp.call(
            call.StartTransaction(connector_id=1, id_tag="TAG1", meter_start=1000, timestamp=ts())
        )
        assert start.id_tag_info["status"] == "Accepted"
        tx = start.transaction_id
        await cp.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[
                    {
                        "timestamp": ts(5),
                        "sampledValue": [
                            {
                                "value": "2500",
                                "measurand": "Energy.Active.Import.Register",
                                "unit": "Wh",
                            },
                            {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                            {
                                "value": "16.0",
                                "measurand": "Current.Import",
                                "phase": "L1",
                                "unit": "A",
                            },
                        ],
                    }
                ],
            )
        )
        status, live = await server.get(f"/api/v1/transactions/{tx}")
        assert status == 200
        assert live["active"] is True
        assert live["energy_wh"] == 1500.0
        await cp.call(
            call.StopTransaction(
                meter_stop=4000,
                timestamp=ts(30),
                transaction_id=tx,
                reason="EVDisconnected",
                id_tag="TAG1",
                transaction_data=[
                    {
                        "timestamp": ts(30),
                        "sampledValue": [
                            {"value": "4.0", "unit": "kWh", "context": "Transaction.End"}
                        ],
                    }
                ],
            )
        )
        status, station = await server.get("/api/v1/stations/CP1")
        assert status == 200
        assert station["connected"] is True
        assert station["protocol"] == "ocpp1.6"
        assert station["boot"]["vendor"] == "V1"
        assert station["boot"]["serial"] == "S1"
        assert station["last_seen"] is not None
        evses = {e["id"]: e["connectors"] for e in station["evses"]}
        assert evses[1][0]["status"] == "Preparing"
        assert evses[0][0]["status"] == "Available"
        status, listing = await server.get("/api/v1/stations")
        (listed,) = [s for s in listing["items"] if s["id"] == "CP1"]
        assert listed["evses"] == station["evses"]

    status, done = await server.get(f"/api/v1/transactions/{tx}")
    assert status == 200
    assert done["id"] == str(tx)
    assert done["station_id"] == "CP1"
    assert (done["evse_id"], done["connector_id"]) == (1, 1)
    assert done["id_token"] == "TAG1"
    assert done["meter_start_wh"] == 1000.0
    assert done["meter_stop_wh"] == 4000.0
    assert done["energy_wh"] == 3000.0
    assert done["stop_reason"] == "EVDisconnected"
    assert done["active"] is False
    measurands = [(m["measurand"], m["phase"], m["unit"]) for m in done["meter_values"]]
    assert ("Energy.Active.Import.Register", None, "Wh") in measurands
    assert ("Current.Import", "L1", "A") in measurands
    assert ("Energy.Active.Import.Register", None, "kWh") in measurands
    end = [m for m in done["meter_values"] if m["context"] == "Transaction.End"]
    assert end[0]["value"] == 4.0

    status, listing = await server.get("/api/v1/transactions?station_id=CP1&active=false")
    assert [t["id"] for t in listing["items"]] == [str(tx)]
    status, listing = await server.get("/api/v1/transactions?station_id=CP1&active=true")
    assert listing["items"] == []
    await asyncio.sleep(0)


async def test_authorize_statuses(server: Running) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    await server.put("/api/v1/id-tags/OK", {"status": "Accepted", "parent_id_tag": "FLEET"})
    await server.put("/api/v1/id-tags/BLOCKED", {"status": "Blocked"})
    await server.put("/api/v1/id-tags/OLD", {"status": "Accepted", "expiry_date": past})
    async with charger16(server.ocpp_url, "CP-AUTH") as cp:
        await cp.call(call.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        ok = await cp.call(call.Authorize(id_tag="OK"))
        assert ok.id_tag_info == {"status": "Accepted", "parent_id_tag": "FLEET"}
        assert (await cp.call(call.Authorize(id_tag="BLOCKED"))).id_tag_info["status"] == "Blocked"
        assert (await cp.call(call.Authorize(id_tag="OLD"))).id_tag_info["status"] == "Expired"
        assert (await cp.call(call.Authorize(id_tag="NOPE"))).id_tag_info["status"] == "Invalid"


async def test_resent_start_gets_same_transaction_and_is_stored_once(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-RESEND")
    try:
        await charger.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        start = {"connectorId": 1, "idTag": "T", "meterStart": 10, "timestamp": ts()}
        first = await charger.call("StartTransaction", start)
        # Same message id again (resend of an unanswered frame): same answer, no new row.
        again = await charger.exchange([2, "c2", "StartTransaction", start])
        assert again[2]["transactionId"] == first["transactionId"]
        # Replayed from the offline queue with a new message id: still the same transaction.
        replay = await charger.call("StartTransaction", start)
        assert replay["transactionId"] == first["transactionId"]
    finally:
        await charger.close()
    status, listing = await server.get("/api/v1/transactions?station_id=CP-RESEND")
    assert len(listing["items"]) == 1


async def test_concurrent_tx_for_token_active_elsewhere(server: Running) -> None:
    await server.put("/api/v1/id-tags/BUSY", {"status": "Accepted"})
    a = await RawCharger.connect(f"{server.ocpp_url}/CP-A")
    b = await RawCharger.connect(f"{server.ocpp_url}/CP-B")
    try:
        first = await a.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "BUSY", "meterStart": 0, "timestamp": ts()},
        )
        assert first["idTagInfo"]["status"] == "Accepted"
        second = await b.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "BUSY", "meterStart": 0, "timestamp": ts(1)},
        )
        assert second["idTagInfo"]["status"] == "ConcurrentTx"
        assert second["transactionId"] != first["transactionId"]
    finally:
        await a.close()
        await b.close()


async def test_stop_of_unknown_transaction_is_recorded(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-ORPHAN")
    stop = {
        "transactionId": -1,
        "meterStop": 5000,
        "timestamp": ts(60),
        "reason": "PowerLoss",
        "transactionData": [
            {
                "timestamp": ts(0),
                "sampledValue": [{"value": "1000", "context": "Transaction.Begin"}],
            }
        ],
    }
    try:
        assert await charger.call("StopTransaction", stop) == {}
        assert await charger.call("StopTransaction", stop) == {}  # resent: stored once
        await charger.call("StopTransaction", {**stop, "transactionId": 987654, "meterStop": 7000})
    finally:
        await charger.close()
    status, listing = await server.get("/api/v1/transactions?station_id=CP-ORPHAN")
    items = sorted(listing["items"], key=lambda t: t["meter_stop_wh"])
    assert len(items) == 2
    assert items[0]["extra"]["reported_transaction_id"] == -1
    assert items[0]["energy_wh"] == 4000.0
    assert items[0]["stop_reason"] == "PowerLoss"
    assert items[1]["extra"]["reported_transaction_id"] == 987654
    assert items[1]["meter_stop_wh"] == 7000.0


async def test_meter_values_in_kwh_per_phase(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-KWH")
    try:
        start = await charger.call(
            "StartTransaction",
            {"connectorId": 2, "idTag": "K", "meterStart": 2000, "timestamp": ts()},
        )
        tx = start["transactionId"]
        sampled = [
            {
                "value": f"{v}",
                "unit": "kWh",
                "phase": p,
                "measurand": "Energy.Active.Import.Register",
            }
            for p, v in (("L1", 1.5), ("L2", 1.5), ("L3", 2.0))
        ]
        await charger.call(
            "MeterValues",
            {
                "connectorId": 2,
                "transactionId": tx,
                "meterValue": [{"timestamp": ts(10), "sampledValue": sampled}],
            },
        )
    finally:
        await charger.close()
    status, view = await server.get(f"/api/v1/transactions/{tx}")
    assert view["energy_wh"] == 3000.0  # 5 kWh summed over phases minus 2 kWh at start
    assert (view["evse_id"], view["connector_id"]) == (2, 1)


async def test_id_tags_are_case_insensitive(server: Running) -> None:
    status, tag = await server.put("/api/v1/id-tags/04a2b3c4", {"status": "Accepted"})
    assert status == 201
    assert tag["id_tag"] == "04A2B3C4"
    assert (await server.get("/api/v1/id-tags/04a2B3c4"))[0] == 200
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-CASE")
    try:
        reply = await charger.call("Authorize", {"idTag": "04A2b3C4"})
        assert reply["idTagInfo"]["status"] == "Accepted"
    finally:
        await charger.close()


async def test_a_station_cannot_touch_another_stations_transaction(server: Running) -> None:
    # An accepted token: a refused start would be closed at once.
    await server.put("/api/v1/id-tags/O", {"status": "Accepted"})
    owner = await RawCharger.connect(f"{server.ocpp_url}/CP-OWNER")
    other = await RawCharger.connect(f"{server.ocpp_url}/CP-OTHER")
    try:
        start = await owner.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "O", "meterStart": 100, "timestamp": ts()},
        )
        tx = start["transactionId"]
        meter = {"timestamp": ts(1), "sampledValue": [{"value": "99999"}]}
        assert (
            await other.call(
                "MeterValues", {"connectorId": 1, "transactionId": tx, "meterValue": [meter]}
            )
            == {}
        )
        stop = {"transactionId": tx, "meterStop": 99999, "timestamp": ts(2)}
        assert await other.call("StopTransaction", stop) == {}
    finally:
        await owner.close()
        await other.close()
    status, view = await server.get(f"/api/v1/transactions/{tx}")
    assert view["station_id"] == "CP-OWNER"
    assert view["active"] is True
    assert view["energy_wh"] == 0.0
    assert view["meter_values"] == []
    # The other station's messages are kept as its own: an orphan stop and an event.
    status, listing = await server.get("/api/v1/transactions?station_id=CP-OTHER")
    assert [t["extra"]["reported_transaction_id"] for t in listing["items"]] == [tx]


async def test_finished_transactions_do_not_keep_actors(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-DONE")
    sessions = server.node.services.sessions
    try:
        start = await charger.call(
            "StartTransaction", {"connectorId": 1, "idTag": "D", "meterStart": 0, "timestamp": ts()}
        )
        stop = {"transactionId": start["transactionId"], "meterStop": 5, "timestamp": ts(1)}
        await charger.call("StopTransaction", stop)
        await charger.call("StopTransaction", stop)  # resent after a lost answer
        late = {"timestamp": ts(2), "sampledValue": [{"value": "5"}]}
        await charger.call(
            "MeterValues",
            {"connectorId": 1, "transactionId": start["transactionId"], "meterValue": [late]},
        )
    finally:
        await charger.close()
    # The session actors stop on their own tasks.
    await eventually(lambda: sessions.active_count() == 0)


async def test_rfc3339_timestamps_python_does_not_parse(server: Running) -> None:
    charger = await RawCharger.connect(f"{server.ocpp_url}/CP-TIME")
    try:
        start = await charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "X", "meterStart": 0, "timestamp": "2026-12-31t23:59:60z"},
        )
        sample = {"timestamp": "2026-12-31t23:59:60z", "sampledValue": [{"value": "7"}]}
        await charger.call(
            "MeterValues",
            {"connectorId": 1, "transactionId": start["transactionId"], "meterValue": [sample]},
        )
    finally:
        await charger.close()
    status, view = await server.get(f"/api/v1/transactions/{start['transactionId']}")
    assert view["start_time"] == "2026-12-31T23:59:59Z"
    assert view["energy_wh"] == 7.0
