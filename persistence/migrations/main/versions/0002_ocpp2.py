"""OCPP 2.0.1 and 2.1: station-scoped transaction ids, transaction events, the device model,
per-station subprotocols and per-EVSE id tokens.

Revision ID: main_0002
Revises: main_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "main_0002"
down_revision: str | None = "main_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("protocols", sa.JSON(), nullable=True))
    with op.batch_alter_table("id_tokens") as batch:
        batch.add_column(sa.Column("evse_ids", sa.JSON(), nullable=True))
    with op.batch_alter_table("transactions") as batch:
        batch.alter_column(
            "id", existing_type=sa.String(64), type_=sa.String(128), existing_nullable=False
        )
    with op.batch_alter_table("meter_values") as batch:
        batch.alter_column(
            "transaction_id",
            existing_type=sa.String(64),
            type_=sa.String(128),
            existing_nullable=True,
        )
    op.create_table(
        "transaction_events",
        sa.Column("id", _AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.String(128), nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("seq_no", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("trigger_reason", sa.String(32), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transaction_events"),
        sa.UniqueConstraint(
            "transaction_id", "seq_no", name="uq_transaction_events_transaction_id_seq_no"
        ),
    )
    op.create_table(
        "device_variables",
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("variable_key", sa.String(64), nullable=False),
        sa.Column("component", sa.String(50), nullable=False),
        sa.Column("component_instance", sa.String(50), nullable=True),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("variable", sa.String(50), nullable=False),
        sa.Column("variable_instance", sa.String(50), nullable=True),
        sa.Column("attribute_type", sa.String(16), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("mutability", sa.String(16), nullable=True),
        sa.Column("persistent", sa.Boolean(), nullable=True),
        sa.Column("constant", sa.Boolean(), nullable=True),
        sa.Column("characteristics", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "variable_key", name="pk_device_variables"),
    )


def downgrade() -> None:
    op.drop_table("device_variables")
    op.drop_table("transaction_events")
    with op.batch_alter_table("meter_values") as batch:
        batch.alter_column(
            "transaction_id",
            existing_type=sa.String(128),
            type_=sa.String(64),
            existing_nullable=True,
        )
    with op.batch_alter_table("transactions") as batch:
        batch.alter_column(
            "id", existing_type=sa.String(128), type_=sa.String(64), existing_nullable=False
        )
    with op.batch_alter_table("id_tokens") as batch:
        batch.drop_column("evse_ids")
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("protocols")
