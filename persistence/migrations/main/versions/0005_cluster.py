"""Cluster: station leases (which member holds a station's websocket, with a rising epoch) and the
members of the cluster.

Revision ID: main_0005
Revises: main_0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "main_0005"
down_revision: str | None = "main_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "station_leases",
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("member", sa.String(128), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("protocol", sa.String(16), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_id", name="pk_station_leases"),
    )
    op.create_index("ix_station_leases_member", "station_leases", ["member"])
    op.create_table(
        "members",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("node", sa.String(128), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("alive", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_members"),
    )


def downgrade() -> None:
    op.drop_table("members")
    op.drop_index("ix_station_leases_member", table_name="station_leases")
    op.drop_table("station_leases")
