"""Migrations: idempotent, safe to run concurrently, and equal to the metadata."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData, inspect, text

from csms.payloads.metering import sample_rows
from csms.payloads.timestamps import parse_timestamp
from persistence.database import create_engine
from persistence.migrate import Tree, alembic_config, migrate
from persistence.records import MeterSample, v2_transaction_key
from persistence.schema import metadata
from persistence.sqltypes import utcnow
from persistence.status_models import status_metadata

VERSION_TABLES = {"main": "alembic_version", "status": "alembic_version_status"}
METADATA = {"main": metadata, "status": status_metadata}
TREES: tuple[Tree, ...] = ("main", "status")
HEADS = {"main": "main_0012", "status": "status_0001"}
SAMPLE_TIME = parse_timestamp("2026-12-01T10:00:00.250Z")


def _diff(connection: Connection, which: Tree, target: MetaData) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "version_table": VERSION_TABLES[which],
            "compare_type": True,
            "compare_server_default": True,
            # Only this tree's tables: both trees may share one database.
            "include_name": lambda name, type_, _parent: type_ != "table" or name in target.tables,
        },
    )
    return list(compare_metadata(context, target))


def _version(connection: Connection, which: Tree) -> list[str]:
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLES[which]}"))
    return [r[0] for r in rows]


async def test_migrated_schema_equals_metadata_and_rerun_is_a_no_op(db_url: str) -> None:
    """Both trees into one database (their tables and version tables are distinct), each twice."""
    engine = create_engine(db_url)
    try:
        for which in TREES + TREES:
            await migrate(engine, which)
        async with engine.connect() as conn:
            for which in TREES:
                assert await conn.run_sync(_diff, which, METADATA[which]) == []
                assert await conn.run_sync(_version, which) == [HEADS[which]]
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert tables == {*metadata.tables, *status_metadata.tables, *VERSION_TABLES.values()}
    finally:
        await engine.dispose()


async def test_concurrent_migrations_take_turns(db_url: str) -> None:
    """Two processes starting at once: one migrates, the other finds the schema at head."""
    engines = [create_engine(db_url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(e, "main") for e in engines))
        async with engines[0].connect() as conn:
            assert await conn.run_sync(_version, "main") == [HEADS["main"]]
            assert await conn.run_sync(_diff, "main", metadata) == []
    finally:
        for engine in engines:
            await engine.dispose()


async def test_upgrade_from_the_first_revision_keeps_the_data(db_url: str) -> None:
    """A store created by the first release: its transactions and samples survive the 2.x revision,
    and a 2.x station-scoped id longer than the old 64 characters then fits."""
    engine = create_engine(db_url)
    config = alembic_config("main")

    def upgrade_to(connection: Connection, revision: str) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "main_0001")
            await conn.execute(
                text(
                    "INSERT INTO transactions (id, station_id, protocol, stale, created_at, "
                    "updated_at) VALUES ('17', 'CP1', 'ocpp1.6', false, :now, :now)"
                ),
                {"now": utcnow()},
            )
        await migrate(engine, "main")
        long_id = "S" * 64 + "," + "t" * 36
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO transactions (id, station_id, protocol, stale, created_at, "
                    "updated_at) VALUES (:id, 'CP2', 'ocpp2.0.1', false, :now, :now)"
                ),
                {"id": long_id, "now": utcnow()},
            )
            ids = sorted(r[0] for r in await conn.execute(text("SELECT id FROM transactions")))
            assert await conn.run_sync(_diff, "main", metadata) == []
        assert ids == sorted(["17", long_id])
    finally:
        await engine.dispose()


def _insert_v2_transaction(
    connection: Connection, station_id: str, transaction_id: str, key: str
) -> None:
    """A 2.x transaction with one event and one sample, as the message path stores them."""
    now = utcnow()
    connection.execute(
        text(
            "INSERT INTO transactions (id, station_id, protocol, stale, created_at, updated_at) "
            "VALUES (:id, :station, 'ocpp2.0.1', false, :now, :now)"
        ),
        {"id": key, "station": station_id, "now": now},
    )
    connection.execute(
        text(
            "INSERT INTO transaction_events (transaction_id, station_id, seq_no, event_type, "
            "trigger_reason, timestamp, offline, payload, received_at) VALUES (:id, :station, 0, "
            "'Started', 'Authorized', :now, false, :payload, :now)"
        ),
        {"id": key, "station": station_id, "now": now, "payload": '{"transactionId": "x"}'},
    )
    (row,) = sample_rows(
        [MeterSample(SAMPLE_TIME, "Energy.Active.Import.Register", None, "Wh", 1234.0, None)],
        station_id=station_id,
        transaction_id=key,
        evse_id=1,
        connector_id=1,
    )
    connection.execute(
        text(
            f"INSERT INTO meter_values ({', '.join(row)}) VALUES "
            f"({', '.join(':' + column for column in row)})"
        ),
        row,
    )


async def test_upgrade_rewrites_2x_transaction_ids_in_every_table(db_url: str) -> None:
    """A store at main_0003 holding old-style 2.x ids ("<station>:<transactionId>") and a 1.6
    transaction: after the upgrade every 2.x id is the new key in transactions, transaction_events
    and meter_values, each sample's key is the one a resent MeterValues computes, the 1.6 id is
    untouched, and the pair that used to collide now gets two keys."""
    engine = create_engine(db_url)
    config = alembic_config("main")

    def upgrade_to(connection: Connection, revision: str) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    stored = {("COL", "1:X"): "COL:1:X", ("CP-7", "tx-1"): "CP-7:tx-1", ("a~b", "9"): "a~b:9"}
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "main_0003")
            for (station_id, transaction_id), old in stored.items():
                await conn.run_sync(_insert_v2_transaction, station_id, transaction_id, old)
            await conn.execute(
                text(
                    "INSERT INTO transactions (id, station_id, protocol, stale, created_at, "
                    "updated_at) VALUES ('17', 'CP1', 'ocpp1.6', false, :now, :now)"
                ),
                {"now": utcnow()},
            )
        await migrate(engine, "main")
        await migrate(engine, "main")  # a second run changes nothing
        expected = {v2_transaction_key(s, t) for s, t in stored}
        assert expected == {"COL,1:X", "CP-7,tx-1", "a~b,9"}
        async with engine.begin() as conn:
            ids = {r[0] for r in await conn.execute(text("SELECT id FROM transactions"))}
            event_ids = {
                r[0]
                for r in await conn.execute(text("SELECT transaction_id FROM transaction_events"))
            }
            samples = {
                r[0]: r[1]
                for r in await conn.execute(
                    text("SELECT transaction_id, sample_key FROM meter_values")
                )
            }
            # The station whose id held the other's prefix gets its transaction stored now.
            await conn.run_sync(
                _insert_v2_transaction, "COL:1", "X", v2_transaction_key("COL:1", "X")
            )
            assert await conn.run_sync(_diff, "main", metadata) == []
        assert ids == expected | {"17"}
        assert event_ids == expected
        assert set(samples) == expected
        for station_id, transaction_id in stored:
            key = v2_transaction_key(station_id, transaction_id)
            (resent,) = sample_rows(
                [
                    MeterSample(
                        SAMPLE_TIME, "Energy.Active.Import.Register", None, "Wh", 1234.0, None
                    )
                ],
                station_id=station_id,
                transaction_id=key,
                evse_id=1,
                connector_id=1,
            )
            assert samples[key] == resent["sample_key"]
    finally:
        await engine.dispose()
