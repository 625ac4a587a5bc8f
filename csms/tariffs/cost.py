"""The cost of a transaction under a tariff (OCPP 2.0.1 I, "Tariff and cost"): pure, exact decimal
arithmetic.

Every part is computed exactly and rounded half-up to the currency's minor unit at the end: the net
price from the exact sum of the parts, the tax from the rounded net, and the total is their sum, so
that ``net + tax == total`` always holds on the driver's bill. The parts (energy, time, fee, idle)
are each rounded for display; their rounded sum may differ from ``net`` by a minor unit or two.

- energy: kWh delivered (end register minus start register) times the energy price;
- time: hours charging times the charging-time price, plus hours of the whole transaction times the
  connected-time price;
- fee: the session fee, once;
- idle: minutes connected but not charging after the car has charged (2.x chargingState
  SuspendedEV, EVConnected or Idle), beyond a grace period in each such stretch, times the idle
  price. A station that pauses the charging itself (SuspendedEVSE) costs the driver nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from csms.tariffs.currencies import minor_unit
from persistence.tariffs import Tariff

CHARGING = "Charging"
IDLE_STATES = frozenset({"SuspendedEV", "EVConnected", "Idle"})
"""ChargingStateEnumType values of a car that is connected and does not charge."""

_HOUR = Decimal(3600)
_MINUTE = Decimal(60)
_KWH = Decimal(1000)
_PERCENT = Decimal(100)


@dataclass(frozen=True, slots=True)
class Usage:
    """What a transaction used, as the cost sees it."""

    start: datetime | None
    """When it started; None: unknown (an orphan stop), no time is charged."""
    end: datetime
    """When it ended, or now while it runs."""
    energy_wh: float | None = None
    """Energy delivered in Wh; None: unknown, no energy is charged."""
    charging_states: Sequence[tuple[datetime, str]] = ()
    """2.x chargingState changes (when, state); empty: not reported (1.6)."""
    time_spent_charging: int | None = None
    """2.x transactionInfo.timeSpentCharging in seconds, if the station reported it."""


@dataclass(frozen=True, slots=True)
class Cost:
    """What a transaction costs; amounts rounded to the currency's minor unit."""

    currency: str
    net: Decimal
    tax: Decimal
    total: Decimal
    """``net + tax``."""
    energy: Decimal
    time: Decimal
    fee: Decimal
    idle: Decimal
    tariff_id: str

    def as_json(self) -> dict[str, Any]:
        """Amounts as decimal strings (exact in JSON)."""
        return {
            "currency": self.currency,
            "net": str(self.net),
            "tax": str(self.tax),
            "total": str(self.total),
            "energy": str(self.energy),
            "time": str(self.time),
            "fee": str(self.fee),
            "idle": str(self.idle),
            "tariff_id": self.tariff_id,
        }


def seconds(delta: timedelta) -> Decimal:
    """A duration in seconds, exact to the microsecond; never negative (a station's clock that
    runs backwards charges nothing)."""
    exact = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)
    return max(exact, Decimal(0))


def _intervals(usage: Usage) -> list[tuple[datetime, datetime, str]]:
    """The reported states as (from, to, state), within the transaction, in time order."""
    changes = sorted(usage.charging_states, key=lambda change: change[0])
    out = []
    for index, (at, state) in enumerate(changes):
        until = changes[index + 1][0] if index + 1 < len(changes) else usage.end
        begin = at if usage.start is None else max(at, usage.start)
        until = min(until, usage.end)
        if until > begin:
            out.append((begin, until, state))
    return out


def charging_seconds(usage: Usage) -> Decimal:
    """Time spent charging: from the charging states; without them, what the station reported;
    without that, the whole transaction (a 1.6 station does not tell)."""
    if usage.start is None:
        return Decimal(0)
    if usage.charging_states:
        return sum(
            (seconds(until - begin) for begin, until, s in _intervals(usage) if s == CHARGING),
            Decimal(0),
        )
    if usage.time_spent_charging is not None:
        return Decimal(max(usage.time_spent_charging, 0))
    return seconds(usage.end - usage.start)


def idle_seconds(usage: Usage, grace: timedelta) -> Decimal:
    """Billable idle time: each stretch of idle states after the car charged, less ``grace``."""
    billable = Decimal(0)
    stretch = Decimal(0)
    charged = False
    free = seconds(grace)
    for begin, until, state in _intervals(usage):
        if state == CHARGING:
            charged = True
        if state in IDLE_STATES and charged:
            stretch += seconds(until - begin)
            continue
        billable += max(stretch - free, Decimal(0))
        stretch = Decimal(0)
    return billable + max(stretch - free, Decimal(0))


def _round(amount: Decimal, unit: Decimal) -> Decimal:
    return amount.quantize(unit, rounding=ROUND_HALF_UP)


def _times(quantity: Decimal, price: Decimal | None) -> Decimal:
    return Decimal(0) if price is None else quantity * price


def cost_of(tariff: Tariff, usage: Usage) -> Cost:
    """The cost of ``usage`` under ``tariff``."""
    prices = tariff.prices
    kwh = Decimal(0)
    if usage.energy_wh is not None and usage.energy_wh > 0:
        # The stored number's shortest decimal form: 12345.6 Wh is exactly 12.3456 kWh.
        kwh = Decimal(repr(usage.energy_wh)) / _KWH
    connected = Decimal(0) if usage.start is None else seconds(usage.end - usage.start)
    energy = _times(kwh, prices.energy)
    time = _times(charging_seconds(usage) / _HOUR, prices.charging_time) + _times(
        connected / _HOUR, prices.connected_time
    )
    fee = prices.session_fee or Decimal(0)
    idle = _times(
        idle_seconds(usage, timedelta(minutes=prices.idle_grace_minutes)) / _MINUTE, prices.idle
    )
    unit = minor_unit(tariff.currency)
    net = _round(energy + time + fee + idle, unit)
    tax = _round(net * prices.tax_rate / _PERCENT, unit)
    return Cost(
        currency=tariff.currency,
        net=net,
        tax=tax,
        total=net + tax,
        energy=_round(energy, unit),
        time=_round(time, unit),
        fee=_round(fee, unit),
        idle=_round(idle, unit),
        tariff_id=tariff.id,
    )
