"""Station state: the registration a station's next boot gets, its 1.6 configuration keys, the id
token each open transaction holds (ConcurrentTx taken in the start's commit), transactions closed by
the CSMS (refused or abandoned), and signed meter values.

Revision ID: main_0006
Revises: main_0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

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
    _close_refused_starts_and_take_tokens()
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


# What the runtime writes (persistence.transactions: REFUSED_REASON) and answers (IdTokenStatus).
_REFUSED_REASON = "DeAuthorized"
_ACCEPTED = "Accepted"
_NO_AUTHORIZATION = "NoAuthorization"


def _close_refused_starts_and_take_tokens() -> None:
    """The open transactions at upgrade time, newest first: a 1.6 start answered other than
    Accepted (ConcurrentTx, Invalid...: the authorization its answer carried, kept in ``extra``) was
    stored open before this revision and blocked its token; it is closed as the runtime closes one
    now. Every other open transaction with a token holds it, the newest when a token has several
    (the check before this revision let that happen), except a 2.x NoAuthorization token, which
    identifies nobody. Open transactions are few, so they are read at once."""
    bind = op.get_bind()
    transactions = sa.table(
        "transactions",
        sa.column("id", sa.String()),
        sa.column("station_id", sa.String()),
        sa.column("evse_id", sa.Integer()),
        sa.column("id_token", sa.String()),
        sa.column("id_token_type", sa.String()),
        sa.column("protocol", sa.String()),
        sa.column("start_time", sa.DateTime(timezone=True)),
        sa.column("stop_time", sa.DateTime(timezone=True)),
        sa.column("stop_reason", sa.String()),
        sa.column("stale", sa.Boolean()),
        sa.column("abandoned", sa.Boolean()),
        sa.column("extra", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    sessions = sa.table(
        "id_token_sessions",
        sa.column("id_token", sa.String()),
        sa.column("transaction_id", sa.String()),
        sa.column("station_id", sa.String()),
        sa.column("evse_id", sa.Integer()),
        sa.column("taken_at", sa.DateTime(timezone=True)),
    )
    c = transactions.c
    rows = bind.execute(
        sa.select(
            c.id,
            c.station_id,
            c.evse_id,
            c.id_token,
            c.id_token_type,
            c.protocol,
            c.start_time,
            c.extra,
            c.created_at,
        )
        .where(c.stop_time.is_(None), c.start_time.is_not(None), c.stale.is_(sa.false()))
        .order_by(c.created_at.desc(), c.id.desc())
    ).all()
    now = datetime.now(UTC)
    refused: list[dict[str, object]] = []
    taken: dict[str, dict[str, object]] = {}
    for row in rows:
        extra = row.extra if isinstance(row.extra, dict) else {}
        authorization = extra.get("authorization")
        if row.protocol == "ocpp1.6" and authorization not in (None, _ACCEPTED):
            refused.append({"row_id": row.id, "stop": row.start_time})
        elif (
            row.id_token is not None
            and row.id_token_type != _NO_AUTHORIZATION
            and row.id_token not in taken
        ):
            taken[row.id_token] = {
                "id_token": row.id_token,
                "transaction_id": row.id,
                "station_id": row.station_id,
                "evse_id": row.evse_id,
                "taken_at": row.created_at,
            }
    if refused:
        bind.execute(
            sa.update(transactions)
            .where(c.id == sa.bindparam("row_id"), c.stop_time.is_(None))
            .values(
                stop_time=sa.bindparam("stop"),
                stop_reason=_REFUSED_REASON,
                abandoned=True,
                updated_at=now,
            ),
            refused,
        )
    if taken:
        bind.execute(sa.insert(sessions), list(taken.values()))


def downgrade() -> None:
    op.drop_table("station_configuration")
    op.drop_index("ix_id_token_sessions_transaction_id", table_name="id_token_sessions")
    op.drop_table("id_token_sessions")
    op.drop_column("meter_values", "signed")
    op.drop_column("transactions", "abandoned")
    op.drop_column("stations", "registration")
