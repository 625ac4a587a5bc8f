"""One actor per active transaction: its meter values, its energy, its end.

A session outlives the connection that started it (a charger that reconnects carries on with the same
transaction), so sessions sit under their own supervisor, and a session is (re)started from the store
whenever a message names a transaction that has none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from actors.actor import Actor, ActorRef
from actors.context import CsmsContext
from actors.errors import ActorError
from actors.metering import energy_register_wh, sample_rows
from actors.supervisor import Supervisor
from actors.transaction_event import EventType, TransactionEventReport
from actors.transaction_state import TransactionEventState
from persistence import repositories as repo
from persistence.records import MeterSample
from persistence.writer import WriteOp


class ForeignTransaction(LookupError):
    """A message names a transaction of another station."""


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
        self, context: CsmsContext, transaction_id: str, known: SessionState | None = None
    ) -> None:
        self.context = context
        self.transaction_id = transaction_id
        self.known = known
        """State just committed by StartTransaction (None: read it from the store)."""
        self.station_id = ""
        self.meter_start_wh: float | None = None
        self.last_meter_wh: float | None = None
        self.stopped = False
        self.v2 = TransactionEventState()
        """What 2.x TransactionEvents have told so far."""

    async def on_start(self) -> None:
        if self.known is not None:
            self.station_id = self.known.station_id
            self.meter_start_wh = self.known.meter_start_wh
            self.last_meter_wh = self.known.last_meter_wh
            self.stopped = self.known.stopped
            self.v2.persisted = self.known.persisted
            self.v2.protocol = self.known.protocol
            return
        record = await repo.get_transaction(self.context.reads, self.transaction_id)
        if record is None:
            raise LookupError(f"transaction {self.transaction_id!r} is not in the store")
        self.station_id = record.station_id
        self.meter_start_wh = record.meter_start_wh
        self.last_meter_wh = record.last_meter_wh
        self.stopped = record.stop_time is not None
        if record.protocol != "ocpp1.6":
            seq_nos = await repo.transaction_seq_nos(self.context.reads, self.transaction_id)
            self.v2 = TransactionEventState.of(record, seq_nos)

    async def on_receive(self, message: Any) -> None:
        if not isinstance(message, RecordMeterValues | StopSession | TransactionEventReport):
            raise TypeError(f"session cannot handle {type(message).__name__}")
        if message.station_id != self.station_id:
            # 1.6 transaction ids are small integers: another station's resend or replay may name
            # one of ours. It is answered from its own station's records, never applied here.
            raise ForeignTransaction(
                f"transaction {self.transaction_id} belongs to {self.station_id}, "
                f"not {message.station_id}"
            )
        try:
            if isinstance(message, RecordMeterValues):
                await self._record(message)
            elif isinstance(message, StopSession):
                await self._stop(message)
            else:
                await self._event(message)
        finally:
            if self.stopped:
                # Late meter values or a resent stop woke a finished transaction: done again.
                self.ref.stop_nowait()

    async def _record(self, message: RecordMeterValues) -> None:
        await self._write(message.samples, message.evse_id, message.connector_id, message.updates)

    async def _stop(self, message: StopSession) -> None:
        if self.stopped:
            return
        updates = {
            **message.updates,
            "stop_time": message.stop_time,
            "meter_stop_wh": message.meter_stop_wh,
            "stop_reason": message.reason,
            "stop_id_token": message.id_token,
        }
        await self._write(message.samples, message.evse_id, message.connector_id, updates)
        self.stopped = True

    async def _event(self, message: TransactionEventReport) -> None:
        """A 2.x TransactionEvent: the columns it changes, its samples and its log entry in one
        commit. A resend (a seqNo already applied) changes nothing."""
        v2 = self.v2
        if message.seq_no in v2.seq_nos:
            return
        before: list[WriteOp] = []
        if not v2.persisted:
            before.append(
                repo.transaction_started(
                    transaction_id=self.transaction_id,
                    station_id=self.station_id,
                    evse_id=message.evse_id,
                    connector_id=message.connector_id,
                    id_token=message.id_token,
                    id_token_type=message.id_token_type,
                    start_time=message.timestamp,
                    meter_start_wh=None,
                    protocol=v2.protocol,
                    dedup_key=None,
                    ignore_duplicate=True,
                )
            )
        updates = v2.apply(message, self.meter_start_wh, self.last_meter_wh, self.stopped)
        if "meter_start_wh" in updates:
            self.meter_start_wh = updates["meter_start_wh"]
        event_row = repo.transaction_event_recorded(self.transaction_id, message)
        await self._write(
            message.samples,
            message.evse_id,
            message.connector_id,
            updates,
            before=before,
            after=[event_row],
        )
        v2.commit(message, updates)
        if message.event_type is EventType.ENDED:
            self.stopped = True

    async def _write(
        self,
        samples: Sequence[MeterSample],
        evse_id: int | None,
        connector_id: int | None,
        updates: Mapping[str, Any],
        *,
        before: Sequence[WriteOp] = (),
        after: Sequence[WriteOp] = (),
    ) -> None:
        """Samples and transaction columns in one submission (with ``before`` and ``after``);
        returns after their commit. The transaction's update merges with the batch's others
        (nothing in the batch reads it)."""
        # News of the transaction: it is not one that never ends after all.
        values = {**updates, "stale": False}
        register = energy_register_wh(samples)
        if register is not None and (self.last_meter_wh is None or register > self.last_meter_wh):
            values["last_meter_wh"] = register
        rows = sample_rows(
            samples,
            station_id=self.station_id,
            transaction_id=self.transaction_id,
            evse_id=evse_id,
            connector_id=connector_id,
        )
        ops = [*before]
        if rows:
            ops.append(repo.meter_samples_recorded(rows))
        ops.append(repo.transaction_updated(self.transaction_id, **values))
        ops.extend(after)
        await self.context.writer.submit(*ops)
        if "last_meter_wh" in values:
            self.last_meter_wh = values["last_meter_wh"]


SessionFactory = Callable[[str, SessionState | None], Actor]


class SessionDirectory:
    """Finds the actor of a transaction, starting it from the store when it has none."""

    def __init__(
        self,
        supervisor: Supervisor,
        factory: SessionFactory,
        stored: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self._supervisor = supervisor
        self._factory = factory
        self._stored = stored
        """Whether the store holds a transaction (None: ask by starting its actor)."""
        self._starting: dict[str, asyncio.Future[ActorRef | None]] = {}

    def _factory_for(self, transaction_id: str, known: SessionState | None) -> Callable[[], Actor]:
        """The first start uses ``known``; a restart by the supervisor reloads from the store."""
        first: list[SessionState | None] = [known]

        def make() -> Actor:
            state, first[0] = first[0], None
            return self._factory(transaction_id, state)

        return make

    async def start(self, state: SessionState) -> ActorRef:
        """The actor of a transaction that was just committed, without reading it back."""
        return await self._supervisor.spawn(
            self._factory_for(state.transaction_id, state), name=f"tx:{state.transaction_id}"
        )

    async def get(self, transaction_id: str) -> ActorRef | None:
        """The transaction's actor; None if the store does not know the transaction."""
        name = f"tx:{transaction_id}"
        ref = self._supervisor.child(name)
        if ref is not None:
            return ref
        starting = self._starting.get(transaction_id)
        if starting is not None:
            return await asyncio.shield(starting)
        future: asyncio.Future[ActorRef | None] = asyncio.get_running_loop().create_future()
        self._starting[transaction_id] = future
        try:
            ref = await self._supervisor.spawn(self._factory_for(transaction_id, None), name=name)
        except LookupError:
            ref = None
        except BaseException as exc:
            future.set_exception(exc)
            # Retrieved here so that a failure nobody else awaited is not reported as lost.
            future.exception()
            raise
        finally:
            del self._starting[transaction_id]
        future.set_result(ref)
        return ref

    async def get_or_start(self, state: SessionState) -> ActorRef:
        """The transaction's actor, or a new one with ``state`` when the store does not know the
        transaction (a 2.x transaction whose first event just arrived)."""
        name = f"tx:{state.transaction_id}"
        ref = self._supervisor.child(name)
        if ref is not None:
            return ref
        # A new transaction is the common case: one read says so, without an actor that starts
        # only to find nothing.
        if self._stored is None or await self._stored(state.transaction_id):
            ref = await self.get(state.transaction_id)
            if ref is not None:
                return ref
        try:
            return await self.start(state)
        except ActorError:
            # The station's previous connection started it a moment ago.
            ref = self._supervisor.child(name)
            if ref is None:
                raise
            return ref

    def active_count(self) -> int:
        """Live session actors (for metrics: copies the supervisor's table)."""
        return len(self._supervisor.children())
