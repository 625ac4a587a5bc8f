"""The cost of a session under a tariff: exact decimal arithmetic, rounded half-up to the currency's
minor unit at the end (OCPP 2.0.1 I, "Tariff and cost")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.tariffs.cost import Usage, charging_seconds, cost_of, idle_seconds
from csms.tariffs.currencies import MINOR_UNITS, minor_unit
from persistence.tariffs import Prices, Tariff

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def tariff(currency: str = "EUR", **prices: object) -> Tariff:
    return Tariff(id="T", name="test", currency=currency, prices=Prices(**prices))  # type: ignore[arg-type]


def test_energy_is_priced_per_kwh_exactly() -> None:
    # 12.345 kWh at 0.39: 4.81455, rounded half-up to 4.81; 19 % tax on 4.81 is 0.9139 -> 0.91.
    cost = cost_of(
        tariff(energy=Decimal("0.39"), tax_rate=Decimal(19)),
        Usage(start=at(0), end=at(40), energy_wh=12345.0),
    )
    assert (cost.energy, cost.net, cost.tax, cost.total) == (
        Decimal("4.81"),
        Decimal("4.81"),
        Decimal("0.91"),
        Decimal("5.72"),
    )
    assert cost.currency == "EUR"
    assert cost.as_json()["total"] == "5.72"


def test_half_a_cent_rounds_up() -> None:
    # 1.5 kWh at 0.25 = 0.375 -> 0.38 (half-up; banker's rounding would give 0.38 too, so also
    # 0.125 -> 0.13 where half-even gives 0.12).
    assert cost_of(tariff(energy=Decimal("0.25")), Usage(at(0), at(1), 1500.0)).net == Decimal(
        "0.38"
    )
    assert cost_of(tariff(energy=Decimal("0.25")), Usage(at(0), at(1), 500.0)).net == Decimal(
        "0.13"
    )


def test_the_parts_are_summed_before_rounding() -> None:
    # Three parts of 0.004 each: 0.012 -> 0.01 net, while each part alone rounds to 0.00.
    cost = cost_of(
        tariff(
            energy=Decimal("0.004"), connected_time=Decimal("0.004"), session_fee=Decimal("0.004")
        ),
        Usage(start=at(0), end=at(60), energy_wh=1000.0),
    )
    assert (cost.energy, cost.time, cost.fee, cost.net) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.01"),
    )


@pytest.mark.parametrize(
    ("currency", "expected"),
    [("JPY", Decimal("5")), ("KWD", Decimal("4.815")), ("EUR", Decimal("4.81"))],
)
def test_rounding_follows_the_currency_minor_unit(currency: str, expected: Decimal) -> None:
    cost = cost_of(tariff(currency, energy=Decimal("0.39")), Usage(at(0), at(1), 12345.0))
    assert cost.net == expected


def test_time_while_charging_and_while_connected() -> None:
    states = [(at(0), "EVConnected"), (at(10), "Charging"), (at(70), "SuspendedEV")]
    usage = Usage(start=at(0), end=at(90), energy_wh=0.0, charging_states=states)
    assert charging_seconds(usage) == 3600
    cost = cost_of(tariff(charging_time=Decimal("1.20"), connected_time=Decimal("0.60")), usage)
    # 1 h charging at 1.20 and 1.5 h connected at 0.60.
    assert cost.time == Decimal("2.10")


def test_without_charging_states_the_whole_session_is_charging_time() -> None:
    usage = Usage(start=at(0), end=at(30))
    assert charging_seconds(usage) == 1800
    assert charging_seconds(Usage(start=at(0), end=at(30), time_spent_charging=600)) == 600


def test_idle_fee_after_the_grace_period_of_each_stretch() -> None:
    states = [
        (at(0), "Charging"),
        (at(60), "SuspendedEV"),  # 20 min idle, 15 free -> 5
        (at(80), "Charging"),
        (at(90), "SuspendedEVSE"),  # the station paused: never idle
        (at(100), "Charging"),
        (at(110), "EVConnected"),  # 10 min, then Idle 30 min: one stretch of 40 -> 25
        (at(120), "Idle"),
    ]
    usage = Usage(start=at(0), end=at(150), energy_wh=0.0, charging_states=states)
    assert idle_seconds(usage, timedelta(minutes=15)) == 30 * 60
    cost = cost_of(tariff(idle=Decimal("0.10"), idle_grace_minutes=15), usage)
    assert cost.idle == Decimal("3.00")


def test_no_idle_before_the_car_charged() -> None:
    states = [(at(0), "EVConnected"), (at(30), "Charging")]
    usage = Usage(start=at(0), end=at(60), charging_states=states)
    assert idle_seconds(usage, timedelta()) == 0


def test_unknown_start_or_energy_costs_only_the_fee() -> None:
    cost = cost_of(
        tariff(energy=Decimal(1), connected_time=Decimal(1), session_fee=Decimal("0.50")),
        Usage(start=None, end=at(10), energy_wh=None),
    )
    assert (cost.energy, cost.time, cost.fee, cost.total) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.50"),
        Decimal("0.50"),
    )


def test_a_clock_that_runs_backwards_costs_no_time() -> None:
    cost = cost_of(tariff(connected_time=Decimal(10)), Usage(start=at(10), end=at(0)))
    assert cost.time == 0


def test_every_currency_has_a_minor_unit() -> None:
    assert minor_unit("EUR") == Decimal("0.01")
    assert minor_unit("JPY") == Decimal(1)
    assert minor_unit("BHD") == Decimal("0.001")
    assert all(0 <= digits <= 4 for digits in MINOR_UNITS.values())


_prices = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)


@given(
    energy_price=_prices,
    time_price=_prices,
    fee=_prices,
    tax=st.decimals(min_value=0, max_value=100, places=2),
    wh=st.integers(min_value=0, max_value=500_000),
    minutes=st.integers(min_value=0, max_value=24 * 60),
    currency=st.sampled_from(["EUR", "JPY", "KWD", "CHF"]),
)
def test_bill_adds_up_and_rounds_once(
    energy_price: Decimal,
    time_price: Decimal,
    fee: Decimal,
    tax: Decimal,
    wh: int,
    minutes: int,
    currency: str,
) -> None:
    t = tariff(
        currency,
        energy=energy_price,
        connected_time=time_price,
        session_fee=fee,
        tax_rate=tax,
    )
    cost = cost_of(t, Usage(start=at(0), end=at(minutes), energy_wh=float(wh)))
    unit = minor_unit(currency)
    exact = Decimal(wh) / 1000 * energy_price + Decimal(minutes) / 60 * time_price + fee
    # Net is the exact sum rounded once, half-up; total is net plus tax, to the minor unit.
    assert abs(cost.net - exact) <= unit / 2
    assert cost.total == cost.net + cost.tax
    assert abs(cost.tax - cost.net * tax / 100) <= unit / 2
    for amount in (cost.net, cost.tax, cost.total, cost.energy, cost.time, cost.fee):
        assert amount == amount.quantize(unit)
        assert amount >= 0
    # More energy never costs less.
    more = cost_of(t, Usage(start=at(0), end=at(minutes), energy_wh=float(wh + 1000)))
    assert more.total >= cost.total
