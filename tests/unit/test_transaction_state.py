"""The pure part of 2.x transactions: seqNo gaps and the columns each event changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from csms.payloads.metering import samples_v2
from csms.session.transaction_event import (
    MAX_GAP_RANGES,
    EventType,
    TransactionEventReport,
    gap_ranges,
)
from csms.session.transaction_state import TransactionEventState

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_gap_ranges() -> None:
    assert gap_ranges([]) == []
    assert gap_ranges([0, 1, 2]) == []
    assert gap_ranges([2, 0, 5, 5]) == [[1, 1], [3, 4]]
    # A charger that numbers every event of the station: the list stays bounded.
    assert len(gap_ranges(range(0, 1000, 2))) == MAX_GAP_RANGES


def _event(
    event_type: EventType, seq_no: int, minutes: float, samples: list[dict[str, Any]] | None = None
) -> TransactionEventReport:
    when = T0 + timedelta(minutes=minutes)
    meter = [{"timestamp": when.isoformat(), "sampledValue": samples}] if samples else []
    return TransactionEventReport(
        station_id="CS",
        event_type=event_type,
        seq_no=seq_no,
        timestamp=when,
        trigger_reason="MeterValuePeriodic",
        offline=False,
        samples=samples_v2(meter),
        evse_id=None,
        connector_id=None,
        id_token=None,
        id_token_type=None,
        charging_state=None,
        stopped_reason=None,
        remote_start_id=None,
        reservation_id=None,
        record={},
        details={},
    )


def _register(value: float, context: str = "Sample.Periodic", unit: str = "Wh") -> dict[str, Any]:
    return {
        "value": value,
        "measurand": "Energy.Active.Import.Register",
        "context": context,
        "unitOfMeasure": {"unit": unit},
    }


def test_a_started_register_is_the_start_and_later_lower_readings_do_not_move_it() -> None:
    state = TransactionEventState(persisted=False)
    updates = state.apply(
        _event(EventType.STARTED, 0, 0, [_register(2.0, unit="kWh")]), None, None, False
    )
    assert updates["meter_start_wh"] == 2000
    assert updates["start_time"] == T0
    assert updates["extra"]["meter_start_source"] == "begin"
    state.commit(_event(EventType.STARTED, 0, 0), updates)
    later = state.apply(_event(EventType.UPDATED, 1, 5, [_register(1500)]), 2000, 2000, False)
    assert "meter_start_wh" not in later
    assert "start_time" not in later


def test_without_a_start_the_lowest_register_stands_in_until_the_started_event_arrives() -> None:
    state = TransactionEventState(persisted=False)
    event = _event(EventType.UPDATED, 4, 10, [_register(1800)])
    first = state.apply(event, None, None, False)
    assert first["meter_start_wh"] == 1800
    assert first["extra"]["meter_start_source"] == "lowest"
    state.commit(event, first)
    event = _event(EventType.UPDATED, 2, 5, [_register(1200)])
    lower = state.apply(event, 1800, 1800, False)
    assert lower["meter_start_wh"] == 1200
    assert lower["start_time"] == T0 + timedelta(minutes=5)
    state.commit(event, lower)
    started = state.apply(
        _event(EventType.STARTED, 0, 0, [_register(1000, "Transaction.Begin")]), 1200, 1800, False
    )
    assert started["meter_start_wh"] == 1000
    assert started["extra"]["meter_start_source"] == "begin"
    assert started["extra"]["seq_no_gaps"] == [[1, 1], [3, 3]]
    # An older event does not say what the transaction is doing now.
    assert started["extra"]["trigger_reason"] == "MeterValuePeriodic"


def test_an_end_without_a_register_ends_at_the_last_one_and_a_second_end_changes_nothing() -> None:
    state = TransactionEventState(persisted=True)
    end = _event(EventType.ENDED, 3, 30)
    ended = state.apply(end, 1000, 4200, False)
    assert ended["meter_stop_wh"] == 4200
    assert ended["stop_reason"] == "Local"
    assert ended["stop_time"] == T0 + timedelta(minutes=30)
    state.commit(end, ended)
    again = state.apply(_event(EventType.ENDED, 4, 31), 1000, 4200, True)
    assert "stop_time" not in again
