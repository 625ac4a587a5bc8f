"""Write-behind store of presence and connector status, coalesced per key.

Heartbeats and StatusNotifications are answered at once (architecture, durability rule): their data is
kept in memory and flushed every ``flush_interval`` seconds in one transaction, the latest value per key
as an upsert and every status change as a history row. Reads overlay what is not flushed yet on the
stored rows, so callers always see the latest value. What a crash loses is refreshed after the
restart by asking the connected chargers again (TriggerMessage).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from persistence.database import dialect_insert
from persistence.sqltypes import utcnow
from persistence.status_models import connector_status, station_presence, status_history

log = logging.getLogger(__name__)

ConnectorKey = tuple[str, int, int]
"""(station id, EVSE id, connector id)."""


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    """Latest status of one connector."""

    station_id: str
    """Charge point identity."""
    evse_id: int
    """EVSE (1.6: the connector number; 0 for the station itself)."""
    connector_id: int
    """Connector within the EVSE (1.6: 1, or 0 for the station itself)."""
    status: str
    """OCPP status (Available, Occupied/Charging, Faulted, ...)."""
    error_code: str | None
    """1.6 errorCode (NoError, ...); None for 2.x."""
    info: str | None
    """Free text from the charger."""
    vendor_error_code: str | None
    """Vendor-specific error code."""
    timestamp: datetime | None
    """The charger's time of the status, if it sent one."""
    updated_at: datetime
    """When the CSMS received it."""


@dataclass(frozen=True, slots=True)
class Presence:
    """Whether a station holds a websocket to some node."""

    station_id: str
    """Charge point identity."""
    connected: bool
    """Has an open websocket."""
    protocol: str | None
    """Subprotocol of that websocket (ocpp1.6, ocpp2.0.1, ...)."""
    last_seen: datetime | None
    """Last message received from the station."""
    node: str | None
    """Node that holds (or last held) its websocket."""
    updated_at: datetime
    """When this record last changed."""


class StatusStore:
    """Coalescing write-behind store on the status database.

    Call ``start()`` to begin periodic flushing and ``stop()`` to flush and end it. The ``set_*`` and
    ``touch`` calls never wait for the database.
    """

    def __init__(
        self, engine: AsyncEngine, *, flush_interval: float = 0.25, node: str = ""
    ) -> None:
        self._engine = engine
        self._flush_interval = flush_interval
        self._node = node
        # Unflushed state. A flush moves it to the "in flight" slots so that reads still see it
        # while it is being written, and puts it back if the write fails.
        self._connectors: dict[ConnectorKey, dict[str, Any]] = {}
        self._presence: dict[str, dict[str, Any]] = {}
        self._history: list[dict[str, Any]] = []
        self._inflight_connectors: dict[ConnectorKey, dict[str, Any]] = {}
        self._inflight_presence: dict[str, dict[str, Any]] = {}
        self._flush_lock = asyncio.Lock()
        self._stopping: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the periodic flush task."""
        if self._task is not None:
            raise RuntimeError("status store already started")
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._flush_periodically(), name="status-store-flush")

    async def stop(self) -> None:
        """End the flush task and flush what is pending. Idempotent."""
        if self._task is not None and self._stopping is not None:
            self._stopping.set()
            await self._task
        await self.flush()

    async def _flush_periodically(self) -> None:
        assert self._stopping is not None
        while not self._stopping.is_set():
            # Waiting on the event (not cancelling the task) lets stop() never interrupt a flush.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._flush_interval)
            try:
                await self.flush()
            except Exception:
                log.exception("status flush failed; kept in memory for the next attempt")

    # --- writes (no await) ------------------------------------------------------------------------

    def set_connector(
        self,
        station_id: str,
        evse_id: int,
        connector_id: int,
        *,
        status: str,
        error_code: str | None,
        info: str | None,
        vendor_error_code: str | None,
        timestamp: datetime | None,
    ) -> None:
        """Record a connector's status: replaces the unflushed one of the same connector and adds a
        history row."""
        now = utcnow()
        self._connectors[(station_id, evse_id, connector_id)] = {
            "station_id": station_id,
            "evse_id": evse_id,
            "connector_id": connector_id,
            "status": status,
            "error_code": error_code,
            "info": info,
            "vendor_error_code": vendor_error_code,
            "timestamp": timestamp,
            "updated_at": now,
        }
        self._history.append(
            {
                "station_id": station_id,
                "evse_id": evse_id,
                "connector_id": connector_id,
                "status": status,
                "error_code": error_code,
                "timestamp": timestamp,
                "received_at": now,
            }
        )

    def set_presence(self, station_id: str, *, connected: bool, protocol: str | None) -> None:
        """Record that a station's websocket opened (on this node) or closed.

        A close recorded by this node does not override a newer connection of the same station to
        another node (the stored row names the node that holds it)."""
        fields: dict[str, Any] = {"connected": connected, "updated_at": utcnow()}
        if connected:
            fields["protocol"] = protocol
            fields["node"] = self._node
        # A close merged onto an unflushed open keeps the open's node: this node held the station
        # last, so the close is written without the guard.
        self._presence.setdefault(station_id, {}).update(fields)

    def touch(self, station_id: str, when: datetime) -> None:
        """Record that a message arrived from the station at ``when`` (coalesced)."""
        pending = self._presence.setdefault(station_id, {})
        pending["last_seen"] = when
        pending["updated_at"] = utcnow()

    # --- flushing ---------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Write everything recorded so far in one transaction. On failure the data stays pending
        (newer values recorded meanwhile win) and the error is raised."""
        async with self._flush_lock:
            if not (self._connectors or self._presence or self._history):
                return
            connectors, self._connectors = self._connectors, {}
            presence, self._presence = self._presence, {}
            history, self._history = self._history, []
            self._inflight_connectors, self._inflight_presence = connectors, presence
            try:
                async with self._engine.begin() as conn:
                    await self._write(conn, connectors, presence, history)
            except BaseException:
                # Put it back under what arrived during the attempt.
                for key, row in connectors.items():
                    self._connectors.setdefault(key, row)
                for station_id, fields in presence.items():
                    self._presence[station_id] = {**fields, **self._presence.get(station_id, {})}
                self._history[:0] = history
                raise
            finally:
                self._inflight_connectors, self._inflight_presence = {}, {}

    async def _write(
        self,
        conn: AsyncConnection,
        connectors: Mapping[ConnectorKey, Mapping[str, Any]],
        presence: Mapping[str, Mapping[str, Any]],
        history: Sequence[Mapping[str, Any]],
    ) -> None:
        if connectors:
            await conn.execute(
                _upsert(conn, connector_status, ("station_id", "evse_id", "connector_id")),
                list(connectors.values()),
            )
        # One executemany per (column set, open/close) group; a close only applies to a row this
        # node holds (or one nobody holds).
        groups: dict[tuple[frozenset[str], bool], list[dict[str, Any]]] = {}
        for station_id, fields in presence.items():
            closing = _guarded_close(fields)
            row = {"station_id": station_id, **fields}
            if closing:
                row["node"] = self._node
            groups.setdefault((frozenset(row), closing), []).append(row)
        for (columns, closing), rows in groups.items():
            statement = _upsert(
                conn,
                station_presence,
                ("station_id",),
                update_columns=columns - {"node"} if closing else columns,
                guard_node=self._node if closing else None,
            )
            await conn.execute(statement, rows)
        if history:
            await conn.execute(status_history.insert(), list(history))

    async def mark_node_disconnected(self, node: str) -> None:
        """Mark the stations that ``node`` left connected as disconnected (call on start: the
        websockets of a previous run of this node are gone)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(station_presence)
                .where(station_presence.c.node == node, station_presence.c.connected.is_(True))
                .values(connected=False, updated_at=utcnow())
            )

    # --- reads (stored rows overlaid with what is not flushed yet) --------------------------------

    async def connectors(self, station_id: str) -> list[ConnectorStatus]:
        """Latest status of each connector of a station, ordered by (EVSE, connector)."""
        return (await self.connectors_of([station_id])).get(station_id, [])

    async def connectors_of(self, station_ids: Sequence[str]) -> dict[str, list[ConnectorStatus]]:
        """``connectors`` of several stations in one read (a page of the station list)."""
        wanted = set(station_ids)
        if not wanted:
            return {}
        # Unflushed values are taken before and after the read: a flush may finish in between.
        before = self._unflushed_connectors(wanted)
        query = select(connector_status).where(connector_status.c.station_id.in_(wanted))
        async with self._engine.connect() as conn:
            rows = {
                (r["station_id"], r["evse_id"], r["connector_id"]): dict(r)
                for r in (await conn.execute(query)).mappings()
            }
        for key, row in {**before, **self._unflushed_connectors(wanted)}.items():
            stored = rows.get(key)
            if stored is None or row["updated_at"] >= stored["updated_at"]:
                rows[key] = dict(row)
        result: dict[str, list[ConnectorStatus]] = {}
        for key in sorted(rows):
            result.setdefault(key[0], []).append(ConnectorStatus(**rows[key]))
        return result

    def _unflushed_connectors(self, wanted: set[str]) -> dict[ConnectorKey, Mapping[str, Any]]:
        return {
            key: row
            for pending in (self._inflight_connectors, self._connectors)
            for key, row in pending.items()
            if key[0] in wanted
        }

    async def presence(self, station_id: str) -> Presence | None:
        """Presence of one station; None if it never connected."""
        return (await self.presences([station_id])).get(station_id)

    async def presences(self, station_ids: Sequence[str]) -> dict[str, Presence]:
        """Presence of the given stations that ever connected, by station id."""
        wanted = set(station_ids)
        if not wanted:
            return {}
        before = self._unflushed_presence(wanted)
        query = select(station_presence).where(station_presence.c.station_id.in_(wanted))
        async with self._engine.connect() as conn:
            rows = {r["station_id"]: dict(r) for r in (await conn.execute(query)).mappings()}
        after = self._unflushed_presence(wanted)
        for station_id in before.keys() | after.keys():
            fields = {**before.get(station_id, {}), **after.get(station_id, {})}
            stored = rows.get(station_id)
            if stored is None or fields["updated_at"] >= stored["updated_at"]:
                rows[station_id] = self._overlay(station_id, stored, fields)
        return {station_id: Presence(**row) for station_id, row in rows.items()}

    def _unflushed_presence(self, wanted: set[str]) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for pending in (self._inflight_presence, self._presence):
            for station_id, fields in pending.items():
                if station_id in wanted:
                    merged.setdefault(station_id, {}).update(fields)
        return merged

    def _overlay(
        self, station_id: str, stored: dict[str, Any] | None, fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        row = stored or {
            "station_id": station_id,
            "connected": False,
            "protocol": None,
            "last_seen": None,
            "node": None,
            "updated_at": fields["updated_at"],
        }
        closing = _guarded_close(fields)
        if closing and row["node"] not in (None, self._node):
            # Same rule as the flush: another node holds the station now.
            fields = {k: v for k, v in fields.items() if k != "connected"}
        if closing:
            fields = {**fields, "node": row["node"] or self._node}
        return {**row, **fields}


def _guarded_close(fields: Mapping[str, Any]) -> bool:
    """A close not preceded by an unflushed open of this node: it must not override another node."""
    return fields.get("connected") is False and "node" not in fields


def _upsert(
    conn: AsyncConnection,
    table: Table,
    key: tuple[str, ...],
    *,
    update_columns: frozenset[str] | None = None,
    guard_node: str | None = None,
) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET column = excluded.column, for executemany.

    With ``guard_node`` the update applies only where the stored row's node is that node or NULL."""
    insert = dialect_insert(conn, table)
    columns = update_columns if update_columns is not None else frozenset(table.c.keys())
    changed = {name: insert.excluded[name] for name in columns if name not in key}
    where = None
    if guard_node is not None:
        where = table.c.node.is_(None) | (table.c.node == guard_node)
    return insert.on_conflict_do_update(index_elements=list(key), set_=changed, where=where)
