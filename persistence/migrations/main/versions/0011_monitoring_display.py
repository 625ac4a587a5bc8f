"""Monitoring and display messages (2.x): the variable monitors each station holds, its monitoring
base and level, the multi-part reports that tell them, and the display messages each station shows.

Revision ID: main_0011
Revises: main_0010
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "main_0011"
down_revision: str | None = "main_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "station_monitors",
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("monitor_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("component", sa.String(50), nullable=False),
        sa.Column("component_instance", sa.String(50), nullable=True),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("variable", sa.String(50), nullable=False),
        sa.Column("variable_instance", sa.String(50), nullable=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("transaction_only", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("event_notification_type", sa.String(32), nullable=True),
        sa.Column("periodic_event_stream", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        _time("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("station_id", "monitor_id", name="pk_station_monitors"),
    )
    op.create_table(
        "station_monitoring",
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("base", sa.String(16), nullable=True),
        _time("base_updated_at", nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        _time("level_updated_at", nullable=True),
        sa.PrimaryKeyConstraint("station_id", name="pk_station_monitoring"),
    )
    op.create_table(
        "monitoring_reports",
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("request_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("kept", sa.Integer(), nullable=False),
        sa.Column("dropped", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        _time("requested_at", nullable=True),
        _time("last_part_at", nullable=True),
        _time("completed_at", nullable=True),
        sa.PrimaryKeyConstraint("station_id", "kind", "request_id", name="pk_monitoring_reports"),
    )
    op.create_table(
        "station_display_messages",
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=True),
        _time("start_time", nullable=True),
        _time("end_time", nullable=True),
        sa.Column("transaction_id", sa.String(36), nullable=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("message_extra", sa.JSON(), nullable=True),
        sa.Column("display", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        _time("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("station_id", "message_id", name="pk_station_display_messages"),
    )


def downgrade() -> None:
    op.drop_table("station_display_messages")
    op.drop_table("monitoring_reports")
    op.drop_table("station_monitoring")
    op.drop_table("station_monitors")
