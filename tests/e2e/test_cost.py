"""The cost of sessions (OCPP 2.0.1 I02, I03) with real chargers: 2.0.1 stations get the running
cost in their TransactionEvent responses and CostUpdated, and ``totalCost`` when the transaction
ends; 1.6 sessions have their cost on the transaction view; the tariff a session started with is
the one it keeps."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
from typing import Any

import pytest
from ocpp.v16 import call as call16

from csms.station.features import FeatureContext
from csms.tariffs.loop import bind_loop
from csms.tariffs.start import bind_at_start
from persistence.sqltypes import utcnow
from persistence.tariffs import Scope, binding_of
from persistence.transactions import mark_stale_transactions
from tests.ocpp_charger import charger16
from tests.ocpp_charger2 import Charger21, Charger201, charger2, charger201
from tests.raw_charger import RawCharger
from tests.server_fixtures import Running
from tests.timing import UNIT, eventually
from tests.v2_calls import boot_payload, call2, energy, transaction_event, ts

TARIFF: dict[str, Any] = {
    "name": "Standard AC",
    "currency": "EUR",
    "energy_price": "0.30",
    "session_fee": "1.00",
    "tax_rate": "19",
    "text": "0.30 EUR/kWh + 1 EUR",
    "cost_update_minutes": 0,
}
TOKEN = {"idToken": "TAG-COST", "type": "ISO14443"}


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    """On SQLite and on PostgreSQL."""
    return server_on_each_db


async def _tariff(server: Running, tariff_id: str, body: dict[str, Any], **where: Any) -> None:
    status, created = await server.put(f"/api/v1/tariffs/{tariff_id}", body)
    assert status in (200, 201), created
    if where:
        status, assigned = await server.put(f"/api/v1/tariffs/{tariff_id}/assignments", where)
        assert status == 200, assigned


async def _started(cp: Any, tx: str, *, minutes: float = 0, wh: float = 1000) -> dict[str, Any]:
    return await call2(
        cp,
        "TransactionEvent",
        transaction_event(
            "Started",
            0,
            tx,
            minutes=minutes,
            trigger="Authorized",
            meter=[energy(wh, minutes, "Transaction.Begin")],
            idToken=TOKEN,
            evse={"id": 1, "connectorId": 1},
            info={"chargingState": "Charging"},
        ),
    )


async def _updated(cp: Any, tx: str, seq_no: int, *, minutes: float, wh: float) -> dict[str, Any]:
    return await call2(
        cp,
        "TransactionEvent",
        transaction_event(
            "Updated",
            seq_no,
            tx,
            minutes=minutes,
            trigger="MeterValuePeriodic",
            meter=[energy(wh, minutes)],
            info={"chargingState": "Charging"},
        ),
    )


async def _ended(cp: Any, tx: str, seq_no: int, *, minutes: float, wh: float) -> dict[str, Any]:
    return await call2(
        cp,
        "TransactionEvent",
        transaction_event(
            "Ended",
            seq_no,
            tx,
            minutes=minutes,
            trigger="EVDeparted",
            meter=[energy(wh, minutes, "Transaction.End")],
            info={"stoppedReason": "EVDisconnected", "chargingState": "Idle"},
        ),
    )


def _cost_updates(cp: Charger201 | Charger21) -> list[tuple[float, str]]:
    return [(c["total_cost"], c["transaction_id"]) for c in cp.calls("CostUpdated")]


def _events(server: Running, kind: str) -> list[dict[str, Any]]:
    return [e.data for e in server.node.api_state.events.recent() if e.type == kind]


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
async def test_a_2_x_session_is_told_its_cost_and_its_total(server: Running, version: str) -> None:
    await server.put("/api/v1/id-tags/TAG-COST", {"status": "Accepted", "type": "ISO14443"})
    await _tariff(server, "std", TARIFF, default=True)
    async with charger2(server.ocpp_url, "CS-COST", version) as cp:
        await call2(cp, "BootNotification", boot_payload())
        started = await _started(cp, "tx-1")
        # 1.00 fee + 19 % tax; the driver sees the tariff's text with it, and never totalCost.
        assert started["updatedPersonalMessage"] == {
            "format": "UTF8",
            "content": "0.30 EUR/kWh + 1 EUR | Cost so far: 1.19 EUR",
        }
        assert "totalCost" not in started
        await eventually(lambda: _cost_updates(cp) == [(1.19, "tx-1")])

        # 3 kWh: 0.90 + 1.00 = 1.90 net, 0.36 tax.
        updated = await _updated(cp, "tx-1", 1, minutes=10, wh=4000)
        assert updated["updatedPersonalMessage"]["content"] == "Cost so far: 2.26 EUR"
        # 2.0.1: totalCost only once charging has ended; 2.1: the running cost on Updated.
        assert updated.get("totalCost") == (2.26 if version == "ocpp2.1" else None)
        await eventually(lambda: _cost_updates(cp) == [(1.19, "tx-1"), (2.26, "tx-1")])
        status, live = await server.get("/api/v1/transactions/CS-COST,tx-1")
        assert status == 200
        assert live["active"] is True
        assert live["cost"]["currency"] == "EUR"

        # 10 kWh: 3.00 + 1.00 = 4.00 net, 0.76 tax, 4.76 in all (2.0.1 I03).
        ended = await _ended(cp, "tx-1", 2, minutes=40, wh=11000)
        assert ended["totalCost"] == 4.76
        assert ended["updatedPersonalMessage"]["content"] == "Total cost: 4.76 EUR"
        # A resent Ended gets the same answer.
        assert (await _ended(cp, "tx-1", 2, minutes=40, wh=11000))["totalCost"] == 4.76
        # No CostUpdated once it has ended: a call sent after the end is the next one it gets.
        status, _ = await server.command("CS-COST", "ClearCache", {})
        assert status == 200
        assert [name for name, _ in cp.received][-1] == "ClearCache"
        assert len(_cost_updates(cp)) == 2

    status, tx = await server.get("/api/v1/transactions/CS-COST,tx-1")
    assert status == 200
    assert tx["cost"] == {
        "currency": "EUR",
        "net": "4.00",
        "tax": "0.76",
        "total": "4.76",
        "energy": "3.00",
        "time": "0.00",
        "fee": "1.00",
        "idle": "0.00",
        "tariff_id": "std",
    }
    status, page = await server.get("/api/v1/transactions", params={"station_id": "CS-COST"})
    assert page["items"][0]["cost"] == tx["cost"]
    totals = [e["total"] for e in _events(server, "transaction.cost")]
    assert totals == ["1.19", "2.26", "4.76"]

    async with server.http.get(
        server.api_url + "/api/v1/transactions", headers={"Accept": "text/csv"}
    ) as r:
        assert r.status == 200
        rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert len(rows) == 1
    assert {
        k: rows[0][k] for k in rows[0] if k.startswith("cost_") or k in ("currency", "tariff_id")
    } == {
        "currency": "EUR",
        "cost_energy": "3.00",
        "cost_time": "0.00",
        "cost_fee": "1.00",
        "cost_idle": "0.00",
        "cost_net": "4.00",
        "cost_tax": "0.76",
        "cost_total": "4.76",
        "tariff_id": "std",
    }


@pytest.mark.parametrize("version", ["ocpp2.0.1", "ocpp2.1"])
async def test_the_final_total_is_published_once_even_when_the_end_leaves_it_unchanged(
    server: Running, version: str
) -> None:
    """A billing consumer waits for ``ended: true``: an Ended that adds no energy still brings
    it, once (a resent Ended does not repeat it)."""
    await server.put("/api/v1/id-tags/TAG-COST", {"status": "Accepted", "type": "ISO14443"})
    await _tariff(server, "std", TARIFF, default=True)
    async with charger2(server.ocpp_url, "CS-FINAL", version) as cp:
        await call2(cp, "BootNotification", boot_payload())
        await _started(cp, "tx-f")
        await _updated(cp, "tx-f", 1, minutes=10, wh=4000)
        ended = await _ended(cp, "tx-f", 2, minutes=10, wh=4000)
        assert ended["totalCost"] == 2.26
        assert (await _ended(cp, "tx-f", 2, minutes=10, wh=4000))["totalCost"] == 2.26
        # A call sent after the resend is answered: both answers have published what they do.
        status, _ = await server.command("CS-FINAL", "ClearCache", {})
        assert status == 200

    published = [
        (e["total"], e["ended"])
        for e in _events(server, "transaction.cost")
        if e["transaction_id"] == "CS-FINAL,tx-f"
    ]
    assert published == [("1.19", False), ("2.26", False), ("2.26", True)]


async def test_cost_updated_is_throttled_per_transaction(server: Running) -> None:
    await server.put("/api/v1/id-tags/TAG-COST", {"status": "Accepted"})
    await server.put("/api/v1/stations/CS-THR", {"allowed": True})
    await _tariff(server, "hourly", {**TARIFF, "cost_update_minutes": 60}, stations=["CS-THR"])
    async with charger201(server.ocpp_url, "CS-THR") as cp:
        await call2(cp, "BootNotification", boot_payload())
        await _started(cp, "tx-a")
        await eventually(lambda: _cost_updates(cp) == [(1.19, "tx-a")])
        for seq_no in range(1, 4):
            updated = await _updated(cp, "tx-a", seq_no, minutes=seq_no, wh=1000 + 1000 * seq_no)
            # The response still shows the running cost every time.
            assert updated["updatedPersonalMessage"]["content"].startswith("Cost so far")
        # Another transaction has its own clock.
        await _started(cp, "tx-b")
        await eventually(lambda: len(_cost_updates(cp)) == 2)
        status, _ = await server.command("CS-THR", "ClearCache", {})
        assert status == 200
        assert _cost_updates(cp) == [(1.19, "tx-a"), (1.19, "tx-b")]


async def test_a_session_keeps_the_tariff_it_started_with(server: Running) -> None:
    """Edits of the tariff and of the assignments during the session, and the station
    reconnecting, leave its price as it started; the next session pays the new price."""
    await server.put("/api/v1/id-tags/TAG-COST", {"status": "Accepted"})
    await server.put("/api/v1/stations/CS-KEEP", {"allowed": True})
    await _tariff(server, "site", {**TARIFF, "cost_update_minutes": None}, stations=["CS-KEEP"])
    async with charger201(server.ocpp_url, "CS-KEEP") as cp:
        await call2(cp, "BootNotification", boot_payload())
        await _started(cp, "tx-1")
        await _updated(cp, "tx-1", 1, minutes=10, wh=4000)
    await _tariff(server, "site", {**TARIFF, "energy_price": "0.60", "session_fee": None})
    await _tariff(server, "dear", {**TARIFF, "energy_price": "2"}, default=True)
    status, _ = await server.put("/api/v1/tariffs/site/assignments", {})
    assert status == 200
    async with charger201(server.ocpp_url, "CS-KEEP") as cp:
        await call2(cp, "BootNotification", boot_payload())
        ended = await _ended(cp, "tx-1", 2, minutes=40, wh=11000)
        assert ended["totalCost"] == 4.76
        assert cp.calls("CostUpdated") == []
        # The next session: the default tariff now (2 EUR/kWh, 1 EUR fee): 21.00 net.
        await _started(cp, "tx-2", minutes=50, wh=11000)
        ended = await _ended(cp, "tx-2", 1, minutes=60, wh=21000)
        assert ended["totalCost"] == 24.99
    status, tx = await server.get("/api/v1/transactions/CS-KEEP,tx-1")
    assert (tx["cost"]["tariff_id"], tx["cost"]["total"]) == ("site", "4.76")
    assert await server.delete("/api/v1/tariffs/dear") == 204
    status, tx = await server.get("/api/v1/transactions/CS-KEEP,tx-2")
    assert (tx["cost"]["tariff_id"], tx["cost"]["total"]) == ("dear", "24.99")


async def test_without_a_tariff_a_session_has_no_cost(server: Running) -> None:
    await server.put("/api/v1/id-tags/TAG-COST", {"status": "Accepted"})
    async with charger201(server.ocpp_url, "CS-FREE") as cp:
        await call2(cp, "BootNotification", boot_payload())
        assert await _started(cp, "tx-1") == {"idTokenInfo": {"status": "Accepted"}}
        assert await _ended(cp, "tx-1", 1, minutes=30, wh=5000) == {}
        # A tariff created after the start does not reach back to it.
        await _tariff(server, "late", TARIFF, default=True)
        status, _ = await server.command("CS-FREE", "ClearCache", {})
        assert status == 200
        assert cp.calls("CostUpdated") == []
    status, tx = await server.get("/api/v1/transactions/CS-FREE,tx-1")
    assert tx["cost"] is None
    async with server.http.get(
        server.api_url + "/api/v1/transactions", headers={"Accept": "text/csv"}
    ) as r:
        rows = list(csv.DictReader(io.StringIO(await r.text())))
    assert rows[0]["cost_total"] == rows[0]["currency"] == rows[0]["tariff_id"] == ""


async def test_a_station_that_does_not_support_cost_updated_keeps_charging(
    server: Running,
) -> None:
    await server.put("/api/v1/id-tags/TAG-COST", {"status": "Accepted"})
    await _tariff(server, "std", TARIFF, default=True)
    charger = await RawCharger.connect(f"{server.ocpp_url}/CS-RAW", subprotocols=["ocpp2.0.1"])
    try:
        await charger.call("BootNotification", boot_payload())
        started = await charger.call(
            "TransactionEvent",
            transaction_event(
                "Started",
                0,
                "tx-1",
                minutes=0,
                trigger="Authorized",
                meter=[energy(1000, 0, "Transaction.Begin")],
                idToken=TOKEN,
                evse={"id": 1, "connectorId": 1},
            ),
        )
        assert started["updatedPersonalMessage"]["content"].endswith("1.19 EUR")
        # It answers CostUpdated with a CALLERROR NotImplemented (no handler).
        await eventually(lambda: [a for a, _ in charger.received_calls] == ["CostUpdated"])
        ended = await charger.call(
            "TransactionEvent",
            transaction_event(
                "Ended",
                1,
                "tx-1",
                minutes=20,
                trigger="EVDeparted",
                meter=[energy(2000, 20, "Transaction.End")],
                info={"stoppedReason": "Local"},
            ),
        )
        assert ended["totalCost"] == 1.55
    finally:
        await charger.close()


async def test_a_1_6_session_has_its_cost_on_the_view(server: Running) -> None:
    """1.6 has no cost message; the group's tariff wins over the station's, and an edit during
    the session leaves its price as it started."""
    await server.put("/api/v1/id-tags/FLEET-1", {"status": "Accepted"})
    await server.put("/api/v1/id-tags/CARD-1", {"status": "Accepted", "parent_id_tag": "fleet-1"})
    await server.put("/api/v1/id-tags/CARD-2", {"status": "Accepted"})
    await server.put("/api/v1/stations/CS-16", {"allowed": True})
    await _tariff(server, "station", {**TARIFF, "energy_price": "0.50"}, stations=["CS-16"])
    await _tariff(
        server,
        "fleet",
        {**TARIFF, "energy_price": "0.25", "session_fee": None, "tax_rate": 0},
        id_token_groups=["FLEET-1"],
    )
    async with charger16(server.ocpp_url, "CS-16") as cp:
        await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        fleet = await cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag="CARD-1", meter_start=1000, timestamp=ts(0)
            )
        )
        other = await cp.call(
            call16.StartTransaction(
                connector_id=2, id_tag="CARD-2", meter_start=500, timestamp=ts(0)
            )
        )
        # Edited while both run: neither session sees it.
        await _tariff(server, "fleet", {**TARIFF, "energy_price": "5", "tax_rate": 0})
        await _tariff(server, "station", {**TARIFF, "energy_price": "5"})
        await cp.call(
            call16.StopTransaction(
                meter_stop=5000, timestamp=ts(30), transaction_id=fleet.transaction_id
            )
        )
        await cp.call(
            call16.StopTransaction(
                meter_stop=2500, timestamp=ts(30), transaction_id=other.transaction_id
            )
        )
    status, tx = await server.get(f"/api/v1/transactions/{fleet.transaction_id}")
    assert status == 200
    # 4 kWh at 0.25, no fee, no tax.
    assert (tx["cost"]["tariff_id"], tx["cost"]["total"], tx["cost"]["tax"]) == (
        "fleet",
        "1.00",
        "0.00",
    )
    status, tx = await server.get(f"/api/v1/transactions/{other.transaction_id}")
    # 2 kWh at 0.50 + 1.00 fee = 2.00 net, 0.38 tax.
    assert (tx["cost"]["tariff_id"], tx["cost"]["net"], tx["cost"]["total"]) == (
        "station",
        "2.00",
        "2.38",
    )


async def test_1_6_sessions_are_bound_at_start_and_priced_by_the_leading_members_loop(
    server: Running,
) -> None:
    """A 1.6 session is bound to its tariff when its start is answered; no 1.6 message carries
    its cost, so the loop of the leading member publishes its running total when it changes."""
    await server.put("/api/v1/id-tags/CARD-1", {"status": "Accepted"})
    await _tariff(server, "std", TARIFF, default=True)
    node = server.node
    rounds = 0
    leading = False

    def leads() -> bool:
        nonlocal rounds
        rounds += 1
        return leading

    def totals(transaction_id: str) -> list[tuple[str, bool]]:
        return [
            (e["total"], e["ended"])
            for e in _events(server, "transaction.cost")
            if e["transaction_id"] == transaction_id
        ]

    context = FeatureContext(
        reads=node.api_state.reads,
        writer=node.writer,
        router=node.api_state.router,
        events=node.events,
        member="test",
        leads=leads,
        data_dir=node.settings.data_dir,
    )
    async with charger16(server.ocpp_url, "CS-LOOP") as cp:
        await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        started = await cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag="CARD-1", meter_start=1000, timestamp=ts(0)
            )
        )
        transaction_id = str(started.transaction_id)
        loop = asyncio.create_task(bind_loop(context, interval=UNIT / 5))
        try:
            binding = await binding_of(node.api_state.reads, transaction_id)
            assert binding is not None and binding.tariff is not None
            await eventually(lambda: rounds >= 3)
            assert totals(transaction_id) == []
            leading = True
            assert (binding.tariff.id, binding.resolved_by) == ("std", Scope.DEFAULT)
            await eventually(lambda: totals(transaction_id) == [("1.19", False)])
            await cp.call(
                call16.MeterValues(
                    connector_id=1,
                    transaction_id=started.transaction_id,
                    meter_value=[
                        {
                            "timestamp": ts(10),
                            "sampledValue": [
                                {"value": "4000", "measurand": "Energy.Active.Import.Register"}
                            ],
                        }
                    ],
                )
            )
            await eventually(lambda: totals(transaction_id)[-1:] == [("2.26", False)])
            await cp.call(
                call16.StopTransaction(
                    meter_stop=11000, timestamp=ts(40), transaction_id=started.transaction_id
                )
            )
            await eventually(lambda: totals(transaction_id)[-1:] == [("4.76", True)])
            # Published once: the rounds after it find the total unchanged.
            seen = rounds
            await eventually(lambda: rounds >= seen + 3)
            assert totals(transaction_id) == [("1.19", False), ("2.26", False), ("4.76", True)]
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop


async def test_idle_time_after_charging_costs_beyond_the_grace_period(server: Running) -> None:
    await server.put("/api/v1/id-tags/TAG-COST", {"status": "Accepted"})
    idle = {
        **TARIFF,
        "energy_price": None,
        "session_fee": None,
        "tax_rate": 0,
        "idle_price": "0.10",
        "idle_grace_minutes": 15,
        "charging_time_price": "1.20",
    }
    await _tariff(server, "idle", idle, default=True)
    async with charger201(server.ocpp_url, "CS-IDLE") as cp:
        await call2(cp, "BootNotification", boot_payload())
        await _started(cp, "tx-1")  # Charging from minute 0
        full = transaction_event(
            "Updated",
            1,
            "tx-1",
            minutes=20,
            trigger="ChargingStateChanged",
            info={"chargingState": "SuspendedEV"},
        )
        # 20 min charging at 1.20 per hour: 0.40; the car is full and stays.
        assert (await call2(cp, "TransactionEvent", full))["updatedPersonalMessage"][
            "content"
        ] == "Cost so far: 0.40 EUR"
        # 40 min idle, 15 free: 25 min at 0.10.
        ended = await _ended(cp, "tx-1", 2, minutes=60, wh=5000)
        assert ended["totalCost"] == 2.90
    status, tx = await server.get("/api/v1/transactions/CS-IDLE,tx-1")
    assert (tx["cost"]["time"], tx["cost"]["idle"], tx["cost"]["total"]) == ("0.40", "2.50", "2.90")


async def test_a_1_6_start_that_was_refused_costs_nothing(server: Running) -> None:
    """1.6 section 4.8: a start answered Blocked or ConcurrentTx is not a session the driver pays
    for (no session fee), even when the station sends its own stop afterwards."""
    await server.put("/api/v1/id-tags/CARD-OK", {"status": "Accepted"})
    await server.put("/api/v1/id-tags/CARD-BLOCKED", {"status": "Blocked"})
    await _tariff(server, "std", TARIFF, default=True)
    async with charger16(server.ocpp_url, "CS-REF") as cp:
        await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        accepted = await cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag="CARD-OK", meter_start=0, timestamp=ts(0)
            )
        )
        blocked = await cp.call(
            call16.StartTransaction(
                connector_id=2, id_tag="CARD-BLOCKED", meter_start=0, timestamp=ts(0)
            )
        )
        concurrent = await cp.call(
            call16.StartTransaction(
                connector_id=3, id_tag="CARD-OK", meter_start=0, timestamp=ts(1)
            )
        )
        assert (blocked.id_tag_info["status"], concurrent.id_tag_info["status"]) == (
            "Blocked",
            "ConcurrentTx",
        )
        await cp.call(
            call16.StopTransaction(
                meter_stop=10, timestamp=ts(2), transaction_id=concurrent.transaction_id
            )
        )
    reads = server.node.api_state.reads
    status, tx = await server.get(f"/api/v1/transactions/{accepted.transaction_id}")
    assert tx["cost"]["total"] == "1.19"
    for refused in (blocked, concurrent):
        status, tx = await server.get(f"/api/v1/transactions/{refused.transaction_id}")
        assert status == 200
        assert tx["cost"] is None
        # Bound (by the first tariff edit after it) to no tariff.
        await _tariff(server, "std", {**TARIFF, "name": "edited"})
        binding = await binding_of(reads, str(refused.transaction_id))
        assert binding is not None and binding.tariff is None


async def test_a_1_6_session_bound_at_its_start_keeps_the_group_it_had(server: Running) -> None:
    """``bind_at_start`` (called once the 1.6 start is committed) reads the token's group then: a
    group given to the token later does not change the session's tariff."""
    await server.put("/api/v1/id-tags/FLEET-9", {"status": "Accepted"})
    await server.put("/api/v1/id-tags/CARD-9", {"status": "Accepted"})
    await server.put("/api/v1/stations/CS-AT", {"allowed": True})
    await _tariff(server, "station", TARIFF, stations=["CS-AT"])
    fleet = {**TARIFF, "energy_price": "0.10", "session_fee": None}
    await _tariff(server, "fleet", fleet, id_token_groups=["FLEET-9"])
    async with charger16(server.ocpp_url, "CS-AT") as cp:
        await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        started = await cp.call(
            call16.StartTransaction(connector_id=1, id_tag="CARD-9", meter_start=0, timestamp=ts(0))
        )
        transaction_id = str(started.transaction_id)
        await bind_at_start(server.node.services, transaction_id)
        binding = await binding_of(server.node.api_state.reads, transaction_id)
        assert binding is not None and binding.tariff is not None
        assert (binding.tariff.id, binding.resolved_by) == ("station", Scope.STATION)
        status, _ = await server.put(
            "/api/v1/id-tags/CARD-9", {"status": "Accepted", "parent_id_tag": "FLEET-9"}
        )
        assert status in (200, 201)
        await cp.call(
            call16.StopTransaction(
                meter_stop=2000, timestamp=ts(10), transaction_id=started.transaction_id
            )
        )
    status, tx = await server.get(f"/api/v1/transactions/{transaction_id}")
    # 2 kWh at 0.30 + 1.00 fee = 1.60 net, 0.30 tax: the station's tariff, not the fleet's.
    assert (tx["cost"]["tariff_id"], tx["cost"]["total"]) == ("station", "1.90")
    # Binding again changes nothing: the first binding stands.
    await bind_at_start(server.node.services, transaction_id)
    again = await binding_of(server.node.api_state.reads, transaction_id)
    assert again is not None and again.tariff is not None
    assert (again.tariff.id, again.bound_at) == ("station", binding.bound_at)


async def test_a_stale_session_is_priced_up_to_its_last_news(server: Running) -> None:
    """A session its station never ended (flagged stale: the station lost power) does not keep
    costing time to this day; an open one does."""
    await server.put("/api/v1/id-tags/CARD-1", {"status": "Accepted"})
    await server.put("/api/v1/id-tags/CARD-2", {"status": "Accepted"})
    per_second = {**TARIFF, "session_fee": None, "connected_time_price": "3600"}
    await _tariff(server, "hourly", per_second, default=True)

    async def total(transaction_id: int) -> str:
        status, tx = await server.get(f"/api/v1/transactions/{transaction_id}")
        assert status == 200
        return str(tx["cost"]["total"])

    now = utcnow().isoformat()
    async with charger16(server.ocpp_url, "CS-STALE") as cp:
        await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        lost = await cp.call(
            call16.StartTransaction(connector_id=1, id_tag="CARD-1", meter_start=0, timestamp=now)
        )
        assert await mark_stale_transactions(server.node.api_state.engine, older_than=utcnow())
        running = await cp.call(
            call16.StartTransaction(connector_id=2, id_tag="CARD-2", meter_start=0, timestamp=now)
        )
    stale_total, running_total = (
        await total(lost.transaction_id),
        await total(running.transaction_id),
    )

    async def running_cost_moved() -> bool:
        return await total(running.transaction_id) != running_total

    await eventually(running_cost_moved)
    assert await total(lost.transaction_id) == stale_total


async def test_a_2_x_session_plugged_in_first_gets_the_tariff_of_the_token_that_comes_later(
    server: Running,
) -> None:
    """2.0.1 E02 (cable plugin first): the transaction starts before the driver identifies; it is
    bound when the token arrives, so a fleet card gets its group's tariff, and the tariffs loop
    leaves it alone meanwhile."""
    await server.put("/api/v1/id-tags/FLEET-2", {"status": "Accepted"})
    await server.put("/api/v1/id-tags/CARD-F", {"status": "Accepted", "parent_id_tag": "FLEET-2"})
    await _tariff(server, "std", TARIFF, default=True)
    fleet = {**TARIFF, "energy_price": "0.20", "session_fee": None, "tax_rate": 0, "text": "Fleet"}
    await _tariff(server, "fleet", fleet, id_token_groups=["FLEET-2"])
    reads = server.node.api_state.reads
    async with charger201(server.ocpp_url, "CS-PLUG") as cp:
        await call2(cp, "BootNotification", boot_payload())
        plugged = await call2(
            cp,
            "TransactionEvent",
            transaction_event(
                "Started",
                0,
                "tx-p",
                minutes=0,
                trigger="CablePluggedIn",
                meter=[energy(1000, 0, "Transaction.Begin")],
                evse={"id": 1, "connectorId": 1},
                info={"chargingState": "EVConnected"},
            ),
        )
        assert plugged == {}
        # An edit meanwhile (it binds what it could affect) leaves it unbound too.
        await _tariff(server, "std", {**TARIFF, "name": "edited"})
        assert await binding_of(reads, "CS-PLUG,tx-p") is None
        status, view = await server.get("/api/v1/transactions/CS-PLUG,tx-p")
        assert (status, view["cost"]) == (200, None)
        authorized = await call2(
            cp,
            "TransactionEvent",
            transaction_event(
                "Updated",
                1,
                "tx-p",
                minutes=2,
                trigger="Authorized",
                idToken={"idToken": "CARD-F", "type": "ISO14443"},
                info={"chargingState": "Charging"},
            ),
        )
        assert authorized["idTokenInfo"]["status"] == "Accepted"
        # The tariff's text comes with the first cost the driver sees.
        assert authorized["updatedPersonalMessage"]["content"] == "Fleet | Cost so far: 0.00 EUR"
        ended = await _ended(cp, "tx-p", 2, minutes=30, wh=6000)
        # 5 kWh at 0.20, no fee, no tax.
        assert ended["totalCost"] == 1.0
        assert ended["updatedPersonalMessage"]["content"] == "Total cost: 1.00 EUR"
    binding = await binding_of(reads, "CS-PLUG,tx-p")
    assert binding is not None and binding.tariff is not None
    assert (binding.tariff.id, binding.resolved_by) == ("fleet", Scope.ID_TOKEN_GROUP)


async def test_a_1_6_session_that_ends_at_its_last_total_still_gets_its_final_event(
    server: Running,
) -> None:
    """The final ``transaction.cost`` (``ended: true``) is published once even when the stop adds
    nothing to the last running total: a billing consumer waits for it."""
    await server.put("/api/v1/id-tags/CARD-F", {"status": "Accepted"})
    await _tariff(server, "std", TARIFF, default=True)
    node = server.node
    context = FeatureContext(
        reads=node.api_state.reads,
        writer=node.writer,
        router=node.api_state.router,
        events=node.events,
        member="test",
        leads=lambda: True,
        data_dir=node.settings.data_dir,
    )

    def totals(transaction_id: str) -> list[tuple[str, bool]]:
        return [
            (e["total"], e["ended"])
            for e in _events(server, "transaction.cost")
            if e["transaction_id"] == transaction_id
        ]

    async with charger16(server.ocpp_url, "CS-FINAL") as cp:
        await cp.call(call16.BootNotification(charge_point_model="M", charge_point_vendor="V"))
        started = await cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag="CARD-F", meter_start=1000, timestamp=ts(0)
            )
        )
        transaction_id = str(started.transaction_id)
        loop = asyncio.create_task(bind_loop(context, interval=UNIT / 5))
        try:
            await eventually(lambda: totals(transaction_id) == [("1.19", False)])
            # Stopped at the start's register, at the start's minute: nothing more to pay.
            await cp.call(
                call16.StopTransaction(
                    meter_stop=1000, timestamp=ts(0), transaction_id=started.transaction_id
                )
            )
            await eventually(lambda: totals(transaction_id)[-1:] == [("1.19", True)])
            rounds_later = asyncio.create_task(asyncio.sleep(10 * UNIT))
            await rounds_later
            assert totals(transaction_id) == [("1.19", False), ("1.19", True)]
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
