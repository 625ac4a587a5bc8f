"""The reservations' store on SQLite and PostgreSQL: an accepted ReserveNow replaces one of the
same id at its station and raises the id counter past it; ending a reservation happens once, and
not to a reservation the station accepted again since it was read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.reads import EngineReads
from persistence.reservations import (
    ReservationAccepted,
    ReservationStatus,
    allocate_reservation_id,
    due_reservations,
    get_reservation,
    reservation_accepted,
    reservation_ended,
)
from persistence.writer import WriteOp


def accepted(reservation_id: int, expires_at: datetime, evse_id: int = 1) -> ReservationAccepted:
    return ReservationAccepted(
        station_id="CP",
        reservation_id=reservation_id,
        id_token="TAG",
        id_token_type=None,
        group_id_token=None,
        evse_id=evse_id,
        connector_id=evse_id,
        connector_type=None,
        expires_at=expires_at,
        protocol="ocpp1.6",
    )


async def apply(engine: AsyncEngine, op: WriteOp) -> object:
    async with engine.begin() as conn:
        return await op.apply(conn)


async def test_ending_is_once_and_only_of_the_reservation_read(main_engine: AsyncEngine) -> None:
    reads = EngineReads(main_engine)
    now = datetime.now(UTC)
    await apply(main_engine, reservation_accepted(accepted(40, now - timedelta(seconds=1))))
    assert await allocate_reservation_id(main_engine) == 41  # past the id seen

    (due,) = await due_reservations(reads, now)
    assert due.status is ReservationStatus.EXPIRED
    # The station accepts the id again (a raw ReserveNow) before the sweep writes what it read.
    await apply(main_engine, reservation_accepted(accepted(40, now + timedelta(hours=1), 2)))
    stale = reservation_ended("CP", 40, ReservationStatus.EXPIRED, accepted_at=due.created_at)
    assert await apply(main_engine, stale) == 0
    again = await get_reservation(reads, 40)
    assert again is not None and again.status is ReservationStatus.ACTIVE and again.evse_id == 2

    ended = reservation_ended("CP", 40, ReservationStatus.CANCELLED, accepted_at=again.created_at)
    assert await apply(main_engine, ended) == 1
    assert await apply(main_engine, ended) == 0  # once
    cancelled = await get_reservation(reads, 40)
    assert cancelled is not None and cancelled.status is ReservationStatus.CANCELLED


async def test_an_id_at_the_top_of_ocpp_integers_leaves_the_counter(
    main_engine: AsyncEngine,
) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    await apply(main_engine, reservation_accepted(accepted(7, later)))
    await apply(main_engine, reservation_accepted(accepted(2**31 - 1, later)))
    assert await allocate_reservation_id(main_engine) == 8
    kept = await get_reservation(EngineReads(main_engine), 2**31 - 1)
    assert kept is not None and kept.status is ReservationStatus.ACTIVE
