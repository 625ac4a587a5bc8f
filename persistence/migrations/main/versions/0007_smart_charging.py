"""Smart charging: the charging profiles stations accepted, the limits they report as set by other
systems, and the parts of their ReportChargingProfiles.

Revision ID: main_0007
Revises: main_0006
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "main_0007"
down_revision: str | None = "main_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "charging_profiles",
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("stack_level", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("transaction_id", sa.String(128), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("wire", sa.JSON(), nullable=False),
        sa.Column("protocol", sa.String(16), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "profile_id", name="pk_charging_profiles"),
    )
    op.create_table(
        "charging_limits",
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("grid_critical", sa.Boolean(), nullable=True),
        sa.Column("charging_limit", sa.JSON(), nullable=False),
        sa.Column("schedules", sa.JSON(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "evse_id", "source", name="pk_charging_limits"),
    )
    op.create_table(
        "charging_profile_reports",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("tbc", sa.Boolean(), nullable=False),
        sa.Column("profiles", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_charging_profile_reports"),
    )
    op.create_index(
        "ix_charging_profile_reports_station_id_request_id",
        "charging_profile_reports",
        ["station_id", "request_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_charging_profile_reports_station_id_request_id",
        table_name="charging_profile_reports",
    )
    op.drop_table("charging_profile_reports")
    op.drop_table("charging_limits")
    op.drop_table("charging_profiles")
