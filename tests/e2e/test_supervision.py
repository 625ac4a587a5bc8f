"""Domain actors crashed by a failing store: their supervisor restarts them with state reloaded from
the store, the charger is served again, and nothing acknowledged is lost."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from persistence.events import station_events_of
from persistence.writer import Fence, GroupCommitWriter, WriteOp
from tests.raw_charger import CallErrorReply, RawCharger
from tests.server_fixtures import Running
from tests.timing import eventually


class FailingWrites:
    """A store stub in front of the node's writer: its next ``failures`` submissions fail as a
    full disk would, then writes pass through again."""

    def __init__(self, writer: GroupCommitWriter) -> None:
        self._submit = writer.submit
        self.failures = 0
        self.failed = 0

    async def submit(self, *ops: WriteOp, fence: Fence | None = None) -> list[Any]:
        if self.failures:
            self.failures -= 1
            self.failed += 1
            raise OperationalError("INSERT", {}, OSError(28, "No space left on device"))
        return await self._submit(*ops, fence=fence)


@pytest.fixture
def failing_writes(server: Running, monkeypatch: pytest.MonkeyPatch) -> FailingWrites:
    stub = FailingWrites(server.node.writer)
    monkeypatch.setattr(server.node.writer, "submit", stub.submit)
    return stub


def restarts(caplog: pytest.LogCaptureFixture, prefix: str) -> int:
    """How many times a supervisor restarted a child whose name starts with ``prefix``."""
    return sum(
        1
        for record in caplog.records
        if record.name == "actors.supervisor"
        and record.getMessage().endswith("crashed; restarting it")
        and record.getMessage().partition("/")[2].startswith(prefix)
    )


def ts(second: int) -> str:
    return f"2026-12-04T10:00:{second:02d}Z"


async def booted(server: Running, station_id: str) -> RawCharger:
    charger = await RawCharger.connect(f"{server.ocpp_url}/{station_id}")
    boot = await charger.call(
        "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
    )
    assert boot["status"] == "Accepted"
    return charger


async def test_charge_point_actor_crashed_by_the_store_is_restarted_and_serves_again(
    server: Running, failing_writes: FailingWrites, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="actors.supervisor")
    await server.put("/api/v1/id-tags/T1", {"status": "Accepted"})
    charger = await booted(server, "CP-CRASH")
    try:
        start = await charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "T1", "meterStart": 1000, "timestamp": ts(0)},
        )
        failing_writes.failures = 1
        with pytest.raises(CallErrorReply) as refused:
            await charger.call("DataTransfer", {"vendorId": "acme", "data": "x"})
        assert refused.value.code == "InternalError"  # nothing acknowledged
        await eventually(lambda: restarts(caplog, "cp:CP-CRASH") == 1, what="charge point restart")
        # The fresh instance reloaded the station: accepted without booting again.
        resent = await charger.call("DataTransfer", {"vendorId": "acme", "data": "x"})
        assert resent == {"status": "UnknownVendorId"}
        await charger.call(
            "StopTransaction",
            {"transactionId": start["transactionId"], "meterStop": 4000, "timestamp": ts(9)},
        )
    finally:
        await charger.close()
    status, transaction = await server.get(f"/api/v1/transactions/{start['transactionId']}")
    assert status == 200
    assert transaction["energy_wh"] == 3000
    stored = await station_events_of(server.node.reads, "CP-CRASH", "DataTransfer")
    assert len(stored) == 1  # the refused one was not stored, the resent one once


async def test_session_actor_crashed_by_the_store_is_restarted_from_the_store(
    server: Running, failing_writes: FailingWrites, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="actors.supervisor")
    await server.put("/api/v1/id-tags/T2", {"status": "Accepted"})
    charger = await booted(server, "CP-SESSION")
    try:
        start = await charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "T2", "meterStart": 0, "timestamp": ts(0)},
        )
        transaction_id = start["transactionId"]

        def meter_values(second: int, wh: int) -> dict[str, Any]:
            sample = {"timestamp": ts(second), "sampledValue": [{"value": str(wh)}]}
            return {"connectorId": 1, "transactionId": transaction_id, "meterValue": [sample]}

        assert await charger.call("MeterValues", meter_values(1, 500)) == {}  # acknowledged
        failing_writes.failures = 1
        with pytest.raises(CallErrorReply) as refused:
            await charger.call("MeterValues", meter_values(2, 900))
        assert refused.value.code == "InternalError"
        await eventually(
            lambda: restarts(caplog, f"tx:{transaction_id}") == 1, what="session restart"
        )
        # The charger resends what was not acknowledged; the session serves it from reloaded state.
        assert await charger.call("MeterValues", meter_values(2, 900)) == {}
        await charger.call(
            "StopTransaction",
            {"transactionId": transaction_id, "meterStop": 1200, "timestamp": ts(9)},
        )
    finally:
        await charger.close()
    status, transaction = await server.get(f"/api/v1/transactions/{transaction_id}")
    assert status == 200
    assert transaction["energy_wh"] == 1200
    assert transaction["stop_time"] is not None
    registers = sorted(
        sample["value"] for sample in transaction["meter_values"] if sample["value"] > 0
    )
    assert registers == [500, 900]  # each acknowledged sample stored once
    assert failing_writes.failed == 1
