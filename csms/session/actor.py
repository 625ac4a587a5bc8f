"""One actor per active transaction, the only writer of its rows: its start, meter values, energy and
end, for every OCPP version.

A session outlives the connection that started it (a charger that reconnects carries on with the same
transaction), so sessions sit under their own supervisor, and a session is (re)started from the store
whenever a message names a transaction that has none. A write that fails leaves its state in doubt: the
asker gets the error and the supervisor restarts the session from the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from actors import Actor
from csms.events import EventBus
from csms.payloads.metering import energy_register_wh, sample_rows
from csms.session.transaction_event import EventType, TransactionEventReport
from csms.session.transaction_state import TransactionEventState
from persistence.reads import Reads
from persistence.records import IdTokenStatus, MeterSample
from persistence.transactions import (
    REFUSED_REASON,
    AbandonedTransaction,
    StartOutcome,
    get_transaction,
    meter_samples_recorded,
    token_released,
    token_taken,
    transaction_event_recorded,
    transaction_seq_nos,
    transaction_start_recorded,
    transaction_started,
    transaction_updated,
)
from persistence.writer import Fence, WriteOp, Writer

TX_RESUMED = "TxResumed"
"""OCPP 2.1 TriggerReasonEnumType: the station goes on with a transaction after its reboot."""
STOP_AUTHORIZED = "StopAuthorized"
"""2.0.1 TriggerReasonEnumType: a token was presented to end the transaction (2.0.1 E06/C01). It
takes nothing: a card that stops a session (a fleet or group card may stop one it did not start)
is not charging with it, and is never answered ConcurrentTx for charging elsewhere."""


class ForeignTransaction(LookupError):
    """A message names a transaction of another station."""


class DuplicateStart(LookupError):
    """The start is stored already under another id (the same StartTransaction, committed by the
    station's previous connection a moment ago); this session has nothing to hold and stops."""


@dataclass(frozen=True, slots=True)
class OpenTransaction:
    """The start of a 1.6 transaction (StartTransaction); answered after its commit."""

    station_id: str
    """Station that sent it."""
    evse_id: int
    """EVSE of the connector."""
    connector_id: int
    """Connector within the EVSE."""
    id_token: str
    """Normalised id tag."""
    start_time: datetime
    """When the charger started it."""
    dedup_key: str
    """Identifies a resent start (unique per station in the store)."""
    reservation_id: int | None
    """Reservation it used, if any."""
    extra: Mapping[str, Any]
    """Version-specific details (the authorization status answered)."""
    fence: Fence | None = None
    """The lease of the connection that sent it: its writes are refused once that is stale."""
    authorization: IdTokenStatus = IdTokenStatus.ACCEPTED
    """What the token's record allows. Accepted: the start takes the token in its commit, or is
    answered ConcurrentTx; anything else (or ConcurrentTx) closes the transaction at once, since
    the charger stops it or sends nothing more (1.6 StopTransactionOnInvalidId)."""


@dataclass(frozen=True, slots=True)
class OpenedTransaction:
    """The answer to ``OpenTransaction``: the status to answer and what the start closed."""

    authorization: IdTokenStatus
    """The token's status, ConcurrentTx when another open transaction holds it."""
    abandoned: tuple[AbandonedTransaction, ...]
    """Transactions of the same connector that the start closed as abandoned."""


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """The answer to a ``TransactionEventReport``."""

    token_held: bool | None
    """Whether the transaction holds its token now (False: ConcurrentTx); None when the event
    did not ask to take it."""
    abandoned: tuple[AbandonedTransaction, ...]
    """Transactions of the same EVSE that this transaction's first event closed as abandoned."""


@dataclass(frozen=True, slots=True)
class RecordMeterValues:
    """Samples of a transaction; answered after their commit."""

    station_id: str
    """Station that sent them (must own the transaction)."""
    samples: Sequence[MeterSample]
    """Parsed sampled values."""
    evse_id: int | None
    """EVSE they were measured at."""
    connector_id: int | None
    """Connector they were measured at."""
    updates: Mapping[str, Any] = field(default_factory=dict)
    """Further columns of the transaction to update in the same commit (2.x charging state...)."""
    fence: Fence | None = None
    """The lease of the connection that sent it: its writes are refused once that is stale."""


@dataclass(frozen=True, slots=True)
class StopSession:
    """The end of a transaction; answered after its commit. A second stop changes nothing."""

    station_id: str
    """Station that sent it (must own the transaction)."""
    stop_time: datetime
    """When the charger ended it."""
    meter_stop_wh: float | None
    """Final register in Wh."""
    reason: str | None
    """Stop reason as reported."""
    id_token: str | None = None
    """Token that stopped it, if any."""
    samples: Sequence[MeterSample] = ()
    """Transaction data sent with the stop."""
    evse_id: int | None = None
    """EVSE of the samples."""
    connector_id: int | None = None
    """Connector of the samples."""
    updates: Mapping[str, Any] = field(default_factory=dict)
    """Further columns to update in the same commit."""
    fence: Fence | None = None
    """The lease of the connection that sent it: its writes are refused once that is stale."""


@dataclass(frozen=True, slots=True)
class SessionState:
    """A session's state, as StartTransaction just committed it (or, for a 2.x transaction, as its
    first TransactionEvent will create it)."""

    transaction_id: str
    station_id: str
    meter_start_wh: float | None
    last_meter_wh: float | None
    stopped: bool
    persisted: bool = True
    """False: no row yet; the first event the session applies inserts it."""
    protocol: str = "ocpp1.6"
    """Version of the station that runs it."""


class SessionActor(Actor):
    """Holds one transaction's running energy; every write goes through the group commit."""

    def __init__(
        self,
        reads: Reads,
        writer: Writer,
        transaction_id: str,
        known: SessionState | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.reads = reads
        self.writer = writer
        self.transaction_id = transaction_id
        self.events = events
        """The operators' live stream: start, meter readings and end, once committed."""
        self.known = known
        """State just committed by StartTransaction (None: read it from the store)."""
        self.station_id = ""
        self.meter_start_wh: float | None = None
        self.last_meter_wh: float | None = None
        self.stopped = False
        """Its station ended it: a second stop changes nothing."""
        self.closed = False
        """It has a stop time: its station ended it, or the CSMS closed it (refused, abandoned;
        a stop from its station still lands then)."""
        self.evse_id: int | None = None
        self.connector_id: int | None = None
        """Where it runs: the location of its samples when a message does not say (a 1.6
        StopTransaction's transactionData), so that a sample sent twice has one key."""
        self.progress = TransactionEventState()
        self._fence: Fence | None = None
        """Whether the transaction's row exists yet and its protocol, and for a 2.x transaction
        what its TransactionEvents have told so far."""

    async def on_start(self) -> None:
        if self.known is not None:
            self.station_id = self.known.station_id
            self.meter_start_wh = self.known.meter_start_wh
            self.last_meter_wh = self.known.last_meter_wh
            self.stopped = self.closed = self.known.stopped
            self.progress.persisted = self.known.persisted
            self.progress.protocol = self.known.protocol
            return
        record = await get_transaction(self.reads, self.transaction_id)
        if record is None:
            raise LookupError(f"transaction {self.transaction_id!r} is not in the store")
        self.station_id = record.station_id
        self.meter_start_wh = record.meter_start_wh
        self.last_meter_wh = record.last_meter_wh
        self.closed = record.stop_time is not None
        self.stopped = self.closed and not record.abandoned
        self.evse_id, self.connector_id = record.evse_id, record.connector_id
        if record.protocol != "ocpp1.6":
            seq_nos = await transaction_seq_nos(self.reads, self.transaction_id)
            self.progress = TransactionEventState.of(record, seq_nos)

    def escalates(self, error: Exception) -> bool:
        # A refusal is an answer; anything else (a failed write) leaves the state in doubt.
        return not isinstance(error, ForeignTransaction | DuplicateStart)

    async def on_receive(self, message: Any) -> Any:
        if not isinstance(
            message, OpenTransaction | RecordMeterValues | StopSession | TransactionEventReport
        ):
            raise TypeError(f"session cannot handle {type(message).__name__}")
        if message.station_id != self.station_id:
            # 1.6 transaction ids are small integers: another station's resend or replay may name
            # one of ours. It is answered from its own station's records, never applied here.
            raise ForeignTransaction(
                f"transaction {self.transaction_id} belongs to {self.station_id}, "
                f"not {message.station_id}"
            )
        # Written under the lease of the connection that sent the message (see ``Fence``).
        self._fence = message.fence
        try:
            if isinstance(message, OpenTransaction):
                return await self._open(message)
            if isinstance(message, RecordMeterValues):
                await self._record(message)
            elif isinstance(message, StopSession):
                await self._stop(message)
            else:
                return await self._event(message)
            return None
        finally:
            if self.closed:
                # Late meter values or a resent stop woke a finished transaction: done again.
                self.ref.stop_nowait()

    async def _open(self, message: OpenTransaction) -> OpenedTransaction | None:
        if self.progress.persisted:
            return None  # a resend reached the session that holds it
        accepted = message.authorization is IdTokenStatus.ACCEPTED

        def row(token_held: bool) -> WriteOp:
            status = message.authorization if token_held else IdTokenStatus.CONCURRENT_TX
            refused = status is not IdTokenStatus.ACCEPTED
            return transaction_started(
                transaction_id=self.transaction_id,
                station_id=self.station_id,
                evse_id=message.evse_id,
                connector_id=message.connector_id,
                id_token=message.id_token,
                id_token_type=None,
                start_time=message.start_time,
                meter_start_wh=self.meter_start_wh,
                protocol=self.progress.protocol,
                dedup_key=message.dedup_key,
                reservation_id=message.reservation_id,
                extra={**message.extra, "authorization": status.value},
                # Refused: closed at once, so that it never counts as running; the charger's
                # own stop, if it sends one, replaces this close.
                stop_time=message.start_time if refused else None,
                stop_reason=REFUSED_REASON if refused else None,
                abandoned=refused,
            )

        try:
            (outcome,) = await self.writer.submit(
                transaction_start_recorded(
                    transaction_id=self.transaction_id,
                    station_id=self.station_id,
                    evse_id=message.evse_id,
                    start_time=message.start_time,
                    id_token=message.id_token,
                    take_token=accepted,
                    row=row,
                ),
                fence=self._fence,
            )
        except IntegrityError:
            # The store's unique (station, dedup key) is the guard against a start stored twice.
            self.stopped = self.closed = True
            raise DuplicateStart(f"start of {self.transaction_id} is stored already") from None
        assert isinstance(outcome, StartOutcome)
        self.progress.persisted = True
        self.evse_id, self.connector_id = message.evse_id, message.connector_id
        status = message.authorization if outcome.token_held else IdTokenStatus.CONCURRENT_TX
        self._started(message.evse_id, message.connector_id, message.id_token)
        if status is not IdTokenStatus.ACCEPTED:
            self.closed = True
            self._ended(self.meter_start_wh, REFUSED_REASON)
        return OpenedTransaction(status, outcome.abandoned)

    async def _record(self, message: RecordMeterValues) -> None:
        await self._write(message.samples, message.evse_id, message.connector_id, message.updates)
        self._metered(message.samples)

    async def _stop(self, message: StopSession) -> None:
        if self.stopped:
            return
        updates = {
            **message.updates,
            "stop_time": message.stop_time,
            "meter_stop_wh": message.meter_stop_wh,
            "stop_reason": message.reason,
            "stop_id_token": message.id_token,
            # The station's own stop replaces a close by the CSMS (refused, abandoned).
            "abandoned": False,
        }
        await self._write(
            message.samples,
            message.evse_id,
            message.connector_id,
            updates,
            after=[token_released(self.transaction_id)],
        )
        self.stopped = self.closed = True
        self._ended(message.meter_stop_wh, message.reason)

    async def _event(self, message: TransactionEventReport) -> EventOutcome:
        """A 2.x TransactionEvent: the columns it changes, its samples and its log entry in one
        commit, with the token taken when the handler asks (ConcurrentTx otherwise). A resend (a
        seqNo already applied) changes nothing but may take the token again."""
        progress = self.progress
        take_token = (
            message.take_token
            and message.id_token is not None
            and message.event_type is not EventType.ENDED
            and message.trigger_reason != STOP_AUTHORIZED
        )
        evse_id = message.evse_id if message.evse_id is not None else progress.evse_id
        if message.seq_no in progress.seq_nos:
            if not take_token or message.id_token is None:
                return EventOutcome(None, ())
            (held,) = await self.writer.submit(
                token_taken(
                    id_token=message.id_token,
                    transaction_id=self.transaction_id,
                    station_id=self.station_id,
                    evse_id=evse_id,
                ),
                fence=self._fence,
            )
            return EventOutcome(bool(held), ())
        before: list[WriteOp] = []
        if not progress.persisted:
            first = transaction_started(
                transaction_id=self.transaction_id,
                station_id=self.station_id,
                evse_id=message.evse_id,
                connector_id=message.connector_id,
                id_token=message.id_token,
                id_token_type=message.id_token_type,
                start_time=message.timestamp,
                meter_start_wh=None,
                protocol=progress.protocol,
                dedup_key=None,
                ignore_duplicate=True,
            )
            before.append(
                transaction_start_recorded(
                    transaction_id=self.transaction_id,
                    station_id=self.station_id,
                    evse_id=message.evse_id,
                    start_time=message.timestamp,
                    id_token=message.id_token,
                    take_token=take_token,
                    row=lambda _held: first,
                )
            )
        # OCPP 2.1 E: a station that resumes a transaction after its reboot says so; the close
        # of the transaction as abandoned at that boot is undone, and it takes its token again.
        resumed = (
            self.closed
            and not self.stopped
            and message.trigger_reason == TX_RESUMED
            and message.event_type is not EventType.ENDED
        )
        token = message.id_token if take_token else progress.id_token if resumed else None
        if progress.persisted and token is not None:
            before.append(
                token_taken(
                    id_token=token,
                    transaction_id=self.transaction_id,
                    station_id=self.station_id,
                    evse_id=evse_id,
                )
            )
        updates = progress.apply(message, self.meter_start_wh, self.last_meter_wh, self.stopped)
        if resumed:
            updates.update(stop_time=None, meter_stop_wh=None, stop_reason=None, abandoned=False)
        if "meter_start_wh" in updates:
            self.meter_start_wh = updates["meter_start_wh"]
        after = [
            transaction_event_recorded(
                self.transaction_id,
                station_id=message.station_id,
                seq_no=message.seq_no,
                event_type=message.event_type.value,
                trigger_reason=message.trigger_reason,
                timestamp=message.timestamp,
                offline=message.offline,
                payload=message.record,
            )
        ]
        if updates.get("stop_time") is not None:
            # The station's own end replaces a close by the CSMS (abandoned).
            updates["abandoned"] = False
            after.append(token_released(self.transaction_id))
        results = await self._write(
            message.samples,
            evse_id,
            message.connector_id if message.connector_id is not None else progress.connector_id,
            updates,
            before=before,
            after=after,
        )
        evse_known = progress.evse_id is not None
        progress.commit(message, updates)
        outcome = EventOutcome(None, ())
        first_result = results[0] if before else None
        started = isinstance(first_result, StartOutcome) or resumed
        if not evse_known and not started and progress.evse_id is not None:
            # A 2.x transaction may name its EVSE only in a later event (2.0.1 E02, cable
            # first): whoever shares a site's limit among EVSEs learns it now.
            self._publish(
                "transaction.evse",
                {"evse_id": progress.evse_id, "connector_id": progress.connector_id},
            )
        if isinstance(first_result, StartOutcome):
            outcome = EventOutcome(
                first_result.token_held if take_token else None, first_result.abandoned
            )
            self._started(progress.evse_id, progress.connector_id, progress.id_token)
        elif before:
            outcome = EventOutcome(bool(first_result), ())
        if resumed:
            self.closed = False
            self._started(progress.evse_id, progress.connector_id, progress.id_token)
        if updates.get("stop_time") is not None:
            self.stopped = self.closed = True
            self._ended(updates["meter_stop_wh"], updates["stop_reason"])
        elif message.event_type is EventType.ENDED:
            self.stopped = self.closed = True
        else:
            self._metered(message.samples)
        return outcome

    async def _write(
        self,
        samples: Sequence[MeterSample],
        evse_id: int | None,
        connector_id: int | None,
        updates: Mapping[str, Any],
        *,
        before: Sequence[WriteOp] = (),
        after: Sequence[WriteOp] = (),
    ) -> list[Any]:
        """Samples and transaction columns in one submission (with ``before`` and ``after``);
        returns the ops' results (``before``'s first) after their commit. The transaction's
        update merges with the batch's others (nothing in the batch reads it)."""
        # News of the transaction: it is not one that never ends after all.
        values = {**updates, "stale": False}
        register = energy_register_wh(samples)
        if register is not None and (self.last_meter_wh is None or register > self.last_meter_wh):
            values["last_meter_wh"] = register
        # A sample's key holds its location: the transaction's own, when the message gives none.
        rows = sample_rows(
            samples,
            station_id=self.station_id,
            transaction_id=self.transaction_id,
            evse_id=evse_id if evse_id is not None else self.evse_id,
            connector_id=connector_id if connector_id is not None else self.connector_id,
        )
        ops = [*before]
        if rows:
            ops.append(meter_samples_recorded(rows))
        ops.append(transaction_updated(self.transaction_id, **values))
        ops.extend(after)
        results = await self.writer.submit(*ops, fence=self._fence)
        if "last_meter_wh" in values:
            self.last_meter_wh = values["last_meter_wh"]
        return results

    # -- the live stream -----------------------------------------------------------------------

    def _publish(self, type: str, data: dict[str, Any]) -> None:
        if self.events is not None:
            self.events.publish(
                type, self.station_id, {"transaction_id": self.transaction_id, **data}
            )

    def _started(self, evse_id: int | None, connector_id: int | None, id_token: str | None) -> None:
        self._publish(
            "transaction.started",
            {
                "evse_id": evse_id,
                "connector_id": connector_id,
                "id_token": id_token,
                "meter_start_wh": self.meter_start_wh,
            },
        )

    def _metered(self, samples: Sequence[MeterSample]) -> None:
        if samples:
            self._publish(
                "transaction.meter",
                {"power_w": power_w(samples), "energy_wh": self._delivered(self.last_meter_wh)},
            )

    def _ended(self, meter_stop_wh: float | None, reason: str | None) -> None:
        self._publish(
            "transaction.ended", {"energy_wh": self._delivered(meter_stop_wh), "reason": reason}
        )

    def _delivered(self, register_wh: float | None) -> float | None:
        """Energy delivered up to ``register_wh`` (None when either end is unknown)."""
        if register_wh is None or self.meter_start_wh is None:
            return None
        return register_wh - self.meter_start_wh


POWER = "Power.Active.Import"
_TO_W = {"W": 1.0, "kW": 1000.0}
_LINE_PHASES = ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N")


def power_w(samples: Sequence[MeterSample]) -> float | None:
    """The latest active power imported, in W: the total if reported, else the sum of the line
    phases; None without one. Readings located at the EV measure the car, not the charger."""
    readings = [
        (s.timestamp, s.phase, s.value * _TO_W[s.unit])
        for s in samples
        if s.measurand == POWER
        and s.value is not None
        and s.unit is not None
        and s.unit in _TO_W
        and s.location != "EV"
    ]
    if not readings:
        return None
    latest = max(timestamp for timestamp, _, _ in readings)
    total: float | None = None
    phases: dict[str, float] = {}
    for timestamp, phase, watts in readings:
        if timestamp != latest:
            continue
        if phase is None:
            total = watts
        elif phase in _LINE_PHASES:
            phases[phase] = watts
    if total is not None:
        return total
    return sum(phases.values()) if phases else None
