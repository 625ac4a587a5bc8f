"""Reservations (1.6 ReserveNow/CancelReservation, 2.0.1 H) and local authorization lists (1.6
Local Auth List Management, 2.0.1 D): their tables, and the index that finds the transaction that
used a reservation (its station's transactions by time).

Revision ID: main_0009
Revises: main_0008
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "main_0009"
down_revision: str | None = "main_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite autoincrements only an INTEGER PRIMARY KEY (the rowid alias).
_AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("id", _AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=False),
        sa.Column("id_token", sa.String(255), nullable=False),
        sa.Column("id_token_type", sa.String(32), nullable=True),
        sa.Column("group_id_token", sa.String(255), nullable=True),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("connector_type", sa.String(32), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("transaction_id", sa.String(128), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reservations"),
        sa.UniqueConstraint(
            "station_id", "reservation_id", name="uq_reservations_station_id_reservation_id"
        ),
    )
    op.create_index("ix_reservations_status_expires_at", "reservations", ["status", "expires_at"])
    op.create_index("ix_reservations_reservation_id", "reservations", ["reservation_id"])
    op.create_index(
        "ix_transactions_station_id_created_at", "transactions", ["station_id", "created_at"]
    )
    op.create_table(
        "local_lists",
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=True),
        sa.Column("generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("synced_generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version_sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version_confirmed", sa.Integer(), nullable=True),
        sa.Column("version_reported", sa.Integer(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_type", sa.String(16), nullable=True),
        sa.Column("last_sync_status", sa.String(16), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_id", name="pk_local_lists"),
    )
    op.create_table(
        "local_list_entries",
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("id_token", sa.String(255), nullable=False),
        sa.Column("token_type", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("expiry_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parent_id_token", sa.String(255), nullable=True),
        sa.Column("evse_ids", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "id_token", name="pk_local_list_entries"),
    )
    op.create_index("ix_local_list_entries_id_token", "local_list_entries", ["id_token"])


def downgrade() -> None:
    op.drop_index("ix_local_list_entries_id_token", table_name="local_list_entries")
    op.drop_table("local_list_entries")
    op.drop_table("local_lists")
    op.drop_index("ix_transactions_station_id_created_at", table_name="transactions")
    op.drop_index("ix_reservations_reservation_id", table_name="reservations")
    op.drop_index("ix_reservations_status_expires_at", table_name="reservations")
    op.drop_table("reservations")
