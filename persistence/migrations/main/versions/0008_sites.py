"""Sites: grid connections with their limits, the stations and EVSEs behind them, and the last
allocation of each site's limit among its sessions.

Revision ID: main_0008
Revises: main_0007
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "main_0008"
down_revision: str | None = "main_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("limit_unit", sa.String(1), nullable=False),
        sa.Column("limit_value", sa.Float(), nullable=False),
        sa.Column("phases", sa.Integer(), nullable=False),
        sa.Column("min_current", sa.Float(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=True),
        sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
    )
    op.create_table(
        "site_members",
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "station_id", "evse_id", name="pk_site_members"),
        sa.UniqueConstraint("station_id", "evse_id", name="uq_site_members_station_id_evse_id"),
    )
    op.create_table(
        "site_allocations",
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.String(128), nullable=True),
        sa.Column("limit_value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(1), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("accepted_limit", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "station_id", "evse_id", name="pk_site_allocations"),
    )


def downgrade() -> None:
    op.drop_table("site_allocations")
    op.drop_table("site_members")
    op.drop_table("sites")
