"""Firmware updates, campaigns and publications; log requests and the files stations uploaded.

Revision ID: main_0010
Revises: main_0009
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "main_0010"
down_revision: str | None = "main_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "firmware_campaigns",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("signing_certificate", sa.Text(), nullable=True),
        sa.Column("stations", sa.JSON(), nullable=True),
        sa.Column("filter", sa.JSON(), nullable=True),
        _time("start_at", False),
        _time("install_at", True),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("resends", sa.Integer(), nullable=True),
        sa.Column("resend_interval", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _time("created_at", False),
        _time("updated_at", False),
        sa.PrimaryKeyConstraint("id", name="pk_firmware_campaigns"),
    )
    op.create_index("ix_firmware_campaigns_status", "firmware_campaigns", ["status"])
    op.create_table(
        "firmware_updates",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(32), nullable=True),
        sa.Column("location", sa.Text(), nullable=False),
        _time("retrieve_at", True),
        _time("install_at", True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("resends", sa.Integer(), nullable=True),
        sa.Column("resend_interval", sa.Integer(), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("signing_certificate", sa.Text(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at", True),
        sa.Column("detail", sa.Text(), nullable=True),
        _time("last_status_at", False),
        _time("created_at", False),
        _time("updated_at", False),
        sa.PrimaryKeyConstraint("id", name="pk_firmware_updates"),
    )
    op.create_index(
        "ix_firmware_updates_station_id_request_id",
        "firmware_updates",
        ["station_id", "request_id"],
    )
    op.create_index("ix_firmware_updates_campaign_id", "firmware_updates", ["campaign_id"])
    op.create_index("ix_firmware_updates_status", "firmware_updates", ["status"])
    op.create_table(
        "firmware_publications",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("published_at", sa.JSON(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        _time("last_status_at", False),
        _time("created_at", False),
        _time("updated_at", False),
        sa.PrimaryKeyConstraint("id", name="pk_firmware_publications"),
    )
    op.create_index(
        "ix_firmware_publications_station_id_request_id",
        "firmware_publications",
        ["station_id", "request_id"],
    )
    op.create_table(
        "log_requests",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(32), nullable=True),
        sa.Column("log_type", sa.String(32), nullable=False),
        _time("oldest", True),
        _time("latest", True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("announced_name", sa.Text(), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column("stored_path", sa.Text(), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_sha256", sa.String(64), nullable=True),
        _time("uploaded_at", True),
        _time("last_status_at", False),
        _time("created_at", False),
        _time("updated_at", False),
        sa.PrimaryKeyConstraint("id", name="pk_log_requests"),
    )
    op.create_index(
        "ix_log_requests_station_id_request_id", "log_requests", ["station_id", "request_id"]
    )
    op.create_index("ix_log_requests_status", "log_requests", ["status"])


def downgrade() -> None:
    op.drop_index("ix_log_requests_status", table_name="log_requests")
    op.drop_index("ix_log_requests_station_id_request_id", table_name="log_requests")
    op.drop_table("log_requests")
    op.drop_index(
        "ix_firmware_publications_station_id_request_id", table_name="firmware_publications"
    )
    op.drop_table("firmware_publications")
    op.drop_index("ix_firmware_updates_status", table_name="firmware_updates")
    op.drop_index("ix_firmware_updates_campaign_id", table_name="firmware_updates")
    op.drop_index("ix_firmware_updates_station_id_request_id", table_name="firmware_updates")
    op.drop_table("firmware_updates")
    op.drop_index("ix_firmware_campaigns_status", table_name="firmware_campaigns")
    op.drop_table("firmware_campaigns")
