"""What the cost messages of a 2.x session keep and send (OCPP 2.0.1 I02, I03; 2.1
TransactionEventResponse.totalCost): the charging states a session's idle fee is computed from,
bounded against a station that flips them endlessly, and when ``totalCost`` is due."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from csms.session.transaction_event import EventType, TransactionEventReport
from csms.tariffs.answer import (
    MAX_CHARGING_STATES,
    charging_states_with,
    cost_update_due,
    total_cost_due,
)
from csms.tariffs.cost import Cost
from persistence.tariffs import Binding, Prices, Scope, Tariff
from transport.versions import OcppVersion

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TARIFF = Tariff(
    id="T", name="t", currency="EUR", prices=Prices(energy=Decimal(1)), cost_update_minutes=5
)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def report(seq_no: int, minutes: float, state: str | None) -> TransactionEventReport:
    return TransactionEventReport(
        station_id="CS",
        event_type=EventType.UPDATED,
        seq_no=seq_no,
        timestamp=at(minutes),
        trigger_reason="ChargingStateChanged",
        offline=False,
        samples=(),
        evse_id=1,
        connector_id=1,
        id_token=None,
        id_token_type=None,
        charging_state=state,
        stopped_reason=None,
        remote_start_id=None,
        reservation_id=None,
        record={},
        details={},
    )


def binding(*states: tuple[int, datetime, str]) -> Binding:
    return Binding("tx", TARIFF, Scope.DEFAULT, T0, charging_states=states)


def cost(total: str) -> Cost:
    zero = Decimal(0)
    return Cost("EUR", Decimal(total), zero, Decimal(total), zero, zero, zero, zero, "T")


def test_a_change_of_state_is_kept_once_in_time_order() -> None:
    start = binding((0, at(0), "Charging"))
    assert charging_states_with(start, report(1, 10, "Charging")) == start.charging_states
    assert charging_states_with(start, report(1, 10, None)) == start.charging_states
    full = charging_states_with(start, report(2, 20, "SuspendedEV"))
    assert full == ((0, at(0), "Charging"), (2, at(20), "SuspendedEV"))
    # The same event resent, and an offline event that arrives late, in its place by time.
    again = dataclasses.replace(start, charging_states=full)
    assert charging_states_with(again, report(2, 20, "SuspendedEV")) == full
    late = charging_states_with(again, report(1, 10, "SuspendedEVSE"))
    assert [state for _, _, state in late] == ["Charging", "SuspendedEVSE", "SuspendedEV"]


def test_a_station_that_flips_its_state_endlessly_grows_nothing_beyond_the_limit() -> None:
    current = binding()
    for seq_no in range(MAX_CHARGING_STATES + 50):
        state = "Charging" if seq_no % 2 == 0 else "SuspendedEV"
        changed = charging_states_with(current, report(seq_no, seq_no, state))
        current = dataclasses.replace(current, charging_states=changed)
    assert len(current.charging_states) == MAX_CHARGING_STATES


@pytest.mark.parametrize(
    ("event", "ended", "version", "due"),
    [
        (EventType.ENDED, True, OcppVersion.V201, True),
        (EventType.ENDED, True, OcppVersion.V21, True),
        (EventType.UPDATED, False, OcppVersion.V201, False),
        (EventType.UPDATED, False, OcppVersion.V21, True),
        (EventType.STARTED, False, OcppVersion.V21, False),
        # A late Updated of a transaction that has ended: the total went with the Ended.
        (EventType.UPDATED, True, OcppVersion.V21, False),
    ],
)
def test_total_cost_is_the_final_total_on_2_0_1_and_also_the_running_one_on_2_1(
    event: EventType, ended: bool, version: OcppVersion, due: bool
) -> None:
    assert total_cost_due(event, ended=ended, version=version) is due


def test_cost_updated_waits_for_a_change_and_for_the_interval() -> None:
    fresh = binding()
    assert not cost_update_due(fresh, cost("0.00"), at(0))
    assert cost_update_due(fresh, cost("1.19"), at(0))
    sent = dataclasses.replace(fresh, cost_sent_at=at(0), cost_sent_total=Decimal("1.19"))
    assert not cost_update_due(sent, cost("1.19"), at(60))
    assert not cost_update_due(sent, cost("2.00"), at(4.9))
    assert cost_update_due(sent, cost("2.00"), at(5))
    silent = dataclasses.replace(
        fresh, tariff=dataclasses.replace(TARIFF, cost_update_minutes=None)
    )
    assert not cost_update_due(silent, cost("2.00"), at(60))
