"""Transactions that never block their token: refused starts and transactions left behind are
closed, and ConcurrentTx is decided in the commit of the start, on 1.6 and 2.0.1, SQLite and
PostgreSQL, one node or two on one database."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.raw_charger import RawCharger
from tests.server_fixtures import Running, StartServer
from tests.v2_calls import boot_payload, energy, transaction_event, ts

BOOT16 = {"chargePointVendor": "V", "chargePointModel": "M"}


@pytest.fixture
def server(server_on_each_db: Running) -> Running:
    """Every test of this module runs on SQLite and on PostgreSQL."""
    return server_on_each_db


async def _accept(server: Running, *tags: str) -> None:
    for tag in tags:
        status, body = await server.put(f"/api/v1/id-tags/{tag}", {"status": "Accepted"})
        assert status in (200, 201), body


async def _v16(server: Running, station_id: str) -> RawCharger:
    charger = await RawCharger.connect(f"{server.ocpp_url}/{station_id}")
    assert (await charger.call("BootNotification", BOOT16))["status"] == "Accepted"
    return charger


async def _v201(server: Running, station_id: str) -> RawCharger:
    charger = await RawCharger.connect(
        f"{server.ocpp_url}/{station_id}", subprotocols=["ocpp2.0.1"]
    )
    assert (await charger.call("BootNotification", boot_payload()))["status"] == "Accepted"
    return charger


def _start16(tag: str, minutes: float, *, connector: int = 1, meter: int = 1000) -> dict[str, Any]:
    return {"connectorId": connector, "idTag": tag, "meterStart": meter, "timestamp": ts(minutes)}


def _meter16(tx: int, wh: int, minutes: float, connector: int = 1) -> dict[str, Any]:
    return {
        "connectorId": connector,
        "transactionId": tx,
        "meterValue": [{"timestamp": ts(minutes), "sampledValue": [{"value": str(wh)}]}],
    }


def _started2(tx: str, tag: str, minutes: float, *, evse: int = 1) -> dict[str, Any]:
    return transaction_event(
        "Started",
        0,
        tx,
        minutes=minutes,
        trigger="Authorized",
        meter=[energy(1000, minutes, "Transaction.Begin")],
        idToken={"idToken": tag, "type": "ISO14443"},
        evse={"id": evse, "connectorId": 1},
    )


async def _transaction(server: Running, transaction_id: str | int) -> dict[str, Any]:
    status, view = await server.get(f"/api/v1/transactions/{transaction_id}")
    assert status == 200, view
    assert isinstance(view, dict)
    return view


async def test_v16_a_reboot_abandons_the_open_transaction_and_frees_its_token(
    server: Running,
) -> None:
    """The reported bug: a station rebooted during a session; a fresh charger then got Authorize
    Accepted and StartTransaction ConcurrentTx for the same card."""
    await _accept(server, "DRIVER")
    old = await _v16(server, "CP-REBOOTS")
    fresh = await _v16(server, "CP-FRESH")
    try:
        start = await old.call("StartTransaction", _start16("DRIVER", 0))
        assert start["idTagInfo"]["status"] == "Accepted"
        tx = start["transactionId"]
        assert await old.call("MeterValues", _meter16(tx, 1600, 5)) == {}
        # The station reboots: what it was running is gone from it.
        assert (await old.call("BootNotification", BOOT16))["status"] == "Accepted"
        view = await _transaction(server, tx)
        assert view["active"] is False
        assert view["stop_reason"] == "Abandoned"
        assert view["energy_wh"] == 600.0  # the energy recorded stays
        assert (await fresh.call("Authorize", {"idTag": "DRIVER"}))["idTagInfo"][
            "status"
        ] == "Accepted"
        again = await fresh.call("StartTransaction", _start16("DRIVER", 8))
        assert again["idTagInfo"]["status"] == "Accepted"
        # The rebooted station still reports the end of the old one: recorded against it.
        stop = {"transactionId": tx, "meterStop": 1800, "timestamp": ts(6), "reason": "Reboot"}
        assert await old.call("StopTransaction", stop) == {}
        view = await _transaction(server, tx)
        assert (view["stop_reason"], view["meter_stop_wh"], view["energy_wh"]) == (
            "Reboot",
            1800.0,
            800.0,
        )
        # ... and it frees nothing that the fresh transaction holds.
        third = await _v16(server, "CP-THIRD")
        try:
            refused = await third.call("StartTransaction", _start16("DRIVER", 9))
            assert refused["idTagInfo"]["status"] == "ConcurrentTx"
        finally:
            await third.close()
        assert (await _transaction(server, again["transactionId"]))["active"] is True
    finally:
        await old.close()
        await fresh.close()


async def test_v16_a_refused_start_is_closed_and_blocks_nothing(server: Running) -> None:
    await _accept(server, "CARD")
    a = await _v16(server, "CP-A")
    b = await _v16(server, "CP-B")
    try:
        first = await a.call("StartTransaction", _start16("CARD", 0))
        assert first["idTagInfo"]["status"] == "Accepted"
        second = await b.call("StartTransaction", _start16("CARD", 1))
        assert second["idTagInfo"]["status"] == "ConcurrentTx"
        view = await _transaction(server, second["transactionId"])
        assert view["active"] is False
        assert view["stop_reason"] == "DeAuthorized"
        assert view["extra"]["authorization"] == "ConcurrentTx"
        # A resend of the refused start (its answer was lost) gets the same answer.
        resent = await b.call("StartTransaction", _start16("CARD", 1))
        assert resent == second
        # An unknown card is refused and closed too; the charger's own stop still lands.
        invalid = await b.call("StartTransaction", _start16("NOBODY", 2, connector=2))
        assert invalid["idTagInfo"]["status"] == "Invalid"
        assert (await _transaction(server, invalid["transactionId"]))["active"] is False
        stop = {
            "transactionId": invalid["transactionId"],
            "meterStop": 1010,
            "timestamp": ts(2.5),
            "reason": "DeAuthorized",
        }
        assert await b.call("StopTransaction", stop) == {}
        view = await _transaction(server, invalid["transactionId"])
        assert (view["meter_stop_wh"], view["energy_wh"]) == (1010.0, 10.0)
        # The card's real session ends: it may start anywhere again.
        stop = {"transactionId": first["transactionId"], "meterStop": 1500, "timestamp": ts(3)}
        assert await a.call("StopTransaction", stop) == {}
        third = await b.call("StartTransaction", _start16("CARD", 4))
        assert third["idTagInfo"]["status"] == "Accepted"
        assert (await _transaction(server, third["transactionId"]))["active"] is True
    finally:
        await a.close()
        await b.close()


async def test_v16_a_new_start_on_the_same_connector_abandons_the_open_one(
    server: Running,
) -> None:
    await _accept(server, "SAME")
    cp = await _v16(server, "CP-SAME")
    other = await _v16(server, "CP-ELSEWHERE")
    try:
        first = await cp.call("StartTransaction", _start16("SAME", 0))
        assert await cp.call("MeterValues", _meter16(first["transactionId"], 1300, 2)) == {}
        # Its StopTransaction was lost: the connector starts again with the same card.
        second = await cp.call("StartTransaction", _start16("SAME", 10, meter=1400))
        assert second["idTagInfo"]["status"] == "Accepted"
        old = await _transaction(server, first["transactionId"])
        assert (old["active"], old["stop_reason"], old["energy_wh"]) == (False, "Abandoned", 300.0)
        assert old["stop_time"] == ts(10)
        # The card is the new transaction's now.
        refused = await other.call("StartTransaction", _start16("SAME", 11))
        assert refused["idTagInfo"]["status"] == "ConcurrentTx"
    finally:
        await cp.close()
        await other.close()


async def test_v201_a_reboot_abandons_and_concurrent_tx_holds_nothing(server: Running) -> None:
    await _accept(server, "DRIVER2")
    cs = await _v201(server, "CS-REBOOTS")
    other = await _v201(server, "CS-OTHER")
    try:
        reply = await cs.call("TransactionEvent", _started2("T-1", "DRIVER2", 0))
        assert reply["idTokenInfo"]["status"] == "Accepted"
        # The same token at another station while the first session runs (2.0.1 E05).
        reply = await other.call("TransactionEvent", _started2("T-9", "DRIVER2", 1))
        assert reply["idTokenInfo"]["status"] == "ConcurrentTx"
        updated = transaction_event(
            "Updated", 1, "T-1", minutes=5, trigger="MeterValuePeriodic", meter=[energy(1700, 5)]
        )
        assert await cs.call("TransactionEvent", updated) == {}
        assert (await cs.call("BootNotification", boot_payload("PowerUp")))["status"] == "Accepted"
        view = await _transaction(server, "CS-REBOOTS,T-1")
        assert (view["active"], view["stop_reason"], view["energy_wh"]) == (
            False,
            "Abandoned",
            700.0,
        )
        # The token is free: the other station's transaction, asked again, gets it.
        again = transaction_event(
            "Updated",
            1,
            "T-9",
            minutes=6,
            trigger="Authorized",
            idToken={"idToken": "DRIVER2", "type": "ISO14443"},
        )
        reply = await other.call("TransactionEvent", again)
        assert reply["idTokenInfo"]["status"] == "Accepted"
        # A late Ended of the abandoned transaction is recorded against it.
        ended = transaction_event(
            "Ended",
            2,
            "T-1",
            minutes=5.5,
            trigger="EVCommunicationLost",
            meter=[energy(1750, 5.5, "Transaction.End")],
            info={"stoppedReason": "PowerLoss"},
        )
        assert await cs.call("TransactionEvent", ended) == {}
        view = await _transaction(server, "CS-REBOOTS,T-1")
        assert (view["stop_reason"], view["meter_stop_wh"], view["energy_wh"]) == (
            "PowerLoss",
            1750.0,
            750.0,
        )
        assert (await _transaction(server, "CS-OTHER,T-9"))["active"] is True
    finally:
        await cs.close()
        await other.close()


async def test_v201_a_new_transaction_on_the_same_evse_abandons_the_open_one(
    server: Running,
) -> None:
    await _accept(server, "EVSE-CARD")
    cs = await _v201(server, "CS-EVSE")
    try:
        assert (await cs.call("TransactionEvent", _started2("A", "EVSE-CARD", 0)))["idTokenInfo"][
            "status"
        ] == "Accepted"
        # Its Ended never came; the EVSE runs a new transaction.
        reply = await cs.call("TransactionEvent", _started2("B", "EVSE-CARD", 20))
        assert reply["idTokenInfo"]["status"] == "Accepted"
        view = await _transaction(server, "CS-EVSE,A")
        assert (view["active"], view["stop_reason"], view["stop_time"]) == (
            False,
            "Abandoned",
            ts(20),
        )
        assert (await _transaction(server, "CS-EVSE,B"))["active"] is True
    finally:
        await cs.close()


async def _race(
    stations: list[RawCharger], calls: list[tuple[str, dict[str, Any]]], status_of: Any
) -> list[str]:
    replies = await asyncio.gather(
        *(
            station.call(action, payload)
            for station, (action, payload) in zip(stations, calls, strict=True)
        )
    )
    return sorted(status_of(reply) for reply in replies)


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_concurrent_starts_with_one_token_are_never_both_accepted(
    server: Running, version: str
) -> None:
    """Two starts with one token on two stations at the same moment: exactly one is Accepted."""
    tags = [f"RACE-{version[-3:]}-{i}" for i in range(6)]
    await _accept(server, *tags)
    connect = _v16 if version == "ocpp1.6" else _v201
    stations = [await connect(server, f"{version}-RACE-{i}") for i in range(2)]
    try:
        for round_, tag in enumerate(tags):
            if version == "ocpp1.6":
                calls = [("StartTransaction", _start16(tag, round_, connector=round_ + 1))] * 2
                statuses = await _race(stations, calls, lambda r: r["idTagInfo"]["status"])
            else:
                calls = [
                    ("TransactionEvent", _started2(f"R{round_}", tag, round_, evse=round_ + 1))
                ] * 2
                statuses = await _race(stations, calls, lambda r: r["idTokenInfo"]["status"])
            assert statuses == ["Accepted", "ConcurrentTx"], (round_, statuses)
    finally:
        for station in stations:
            await station.close()


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_concurrent_starts_on_two_members_of_one_database(
    db_url: str, status_db_url: str, start_server: StartServer, version: str
) -> None:
    """The check holds across members: each station on its own node, one store."""
    nodes = [
        await start_server(
            database_url=db_url, status_database_url=status_db_url, node_name=f"member-{i}"
        )
        for i in range(2)
    ]
    tags = [f"XRACE-{version[-3:]}-{i}" for i in range(6)]
    await _accept(nodes[0], *tags)
    connect = _v16 if version == "ocpp1.6" else _v201
    stations = [await connect(node, f"{version}-XRACE-{i}") for i, node in enumerate(nodes)]
    try:
        for round_, tag in enumerate(tags):
            if version == "ocpp1.6":
                calls = [("StartTransaction", _start16(tag, round_, connector=round_ + 1))] * 2
                statuses = await _race(stations, calls, lambda r: r["idTagInfo"]["status"])
            else:
                calls = [
                    ("TransactionEvent", _started2(f"X{round_}", tag, round_, evse=round_ + 1))
                ] * 2
                statuses = await _race(stations, calls, lambda r: r["idTokenInfo"]["status"])
            assert statuses == ["Accepted", "ConcurrentTx"], (round_, statuses)
    finally:
        for station in stations:
            await station.close()


async def test_v21_a_transaction_resumed_after_the_reboot_runs_again(server: Running) -> None:
    """OCPP 2.1: a station may go on with a transaction after its reboot (TxResumed)."""
    await _accept(server, "RESUME")
    cs = await RawCharger.connect(f"{server.ocpp_url}/CS-RESUMES", subprotocols=["ocpp2.1"])
    other = await RawCharger.connect(f"{server.ocpp_url}/CS-NEXT", subprotocols=["ocpp2.1"])
    try:
        for station in (cs, other):
            assert (await station.call("BootNotification", boot_payload()))["status"] == "Accepted"
        reply = await cs.call("TransactionEvent", _started2("RES-1", "RESUME", 0))
        assert reply["idTokenInfo"]["status"] == "Accepted"
        assert (await cs.call("BootNotification", boot_payload()))["status"] == "Accepted"
        assert (await _transaction(server, "CS-RESUMES,RES-1"))["stop_reason"] == "Abandoned"
        resumed = transaction_event(
            "Updated", 1, "RES-1", minutes=3, trigger="TxResumed", meter=[energy(1200, 3)]
        )
        assert await cs.call("TransactionEvent", resumed) == {}
        view = await _transaction(server, "CS-RESUMES,RES-1")
        assert (view["active"], view["stop_reason"], view["energy_wh"]) == (True, None, 200.0)
        # It holds its token again.
        reply = await other.call("TransactionEvent", _started2("N-1", "RESUME", 4))
        assert reply["idTokenInfo"]["status"] == "ConcurrentTx"
    finally:
        await cs.close()
        await other.close()


async def test_v201_a_card_that_stops_a_session_takes_no_token(server: Running) -> None:
    """2.0.1 E06/C01: a card presented to stop a transaction (StopAuthorized) is answered its own
    status, not ConcurrentTx because it charges at another station, and the token stays with the
    transaction that holds it."""
    await _accept(server, "FLEET", "DRIVER3")
    holder = await _v201(server, "CS-FLEET-USES")
    stopped = await _v201(server, "CS-FLEET-STOPS")
    third = await _v201(server, "CS-FLEET-THIRD")
    try:
        reply = await holder.call("TransactionEvent", _started2("F-1", "FLEET", 0))
        assert reply["idTokenInfo"]["status"] == "Accepted"
        reply = await stopped.call("TransactionEvent", _started2("S-1", "DRIVER3", 1))
        assert reply["idTokenInfo"]["status"] == "Accepted"
        stop = transaction_event(
            "Updated",
            1,
            "S-1",
            minutes=2,
            trigger="StopAuthorized",
            idToken={"idToken": "FLEET", "type": "ISO14443"},
        )
        reply = await stopped.call("TransactionEvent", stop)
        assert reply["idTokenInfo"]["status"] == "Accepted"
        ended = transaction_event(
            "Ended", 2, "S-1", minutes=3, trigger="EVDeparted", info={"stoppedReason": "Local"}
        )
        assert await stopped.call("TransactionEvent", ended) == {}
        # The end of the stopped transaction released nothing of FLEET's real session.
        reply = await third.call("TransactionEvent", _started2("T-1", "FLEET", 4))
        assert reply["idTokenInfo"]["status"] == "ConcurrentTx"
        assert (await _transaction(server, "CS-FLEET-USES,F-1"))["active"] is True
    finally:
        for station in (holder, stopped, third):
            await station.close()


@pytest.mark.parametrize("version", ["ocpp1.6", "ocpp2.0.1"])
async def test_a_start_replayed_late_never_abandons_a_later_one(
    server: Running, version: str
) -> None:
    """A start from the station's offline queue that began before the transaction open on its
    EVSE did not leave that one behind: the later one stays open and keeps its token."""
    await _accept(server, "LATER", "EARLIER")
    station = f"{version}-REPLAY"
    if version == "ocpp1.6":
        charger = await _v16(server, station)
        later = await charger.call("StartTransaction", _start16("LATER", 10))
        earlier = await charger.call("StartTransaction", _start16("EARLIER", 0, meter=900))
        assert earlier["idTagInfo"]["status"] == "Accepted"
        later_id: str | int = later["transactionId"]
    else:
        charger = await _v201(server, station)
        await charger.call("TransactionEvent", _started2("LATER-1", "LATER", 10))
        await charger.call("TransactionEvent", _started2("EARLIER-1", "EARLIER", 0))
        later_id = f"{station},LATER-1"
    other = await (_v16 if version == "ocpp1.6" else _v201)(server, f"{version}-REPLAY-2")
    try:
        view = await _transaction(server, later_id)
        assert (view["active"], view["stop_reason"]) == (True, None)
        if version == "ocpp1.6":
            reply = await other.call("StartTransaction", _start16("LATER", 11))
            assert reply["idTagInfo"]["status"] == "ConcurrentTx"
        else:
            reply = await other.call("TransactionEvent", _started2("O-1", "LATER", 11))
            assert reply["idTokenInfo"]["status"] == "ConcurrentTx"
    finally:
        await charger.close()
        await other.close()
