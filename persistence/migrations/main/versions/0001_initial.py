"""Initial schema of the main store.

Revision ID: main_0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "main_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite autoincrements only an INTEGER PRIMARY KEY.
_AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, *, nullable: bool) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "stations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("registered", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("allowed", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("lenient", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("protocol", sa.String(16), nullable=True),
        sa.Column("vendor", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("serial_number", sa.Text(), nullable=True),
        sa.Column("firmware_version", sa.Text(), nullable=True),
        sa.Column("boot_status", sa.String(16), nullable=True),
        sa.Column("boot_reason", sa.String(32), nullable=True),
        _ts("first_seen", nullable=True),
        _ts("last_boot", nullable=True),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stations"),
    )
    op.create_table(
        "id_tokens",
        sa.Column("id_token", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("expiry_date", nullable=True),
        sa.Column("parent_id_token", sa.String(255), nullable=True),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id_token", name="pk_id_tokens"),
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("id_token", sa.String(255), nullable=True),
        sa.Column("id_token_type", sa.String(32), nullable=True),
        _ts("start_time", nullable=True),
        _ts("stop_time", nullable=True),
        sa.Column("meter_start_wh", sa.Float(), nullable=True),
        sa.Column("meter_stop_wh", sa.Float(), nullable=True),
        sa.Column("last_meter_wh", sa.Float(), nullable=True),
        sa.Column("stop_reason", sa.String(32), nullable=True),
        sa.Column("stop_id_token", sa.String(255), nullable=True),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("remote_start_id", sa.Integer(), nullable=True),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("stale", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("dedup_key", sa.String(128), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transactions"),
        sa.UniqueConstraint("station_id", "dedup_key", name="uq_transactions_station_id_dedup_key"),
    )
    op.create_index(
        "ix_transactions_station_id_stop_time", "transactions", ["station_id", "stop_time"]
    )
    op.create_index("ix_transactions_id_token_stop_time", "transactions", ["id_token", "stop_time"])
    op.create_index("ix_transactions_created_at_id", "transactions", ["created_at", "id"])
    op.create_table(
        "meter_values",
        sa.Column("id", _AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("transaction_id", sa.String(64), nullable=True),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        _ts("timestamp", nullable=False),
        sa.Column("measurand", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(8), nullable=True),
        sa.Column("unit", sa.String(16), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("raw_value", sa.Text(), nullable=True),
        sa.Column("context", sa.String(32), nullable=True),
        sa.Column("location", sa.String(16), nullable=True),
        sa.Column("sample_key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_meter_values"),
        sa.UniqueConstraint("sample_key", name="uq_meter_values_sample_key"),
    )
    op.create_index("ix_meter_values_transaction_id", "meter_values", ["transaction_id"])
    op.create_table(
        "station_events",
        sa.Column("id", _AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _ts("received_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_station_events"),
    )
    op.create_index("ix_station_events_station_id", "station_events", ["station_id"])
    op.create_table(
        "id_counters",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_id_counters"),
    )


def downgrade() -> None:
    op.drop_table("id_counters")
    op.drop_index("ix_station_events_station_id", table_name="station_events")
    op.drop_table("station_events")
    op.drop_index("ix_meter_values_transaction_id", table_name="meter_values")
    op.drop_table("meter_values")
    op.drop_index("ix_transactions_created_at_id", table_name="transactions")
    op.drop_index("ix_transactions_id_token_stop_time", table_name="transactions")
    op.drop_index("ix_transactions_station_id_stop_time", table_name="transactions")
    op.drop_table("transactions")
    op.drop_table("id_tokens")
    op.drop_table("stations")
