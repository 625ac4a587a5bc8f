"""Station state: the registration a station's next boot gets, its 1.6 configuration keys, the id
token each open transaction holds (ConcurrentTx taken in the start's commit), transactions closed by
the CSMS (refused or abandoned), and signed meter values.

Revision ID: main_0006
Revises: main_0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "main_0006"
down_revision: str | None = "main_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "stations",
        sa.Column("registration", sa.String(16), server_default="Accepted", nullable=False),
    )
    # A station an operator disallowed was answered Rejected: it stays so.
    op.execute(sa.text("UPDATE stations SET registration = 'Rejected' WHERE NOT allowed"))
    op.add_column(
        "transactions",
        sa.Column("abandoned", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("meter_values", sa.Column("signed", sa.JSON(), nullable=True))
    op.create_table(
        "id_token_sessions",
        sa.Column("id_token", sa.String(255), nullable=False),
        sa.Column("transaction_id", sa.String(128), nullable=False),
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_token", name="pk_id_token_sessions"),
    )
    op.create_index("ix_id_token_sessions_transaction_id", "id_token_sessions", ["transaction_id"])
    # The token of each open, accepted transaction holds it (the newest one when a token has
    # several: the check before this revision let that happen).
    op.execute(
        sa.text(
            "INSERT INTO id_token_sessions (id_token, transaction_id, station_id, evse_id, taken_at) "
            "SELECT t.id_token, t.id, t.station_id, t.evse_id, t.created_at FROM transactions t "
            "WHERE t.id_token IS NOT NULL AND t.stop_time IS NULL AND t.start_time IS NOT NULL "
            "AND NOT t.stale AND t.id = (SELECT o.id FROM transactions o "
            "WHERE o.id_token = t.id_token AND o.stop_time IS NULL AND o.start_time IS NOT NULL "
            "AND NOT o.stale ORDER BY o.created_at DESC, o.id DESC LIMIT 1)"
        )
    )
    op.create_table(
        "station_configuration",
        sa.Column("station_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("readonly", sa.Boolean(), nullable=True),
        sa.Column("known", sa.Boolean(), nullable=False),
        sa.Column("learned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("station_id", "key", name="pk_station_configuration"),
    )


def downgrade() -> None:
    op.drop_table("station_configuration")
    op.drop_index("ix_id_token_sessions_transaction_id", table_name="id_token_sessions")
    op.drop_table("id_token_sessions")
    op.drop_column("meter_values", "signed")
    op.drop_column("transactions", "abandoned")
    op.drop_column("stations", "registration")
