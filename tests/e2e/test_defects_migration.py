"""The revision that brings the token rows (main_0006) on a store in use: every open transaction
that holds its token at upgrade time gets its row, or the ConcurrentTx check would silently let a
second start through; a 1.6 start refused before the upgrade (stored open then) is closed, so it
blocks nobody; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from alembic import command
from sqlalchemy import Connection, text

from persistence.database import create_engine
from persistence.migrate import alembic_config, migrate
from persistence.sqltypes import utcnow

_COLUMNS = (
    "id, station_id, evse_id, id_token, id_token_type, protocol, start_time, stop_time, "
    "stale, extra, created_at, updated_at"
)


def _insert(connection: Connection, rows: list[dict[str, Any]]) -> None:
    connection.execute(
        text(
            f"INSERT INTO transactions ({_COLUMNS}) VALUES (:id, :station_id, 1, :id_token, "
            ":id_token_type, :protocol, :start_time, :stop_time, :stale, :extra, :created_at, "
            ":created_at)"
        ),
        rows,
    )


async def test_upgrade_gives_open_transactions_their_token_and_closes_refused_starts(
    db_url: str,
) -> None:
    engine = create_engine(db_url)
    config = alembic_config("main")

    def upgrade_to(connection: Connection, revision: str) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    t0 = utcnow() - timedelta(hours=1)
    base = {"id_token_type": None, "protocol": "ocpp1.6", "stop_time": None, "stale": False}
    rows = [
        # The driver's real session, and a later start with the same card answered ConcurrentTx
        # by the old read-then-write check and stored open: the bug's leftover.
        {**base, "id": "1", "station_id": "CP-A", "id_token": "CARD", "start_time": t0,
         "extra": '{"authorization": "Accepted"}', "created_at": t0},
        {**base, "id": "2", "station_id": "CP-B", "id_token": "CARD",
         "start_time": t0 + timedelta(minutes=5), "extra": '{"authorization": "ConcurrentTx"}',
         "created_at": t0 + timedelta(minutes=5)},
        # A refused start of a token nobody else holds: closed too.
        {**base, "id": "3", "station_id": "CP-C", "id_token": "BLOCKED",
         "start_time": t0, "extra": '{"authorization": "Blocked"}', "created_at": t0},
        # A 2.x transaction (no authorization kept) holds its token.
        {**base, "id": "CP-D,tx", "station_id": "CP-D", "id_token": "FOB", "protocol": "ocpp2.0.1",
         "id_token_type": "ISO14443", "start_time": t0, "extra": None, "created_at": t0},
        # A NoAuthorization token identifies nobody; a stale or ended one holds nothing.
        {**base, "id": "CP-E,tx", "station_id": "CP-E", "id_token": "", "protocol": "ocpp2.0.1",
         "id_token_type": "NoAuthorization", "start_time": t0, "extra": None, "created_at": t0},
        {**base, "id": "6", "station_id": "CP-F", "id_token": "OLD", "start_time": t0,
         "stale": True, "extra": '{"authorization": "Accepted"}', "created_at": t0},
        {**base, "id": "7", "station_id": "CP-G", "id_token": "DONE", "start_time": t0,
         "stop_time": t0 + timedelta(minutes=1), "extra": '{"authorization": "Accepted"}',
         "created_at": t0},
    ]  # fmt: skip
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "main_0005")
            await conn.run_sync(_insert, rows)
        await migrate(engine, "main")
        async with engine.connect() as conn:
            held = {
                r[0]: r[1]
                for r in await conn.execute(
                    text("SELECT id_token, transaction_id FROM id_token_sessions")
                )
            }
            closed = {
                r[0]: (r[1], bool(r[2]), r[3] is not None)
                for r in await conn.execute(
                    text("SELECT id, stop_reason, abandoned, stop_time FROM transactions")
                )
            }
        assert held == {"CARD": "1", "FOB": "CP-D,tx"}
        assert closed["2"] == ("DeAuthorized", True, True)
        assert closed["3"] == ("DeAuthorized", True, True)
        for still_open in ("1", "CP-D,tx", "CP-E,tx", "6"):
            assert closed[still_open] == (None, False, False), still_open
    finally:
        await engine.dispose()
