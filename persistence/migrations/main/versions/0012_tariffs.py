"""Tariffs, where they apply (stations, sites, id-token groups, the default), and the tariff each
transaction keeps from its start.

Revision ID: main_0012
Revises: main_0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "main_0012"
down_revision: str | None = "main_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tariffs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("prices", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("cost_update_minutes", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tariffs"),
    )
    op.create_table(
        "tariff_assignments",
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("tariff_id", sa.String(64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "target", "tariff_id", name="pk_tariff_assignments"),
    )
    op.create_index("ix_tariff_assignments_tariff_id", "tariff_assignments", ["tariff_id"])
    op.create_table(
        "transaction_tariffs",
        sa.Column("transaction_id", sa.String(128), nullable=False),
        sa.Column("tariff_id", sa.String(64), nullable=True),
        sa.Column("tariff", sa.JSON(), nullable=True),
        sa.Column("resolved_by", sa.String(16), nullable=True),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("charging_states", sa.JSON(), nullable=True),
        sa.Column("last_total", sa.String(32), nullable=True),
        sa.Column("cost_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cost_sent_total", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("transaction_id", name="pk_transaction_tariffs"),
    )


def downgrade() -> None:
    op.drop_table("transaction_tariffs")
    op.drop_index("ix_tariff_assignments_tariff_id", table_name="tariff_assignments")
    op.drop_table("tariff_assignments")
    op.drop_table("tariffs")
