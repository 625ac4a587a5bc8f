"""What a load station sends in saturate and rate mode: the OCPP 1.6 charging-session script.

Each `SessionScript` drives one connector through the cycle a real charger walks through for
every charging session (OCPP 1.6 section 3 "Use cases & requirements"): authorize, start a
transaction, report periodic meter values, stop, and report the connector status changes in
between. It holds at most one request in flight, as OCPP-J 1.6 section 4.1.1 requires of a
charger, so the caller must report each reply (or its absence) before asking for the next.
"""

from __future__ import annotations

import enum
import random
import time
from dataclasses import dataclass
from typing import Any

SAMPLE_SECONDS = 60
"""Charging time each periodic MeterValues stands for; drives the energy register."""


class Step(enum.Enum):
    """One element of the session script."""

    HEARTBEAT = "Heartbeat"
    AUTHORIZE = "Authorize"
    STATUS_PREPARING = "Preparing"
    START = "StartTransaction"
    STATUS_CHARGING = "Charging"
    METER = "MeterValues"
    STOP = "StopTransaction"
    STATUS_FINISHING = "Finishing"
    STATUS_AVAILABLE = "Available"


_STATUS_STEPS = frozenset(
    {Step.STATUS_PREPARING, Step.STATUS_CHARGING, Step.STATUS_FINISHING, Step.STATUS_AVAILABLE}
)
_NEEDS_TRANSACTION = frozenset({Step.STATUS_CHARGING, Step.METER, Step.STOP})


@dataclass(frozen=True, slots=True)
class Request:
    """One CALL a charger is about to send."""

    action: str
    """OCPP 1.6 action name."""
    payload: dict[str, Any]
    """Request payload, ready for JSON encoding."""


class _TimestampCache:
    """ISO 8601 UTC timestamps at one-second resolution, formatted once per second."""

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
        return self._text


_timestamps = _TimestampCache()


def utc_timestamp() -> str:
    """The current time as OCPP 1.6 `dateTime` text, e.g. `2025-01-31T12:00:00Z`."""
    return _timestamps.now()


HEARTBEAT = Request("Heartbeat", {})
"""The only CALL an idle charger sends, also to tell that it is back after a reconnect."""


def fleet_id_tag(index: int, lane: int) -> str:
    """The id tag charger ``index`` presents on session lane ``lane`` (OCPP 1.6 IdToken: CiString20)."""
    return f"TAG{index:06d}{lane:02d}"


def status_notification(connector_id: int, status: str) -> Request:
    """A StatusNotification for one connector (0 is the charger itself)."""
    return Request(
        "StatusNotification",
        {
            "connectorId": connector_id,
            "errorCode": "NoError",
            "status": status,
            "timestamp": utc_timestamp(),
        },
    )


def start_transaction(connector_id: int, id_tag: str, meter_start_wh: int) -> Request:
    """A StartTransaction on one connector, with the energy register as it stands."""
    return Request(
        "StartTransaction",
        {
            "connectorId": connector_id,
            "idTag": id_tag,
            "meterStart": meter_start_wh,
            "timestamp": utc_timestamp(),
        },
    )


def session_steps(meter_values_per_session: int) -> tuple[Step, ...]:
    """The steps of one charging session, in order."""
    return (
        Step.HEARTBEAT,
        Step.AUTHORIZE,
        Step.STATUS_PREPARING,
        Step.START,
        Step.STATUS_CHARGING,
        *(Step.METER for _ in range(meter_values_per_session)),
        Step.STOP,
        Step.STATUS_FINISHING,
        Step.STATUS_AVAILABLE,
    )


class SessionScript:
    """Endless charging sessions on one connector.

    Call `next_request()`, send it, then call exactly one of `on_result(payload)` or
    `on_failure()` before the next `next_request()`.
    """

    def __init__(
        self,
        *,
        connector_id: int,
        id_tag: str,
        rng: random.Random,
        meter_values_per_session: int = 8,
    ) -> None:
        self._connector_id = connector_id
        self._id_tag = id_tag
        self._rng = rng
        self._steps = session_steps(meter_values_per_session)
        self._position = 0
        self._current: Step | None = None
        self._transaction_id: int | None = None
        self._register_wh = rng.randrange(0, 5_000_000)
        self._power_w = 11_000.0

    @property
    def transaction_id(self) -> int | None:
        """The transaction id the central system gave the running session, if any."""
        return self._transaction_id

    def next_request(self) -> Request:
        """The next CALL to send; skips transaction steps when no transaction is running."""
        if self._current is not None:
            raise RuntimeError("the previous request has not been answered")
        while True:
            step = self._steps[self._position]
            self._position = (self._position + 1) % len(self._steps)
            if step in _NEEDS_TRANSACTION and self._transaction_id is None:
                continue
            self._current = step
            return self._build(step)

    def on_result(self, payload: dict[str, Any]) -> None:
        """Apply the CALLRESULT payload of the request last returned by `next_request()`."""
        step = self._take_current()
        if step is Step.START:
            transaction_id = payload.get("transactionId")
            status = payload.get("idTagInfo", {}).get("status")
            # OCPP 1.6 section 5.16: only an Accepted idTag lets the transaction go on.
            if isinstance(transaction_id, int) and status == "Accepted":
                self._transaction_id = transaction_id
        elif step is Step.STOP:
            self._transaction_id = None

    def on_failure(self) -> None:
        """The request last returned got a CALLERROR or no answer."""
        step = self._take_current()
        if step is Step.STOP:
            # A real charger would queue the stop and resend it; the simulator starts afresh so
            # that one lost reply does not freeze the connector.
            self._transaction_id = None

    def _take_current(self) -> Step:
        step = self._current
        if step is None:
            raise RuntimeError("no request is waiting for a reply")
        self._current = None
        return step

    def _build(self, step: Step) -> Request:
        if step is Step.HEARTBEAT:
            return Request("Heartbeat", {})
        if step is Step.AUTHORIZE:
            return Request("Authorize", {"idTag": self._id_tag})
        if step in _STATUS_STEPS:
            return status_notification(self._connector_id, step.value)
        if step is Step.START:
            self._power_w = self._rng.choice((7_400.0, 11_000.0, 22_000.0))
            return start_transaction(self._connector_id, self._id_tag, self._register_wh)
        if step is Step.METER:
            return self._meter_values()
        return Request(
            "StopTransaction",
            {
                "transactionId": self._transaction_id,
                "idTag": self._id_tag,
                "meterStop": self._register_wh,
                "timestamp": utc_timestamp(),
                "reason": "Local",
            },
        )

    def _meter_values(self) -> Request:
        power = self._power_w * self._rng.uniform(0.9, 1.0)
        self._register_wh += round(power * SAMPLE_SECONDS / 3600)
        # Three phases at 230 V line-to-neutral share the power.
        amps = f"{power / (3 * 230.0):.1f}"
        sampled = [
            {
                "value": str(self._register_wh),
                "context": "Sample.Periodic",
                "measurand": "Energy.Active.Import.Register",
                "location": "Outlet",
                "unit": "Wh",
            },
            {
                "value": f"{power:.1f}",
                "context": "Sample.Periodic",
                "measurand": "Power.Active.Import",
                "location": "Outlet",
                "unit": "W",
            },
            *(
                {
                    "value": amps,
                    "context": "Sample.Periodic",
                    "measurand": "Current.Import",
                    "phase": phase,
                    "location": "Outlet",
                    "unit": "A",
                }
                for phase in ("L1", "L2", "L3")
            ),
        ]
        return Request(
            "MeterValues",
            {
                "connectorId": self._connector_id,
                "transactionId": self._transaction_id,
                "meterValue": [{"timestamp": utc_timestamp(), "sampledValue": sampled}],
            },
        )
