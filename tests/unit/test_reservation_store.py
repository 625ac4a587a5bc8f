"""The reservations' store on SQLite and PostgreSQL: an accepted ReserveNow replaces one of the
same id at its station and raises the id counter past it; ending a reservation happens once, and
not to a reservation the station accepted again since it was read; a start the CSMS refused does
not use a reservation, one abandoned later does."""

from __future__ import annotations

from dataclasses import replace
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
from persistence.transactions import (
    REFUSED_REASON,
    station_transactions_abandoned,
    transaction_started,
    transaction_updated,
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


def v16_start(
    transaction_id: str, at: datetime, *, authorization: str, reservation_id: int | None
) -> WriteOp:
    """A 1.6 start stored as the session actor stores it: refused ones closed at once."""
    refused = authorization != "Accepted"
    return transaction_started(
        transaction_id=transaction_id,
        station_id="CP",
        evse_id=2,
        connector_id=2,
        id_token="TAG",
        id_token_type=None,
        start_time=at,
        meter_start_wh=0.0,
        protocol="ocpp1.6",
        dedup_key=transaction_id,
        reservation_id=reservation_id,
        extra={"authorization": authorization},
        stop_time=at if refused else None,
        stop_reason=REFUSED_REASON if refused else None,
        abandoned=refused,
    )


async def test_a_start_refused_does_not_use_the_reservation(main_engine: AsyncEngine) -> None:
    reads = EngineReads(main_engine)
    now = datetime.now(UTC)
    await apply(main_engine, reservation_accepted(accepted(50, now + timedelta(hours=1), 2)))
    await apply(main_engine, reservation_accepted(accepted(51, now + timedelta(hours=1), 2)))

    # Expired with the reservation's id, then ConcurrentTx without one (the implicit 1.6 match).
    await apply(main_engine, v16_start("T-1", now, authorization="Expired", reservation_id=50))
    await apply(
        main_engine, v16_start("T-2", now, authorization="ConcurrentTx", reservation_id=None)
    )
    # The station's own stop replaces the CSMS's close of a refused start; still refused.
    await apply(
        main_engine,
        transaction_updated("T-1", stop_reason="DeAuthorized", abandoned=False, meter_stop_wh=0.0),
    )
    for reservation_id in (50, 51):
        kept = await get_reservation(reads, reservation_id)
        assert kept is not None
        assert kept.status is ReservationStatus.ACTIVE and kept.transaction_id is None
    assert await due_reservations(reads, now) == []

    # An accepted start uses it, and still does once its station's boot abandons it.
    await apply(main_engine, v16_start("T-3", now, authorization="Accepted", reservation_id=50))
    closed = await apply(main_engine, station_transactions_abandoned("CP"))
    assert isinstance(closed, tuple)
    assert [t.transaction_id for t in closed] == ["T-3"]
    used = await get_reservation(reads, 50)
    assert used is not None
    assert used.status is ReservationStatus.USED and used.transaction_id == "T-3"


async def test_a_2x_start_without_an_authorization_mark_uses_the_reservation(
    main_engine: AsyncEngine,
) -> None:
    """2.x stores no authorization status on its start (the station ends a refused one itself):
    a transaction that names the reservation uses it, as before."""
    reads = EngineReads(main_engine)
    now = datetime.now(UTC)
    reservation = replace(accepted(60, now + timedelta(hours=1), 2), protocol="ocpp2.0.1")
    await apply(main_engine, reservation_accepted(reservation))
    await apply(
        main_engine,
        transaction_started(
            transaction_id="T-20",
            station_id="CP",
            evse_id=2,
            connector_id=1,
            id_token="TAG",
            id_token_type="ISO14443",
            start_time=now,
            meter_start_wh=None,
            protocol="ocpp2.0.1",
            dedup_key=None,
            reservation_id=60,
        ),
    )
    used = await get_reservation(reads, 60)
    assert used is not None
    assert used.status is ReservationStatus.USED and used.transaction_id == "T-20"
