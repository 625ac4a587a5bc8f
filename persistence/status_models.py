"""Tables of the status store (SQLAlchemy Core): latest presence and connector status, and history.

Kept apart from the main store because they change with every heartbeat and StatusNotification.
Every change here needs a migration in ``persistence/migrations/status/versions``.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text, false

from persistence.models import NAMING_CONVENTION, AutoId
from persistence.sqltypes import UtcDateTime, utcnow

status_metadata = MetaData(naming_convention=NAMING_CONVENTION)

connector_status = Table(
    "connector_status",
    status_metadata,
    # OCPP 1.6 connector N is EVSE N connector 1; connector 0 (the station) is EVSE 0 connector 0.
    Column("station_id", String(64), primary_key=True),
    Column("evse_id", Integer(), primary_key=True, autoincrement=False),
    Column("connector_id", Integer(), primary_key=True, autoincrement=False),
    Column("status", String(32), nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("info", Text(), nullable=True),
    Column("vendor_error_code", Text(), nullable=True),
    # The charger's own clock, as sent in the StatusNotification.
    Column("timestamp", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False, default=utcnow, onupdate=utcnow),
)

station_presence = Table(
    "station_presence",
    status_metadata,
    Column("station_id", String(64), primary_key=True),
    Column("connected", Boolean(), nullable=False, default=False, server_default=false()),
    Column("protocol", String(16), nullable=True),
    Column("last_seen", UtcDateTime(), nullable=True),
    # Node holding the websocket; its restart marks its stations disconnected.
    Column("node", String(128), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False, default=utcnow, onupdate=utcnow),
)

status_history = Table(
    "status_history",
    status_metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("station_id", String(64), nullable=False),
    Column("evse_id", Integer(), nullable=False),
    Column("connector_id", Integer(), nullable=False),
    Column("status", String(32), nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("timestamp", UtcDateTime(), nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Index("ix_status_history_station_id_received_at", "station_id", "received_at"),
)
