"""Write-behind status store: coalescing, overlay of unflushed data, presence across nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import create_engine
from persistence.migrate import migrate
from persistence.status_models import connector_status, station_presence, status_history
from persistence.status_store import ConnectorStatus, Presence, StatusStore
from tests.persistence.helpers import count
from tests.timing import UNIT, eventually

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(status_engine: AsyncEngine) -> AsyncIterator[StatusStore]:
    # A long interval: tests flush explicitly unless they test the timer.
    store = StatusStore(status_engine, flush_interval=1000 * UNIT, node="node-a")
    await store.start()
    yield store
    await store.stop()


def set_status(store: StatusStore, station_id: str, connector: int, status: str, **kw: Any) -> None:
    store.set_connector(
        station_id,
        connector,
        1 if connector else 0,
        status=status,
        error_code=kw.get("error_code", "NoError"),
        info=kw.get("info"),
        vendor_error_code=kw.get("vendor_error_code"),
        timestamp=kw.get("timestamp"),
    )


async def test_updates_of_one_connector_coalesce(
    store: StatusStore, status_engine: AsyncEngine
) -> None:
    for i in range(100):
        set_status(store, "cp-1", 1, f"S{i}", timestamp=T0 + timedelta(seconds=i))
    await store.flush()
    assert await count(status_engine, connector_status) == 1
    assert await count(status_engine, status_history) == 100
    async with status_engine.connect() as conn:
        row = (await conn.execute(select(connector_status))).mappings().one()
        history = (
            (await conn.execute(select(status_history.c.status).order_by(status_history.c.id)))
            .scalars()
            .all()
        )
    assert row["status"] == "S99"
    assert history == [f"S{i}" for i in range(100)]
    # The next round updates the stored row in place.
    set_status(store, "cp-1", 1, "Charging")
    await store.flush()
    assert [c.status for c in await store.connectors("cp-1")] == ["Charging"]
    assert await count(status_engine, connector_status) == 1
    assert await count(status_engine, status_history) == 101


async def test_reads_see_unflushed_updates(store: StatusStore, status_engine: AsyncEngine) -> None:
    set_status(store, "cp-1", 1, "Available")
    set_status(store, "cp-1", 0, "Available")
    await store.flush()
    set_status(store, "cp-1", 1, "Charging", timestamp=T0)
    set_status(store, "cp-2", 1, "Faulted", error_code="GroundFailure")
    store.set_presence("cp-1", connected=True, protocol="ocpp1.6")
    store.touch("cp-1", T0)
    # Nothing of the second round is stored yet...
    assert await count(status_engine, station_presence) == 0
    # ...but reads show it, overlaid on the stored rows.
    connectors = await store.connectors("cp-1")
    assert [(c.evse_id, c.connector_id, c.status) for c in connectors] == [
        (0, 0, "Available"),
        (1, 1, "Charging"),
    ]
    assert connectors[1].timestamp == T0
    assert isinstance(connectors[1], ConnectorStatus)
    presence = await store.presence("cp-1")
    assert presence is not None
    assert (presence.connected, presence.protocol, presence.last_seen, presence.node) == (
        True,
        "ocpp1.6",
        T0,
        "node-a",
    )
    assert await store.presence("cp-2") is None
    await store.flush()
    assert await store.connectors("cp-1") == connectors
    assert await store.presence("cp-1") == presence


async def test_timestamps_come_back_in_utc(store: StatusStore) -> None:
    local = datetime(2025, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    set_status(store, "cp-1", 1, "Available", timestamp=local)
    store.set_presence("cp-1", connected=True, protocol="ocpp1.6")
    store.touch("cp-1", local)
    await store.flush()
    (connector,) = await store.connectors("cp-1")
    assert connector.timestamp == T0
    assert connector.timestamp is not None
    assert connector.timestamp.utcoffset() == timedelta(0)
    presence = await store.presence("cp-1")
    assert presence is not None
    assert presence.last_seen == T0
    assert presence.updated_at.tzinfo is not None


async def test_presences_of_many_stations(store: StatusStore) -> None:
    store.set_presence("a", connected=True, protocol="ocpp1.6")
    store.set_presence("b", connected=True, protocol="ocpp2.0.1")
    await store.flush()
    store.set_presence("b", connected=False, protocol=None)
    store.touch("c", T0)
    result = await store.presences(["a", "b", "c", "never"])
    assert set(result) == {"a", "b", "c"}
    assert result["a"].connected
    assert not result["b"].connected
    assert result["b"].protocol == "ocpp2.0.1"
    assert result["c"] == Presence("c", False, None, T0, None, result["c"].updated_at)
    await store.flush()
    assert await store.presences(["a", "b", "c", "never"]) == result
    assert await store.presences([]) == {}


async def test_mark_node_disconnected(store: StatusStore, status_engine: AsyncEngine) -> None:
    other = StatusStore(status_engine, node="node-b")
    store.set_presence("on-a", connected=True, protocol="ocpp1.6")
    store.set_presence("gone-from-a", connected=True, protocol="ocpp1.6")
    other.set_presence("on-b", connected=True, protocol="ocpp1.6")
    await store.flush()
    await other.flush()
    store.set_presence("gone-from-a", connected=False, protocol=None)
    await store.flush()

    # node-a restarts: its previous websockets are gone.
    restarted = StatusStore(status_engine, node="node-a")
    await restarted.mark_node_disconnected("node-a")
    result = await restarted.presences(["on-a", "gone-from-a", "on-b"])
    assert {k: (v.connected, v.node) for k, v in result.items()} == {
        "on-a": (False, "node-a"),
        "gone-from-a": (False, "node-a"),
        "on-b": (True, "node-b"),
    }


async def test_a_late_close_does_not_override_another_node(
    store: StatusStore, status_engine: AsyncEngine
) -> None:
    other = StatusStore(status_engine, node="node-b")
    store.set_presence("cp", connected=True, protocol="ocpp1.6")
    await store.flush()
    # The station reconnects to node-b before node-a notices that its socket closed.
    other.set_presence("cp", connected=True, protocol="ocpp2.0.1")
    await other.flush()
    store.set_presence("cp", connected=False, protocol=None)
    before_flush = await store.presence("cp")
    await store.flush()
    after = await store.presence("cp")
    assert after is not None
    assert before_flush is not None
    assert (after.connected, after.node, after.protocol) == (True, "node-b", "ocpp2.0.1")
    assert (before_flush.connected, before_flush.node) == (True, "node-b")
    # A close by the node that holds the station does apply.
    other.set_presence("cp", connected=False, protocol=None)
    await other.flush()
    presence = await store.presence("cp")
    assert presence is not None
    assert not presence.connected


async def test_stop_flushes(status_engine: AsyncEngine) -> None:
    store = StatusStore(status_engine, flush_interval=1000 * UNIT, node="n")
    await store.start()
    set_status(store, "cp-1", 1, "Available")
    store.set_presence("cp-1", connected=True, protocol="ocpp1.6")
    await store.stop()
    assert await count(status_engine, connector_status) == 1
    assert await count(status_engine, station_presence) == 1
    assert await count(status_engine, status_history) == 1


async def test_flushes_on_its_own(status_engine: AsyncEngine) -> None:
    store = StatusStore(status_engine, flush_interval=UNIT, node="n")
    await store.start()
    try:
        set_status(store, "cp-1", 1, "Available")

        async def stored() -> bool:
            return await count(status_engine, connector_status) == 1

        await eventually(stored, within=40 * UNIT)
    finally:
        await store.stop()


async def test_a_failed_flush_keeps_the_data(status_db_url: str) -> None:
    """A flush into a store that is not migrated yet fails; nothing recorded is lost."""
    engine = create_engine(status_db_url)
    try:
        store = StatusStore(engine, node="n")
        set_status(store, "cp-1", 1, "Preparing")
        store.set_presence("cp-1", connected=True, protocol="ocpp1.6")
        with pytest.raises(Exception, match="connector_status"):
            await store.flush()
        # Newer values recorded after the failure win over the kept ones.
        set_status(store, "cp-1", 1, "Charging")
        await migrate(engine, "status")
        await store.flush()
        assert [c.status for c in await store.connectors("cp-1")] == ["Charging"]
        assert await count(engine, status_history) == 2
        presence = await store.presence("cp-1")
        assert presence is not None
        assert presence.connected
    finally:
        await engine.dispose()
