"""The 32-bit bound on the integers a station sends that voltmesh keeps or looks up by, and the
bound on the ReportChargingProfiles parts kept per station."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

import persistence.schema  # noqa: F401  (every table on the metadata)
from csms.monitoring import bounds
from csms.payloads import fields
from csms.payloads.fields import INT32_MAX, INT32_MIN, PayloadError, fits_int32, require_int32
from persistence import charging_profiles as kept
from persistence.models import metadata
from transport.errors import ErrorCode


@pytest.mark.parametrize("value", [None, 0, 1, -1, INT32_MAX, INT32_MIN])
def test_values_a_32_bit_column_holds(value: Any) -> None:
    assert fits_int32(value)
    require_int32("X", {"id": value})


@pytest.mark.parametrize("value", [INT32_MAX + 1, INT32_MIN - 1, 2**63, True, 1.0, "1"])
def test_values_it_does_not_are_a_property_constraint_violation(value: Any) -> None:
    assert not fits_int32(value)
    with pytest.raises(PayloadError) as error:
        require_int32("ReservationStatusUpdate", {"ok": 1, "reservationId": value})
    assert error.value.code is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert str(error.value).startswith("ReservationStatusUpdate.reservationId ")


def test_the_monitoring_module_names_the_same_bound() -> None:
    assert bounds.require_int32 is fields.require_int32
    assert bounds.fits_int32 is fields.fits_int32
    assert (bounds.INT32_MIN, bounds.INT32_MAX) == (-(2**31), 2**31 - 1)


async def test_report_parts_kept_are_bounded(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/reports.db")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

        async def part(station: str, request_id: int) -> bool:
            op = kept.report_part_received(
                station, request_id=request_id, evse_id=1, source="CSO", tbc=True, profiles=[]
            )
            async with engine.begin() as conn:
                return bool(await op.apply(conn))

        c = kept.charging_profile_reports.c

        async def counts(station: str) -> dict[int, int]:
            async with engine.connect() as conn:
                found = await conn.execute(select(c.request_id).where(c.station_id == station))
                result: dict[int, int] = {}
                for (request_id,) in found:
                    result[request_id] = result.get(request_id, 0) + 1
                return result

        assert await part("OTHER", 1)
        flags = [await part("FLOOD", 1) for _ in range(kept.REPORT_PARTS_KEPT + 5)]
        assert flags == [True] * kept.REPORT_PARTS_KEPT + [False] * 5
        assert await counts("FLOOD") == {1: kept.REPORT_PARTS_KEPT}

        newest = range(100, 100 + kept.REPORTS_KEPT + 10)
        for request_id in newest:
            assert await part("FLOOD", request_id)
        assert await counts("FLOOD") == {i: 1 for i in newest[-kept.REPORTS_KEPT :]}
        assert await counts("OTHER") == {1: 1}
    finally:
        await engine.dispose()
