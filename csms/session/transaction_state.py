"""What a 2.x transaction's events have established, and the columns each new event changes.

Pure: ``apply`` computes the changes of one event from the state so far without touching it; the
session commits them, then calls ``commit``. Energy follows OCPP 2.0.1 Part 2 E: the register at
Transaction.Begin (or in the Started event) is the start, the one at Transaction.End (or in the Ended
event) the end; without them, the lowest and the highest register the transaction reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.payloads.metering import energy_register_wh
from csms.session.transaction_event import (
    DEFAULT_STOPPED_REASON,
    EventType,
    TransactionEventReport,
    gap_ranges,
)
from persistence.records import MeterSample, TransactionRecord


def _register_in_context(samples: Iterable[MeterSample], context: str) -> float | None:
    return energy_register_wh(s for s in samples if s.context == context)


@dataclass(slots=True)
class TransactionEventState:
    """The columns of a 2.x transaction that later events compare against."""

    persisted: bool = True
    """Whether its row exists (False until the first event's commit)."""
    protocol: str = "ocpp2.0.1"
    """Version of the station that runs it."""
    seq_nos: set[int] = field(default_factory=set)
    """Sequence numbers applied so far."""
    start_time: datetime | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, record: TransactionRecord, seq_nos: Iterable[int]) -> TransactionEventState:
        """The state of a stored transaction (a session restarted, or woken by a late event)."""
        return cls(
            persisted=True,
            protocol=record.protocol,
            seq_nos=set(seq_nos),
            start_time=record.start_time,
            evse_id=record.evse_id,
            connector_id=record.connector_id,
            id_token=record.id_token,
            remote_start_id=record.remote_start_id,
            reservation_id=record.reservation_id,
            extra=dict(record.extra or {}),
        )

    def apply(
        self,
        event: TransactionEventReport,
        meter_start_wh: float | None,
        last_meter_wh: float | None,
        stopped: bool,
    ) -> dict[str, Any]:
        """Transaction columns to update for ``event`` (not yet applied to this state)."""
        updates: dict[str, Any] = {}
        if self.start_time is None or event.timestamp < self.start_time:
            updates["start_time"] = event.timestamp
        register = energy_register_wh(event.samples)
        begin = _register_in_context(event.samples, "Transaction.Begin")
        if begin is None and event.event_type is EventType.STARTED:
            begin = register
        extra = self._extra(event)
        if not self.meter_start_known:
            if begin is not None:
                updates["meter_start_wh"] = begin
                extra["meter_start_source"] = "begin"
            elif register is not None and (meter_start_wh is None or register < meter_start_wh):
                # No Started with a register seen (lost, or still in the charger's queue): the
                # lowest register so far stands in for the start.
                updates["meter_start_wh"] = register
                extra["meter_start_source"] = "lowest"
        if event.event_type is EventType.ENDED and not stopped:
            end = _register_in_context(event.samples, "Transaction.End")
            if end is None:
                end = register
            if end is None:
                end = last_meter_wh
            updates.update(
                stop_time=event.timestamp,
                meter_stop_wh=end,
                stop_reason=event.stopped_reason or DEFAULT_STOPPED_REASON,
                stop_id_token=event.id_token,
            )
        if self.id_token is None and event.id_token is not None:
            updates["id_token"] = event.id_token
            updates["id_token_type"] = event.id_token_type
        for column in ("evse_id", "connector_id", "remote_start_id", "reservation_id"):
            value = getattr(event, column)
            if value is not None and getattr(self, column) != value:
                updates[column] = value
        updates["extra"] = extra
        return updates

    @property
    def meter_start_known(self) -> bool:
        """The start register came from Transaction.Begin or the Started event, not a guess."""
        return self.extra.get("meter_start_source") == "begin"

    def _extra(self, event: TransactionEventReport) -> dict[str, Any]:
        extra = dict(self.extra)
        seq_nos = {*self.seq_nos, event.seq_no}
        if event.seq_no >= max(self.seq_nos, default=-1):
            # The newest event says what the transaction is doing now.
            extra["trigger_reason"] = event.trigger_reason
            if event.charging_state is not None:
                extra["charging_state"] = event.charging_state
        extra.update(event.details)
        extra["offline"] = bool(extra.get("offline")) or event.offline
        extra["seq_no_gaps"] = gap_ranges(seq_nos)
        extra["events"] = len(seq_nos)
        if event.event_type is EventType.ENDED:
            extra["ended_seq_no"] = event.seq_no
        return extra

    def commit(self, event: TransactionEventReport, updates: Mapping[str, Any]) -> None:
        """Take the changes that ``apply`` computed for ``event``, once they are committed."""
        self.persisted = True
        self.seq_nos.add(event.seq_no)
        if "start_time" in updates:
            self.start_time = updates["start_time"]
        for column in ("evse_id", "connector_id", "id_token", "remote_start_id", "reservation_id"):
            if column in updates:
                setattr(self, column, updates[column])
        self.extra = dict(updates.get("extra", self.extra))
