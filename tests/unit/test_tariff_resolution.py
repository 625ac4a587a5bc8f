"""Which tariff a transaction gets: its id token's group, then its station, its site, the default;
only what was in force when its start was recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from csms.tariffs.resolution import NO_TARIFF, choose
from persistence.tariffs import Assignment, Candidate, Prices, Scope, Tariff

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def candidate(
    tariff_id: str,
    scope: Scope,
    *,
    created: float = -60,
    assigned: float = -60,
    valid_from: float | None = None,
    valid_to: float | None = None,
) -> Candidate:
    tariff = Tariff(
        id=tariff_id,
        name=tariff_id,
        currency="EUR",
        prices=Prices(energy=Decimal("0.30")),
        valid_from=None if valid_from is None else at(valid_from),
        valid_to=None if valid_to is None else at(valid_to),
        created_at=at(created),
    )
    return Candidate(Assignment(scope, "x", tariff_id, at(assigned)), tariff)


def test_precedence_group_station_site_default() -> None:
    everything = [
        candidate("default", Scope.DEFAULT),
        candidate("site", Scope.SITE),
        candidate("station", Scope.STATION),
        candidate("group", Scope.ID_TOKEN_GROUP),
    ]
    for expected in ("group", "station", "site", "default"):
        resolved = choose(everything, T0)
        assert resolved.tariff is not None
        assert resolved.tariff.id == expected
        assert resolved.scope is not None
        everything = [c for c in everything if c.tariff.id != expected]
    assert choose(everything, T0) == NO_TARIFF


def test_only_what_was_in_force_at_the_start() -> None:
    later_tariff = candidate("later", Scope.STATION, created=10)
    later_assignment = candidate("assigned-later", Scope.STATION, assigned=10)
    expired = candidate("expired", Scope.STATION, valid_to=0)
    not_yet = candidate("not-yet", Scope.STATION, valid_from=1)
    fallback = candidate("default", Scope.DEFAULT)
    resolved = choose([later_tariff, later_assignment, expired, not_yet, fallback], T0)
    assert resolved.tariff is not None
    assert resolved.tariff.id == "default"
    assert resolved.scope is Scope.DEFAULT


def test_the_newest_validity_then_the_newest_assignment_wins() -> None:
    old = candidate("old", Scope.STATION, valid_from=-600)
    new = candidate("new", Scope.STATION, valid_from=-30, assigned=-120)
    resolved = choose([old, new], T0)
    assert resolved.tariff is not None and resolved.tariff.id == "new"
    first = candidate("first", Scope.STATION, assigned=-50)
    second = candidate("second", Scope.STATION, assigned=-40)
    resolved = choose([second, first], T0)
    assert resolved.tariff is not None and resolved.tariff.id == "second"
