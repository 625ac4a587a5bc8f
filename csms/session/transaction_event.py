"""OCPP 2.0.1/2.1 TransactionEvent: one message type for a transaction's start, updates and end.

A charger numbers the events of a transaction (``seqNo``) and resends one until it is answered, from an
offline queue too, with the old timestamps and ``offline`` set. So an event is identified by its
transaction and seqNo: a resend is answered again and stored once, and the numbers never seen between
the lowest and the highest tell the operator that events are missing (E01-E07 of OCPP 2.0.1 Part 2).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from persistence.records import MeterSample
from persistence.writer import Fence

MAX_GAP_RANGES = 20
"""A charger that numbers events across transactions would otherwise grow the list without bound."""


class EventType(StrEnum):
    """TransactionEventEnumType."""

    STARTED = "Started"
    UPDATED = "Updated"
    ENDED = "Ended"


# OCPP 2.0.1 Part 2, TransactionEventRequest.transactionInfo.stoppedReason: "can only be left out
# when Reason is Local".
DEFAULT_STOPPED_REASON = "Local"


@dataclass(frozen=True, slots=True)
class TransactionEventReport:
    """One TransactionEvent as a session actor applies it; answered after its commit."""

    station_id: str
    """Station that sent it (must own the transaction)."""
    event_type: EventType
    """Started, Updated or Ended."""
    seq_no: int
    """The charger's sequence number of the event within the transaction."""
    timestamp: datetime
    """When it happened at the charger (old for replayed offline events)."""
    trigger_reason: str
    """TriggerReasonEnumType: why the charger sent it."""
    offline: bool
    """Queued while the charger was offline, sent now."""
    samples: Sequence[MeterSample]
    """Meter values it carries."""
    evse_id: int | None
    """EVSE of the transaction (sent at least once per transaction)."""
    connector_id: int | None
    """Connector of the transaction, if the charger said."""
    id_token: str | None
    """Token that authorized (or, on Ended, stopped) it, normalised."""
    id_token_type: str | None
    """IdTokenEnumType of ``id_token``."""
    charging_state: str | None
    """ChargingStateEnumType: Charging, EVConnected, SuspendedEV, SuspendedEVSE, Idle."""
    stopped_reason: str | None
    """ReasonEnumType of an Ended event."""
    remote_start_id: int | None
    """Id of the RequestStartTransaction that started it."""
    reservation_id: int | None
    """Reservation the transaction used."""
    record: Mapping[str, Any]
    """The event as sent less its meter values, for the transaction's event log."""
    details: Mapping[str, Any]
    """Further version-specific fields worth showing (timeSpentCharging, numberOfPhasesUsed...)."""
    fence: Fence | None = None
    """The lease of the connection that sent it: its writes are refused once that is stale."""
    take_token: bool = False
    """The token is accepted: the transaction takes it in this event's commit, unless another
    open transaction holds it (ConcurrentTx). Never on Ended."""


def gap_ranges(seen: Iterable[int]) -> list[list[int]]:
    """Runs of sequence numbers missing between the lowest and the highest seen, as [first, last]."""
    ordered = sorted(set(seen))
    gaps: list[list[int]] = []
    for previous, current in itertools.pairwise(ordered):
        if current > previous + 1:
            gaps.append([previous + 1, current - 1])
            if len(gaps) == MAX_GAP_RANGES:
                break
    return gaps


def report_from_payload(
    station_id: str,
    payload: Mapping[str, Any],
    *,
    timestamp: datetime,
    samples: Sequence[MeterSample],
    id_token: str | None,
    fence: Fence | None = None,
) -> TransactionEventReport:
    """Read the fields of a TransactionEventRequest (validated against its schema)."""
    info = payload["transactionInfo"]
    evse = payload.get("evse") or {}
    token = payload.get("idToken") or {}
    details = {}
    if "timeSpentCharging" in info:
        details["time_spent_charging"] = info["timeSpentCharging"]
    for key, name in (
        ("numberOfPhasesUsed", "number_of_phases_used"),
        ("cableMaxCurrent", "cable_max_current"),
    ):
        if key in payload:
            details[name] = payload[key]
    return TransactionEventReport(
        station_id=station_id,
        event_type=EventType(payload["eventType"]),
        seq_no=int(payload["seqNo"]),
        timestamp=timestamp,
        trigger_reason=payload["triggerReason"],
        offline=bool(payload.get("offline", False)),
        samples=samples,
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
        id_token=id_token,
        id_token_type=token.get("type"),
        charging_state=info.get("chargingState"),
        stopped_reason=info.get("stoppedReason"),
        remote_start_id=info.get("remoteStartId"),
        reservation_id=payload.get("reservationId"),
        record={k: v for k, v in payload.items() if k != "meterValue"},
        details=details,
        fence=fence,
    )
