"""The site allocator's cost: how long dividing every site's limit among its sessions takes.

``python -m sim.site_allocator_bench [--sites 100] [--sessions 1000] [--runs 21] [--seed 1]``

One rebalance of the whole fleet: for each site, its limit (read from its time-of-day schedule)
is divided among its active sessions (``csms.sites.allocator.allocate``), and the SetChargingProfile
payload of every session is built as the site loop sends it (1.6 and 2.0.1 alternately). The
sessions are spread evenly over the sites; each scenario varies what makes the division harder:

- ``equal``: one priority, no known maximum (one water-filling pass per site);
- ``mixed``: three priorities and a known maximum on half the sessions (several passes);
- ``short``: a limit too small for everyone's minimum, so admission cuts sessions off;
- ``one site``: every session on a single site (the largest single division).

Times are this process's CPU time (``time.process_time``), the median and the slowest of
``runs``, in milliseconds per fleet rebalance and microseconds per session. Figures, not checks:
the unit tests assert the allocator's rules.
"""

from __future__ import annotations

import argparse
import functools
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from csms.sites.allocator import Demand, allocate
from csms.sites.limits import budget_at, session_minimum
from csms.sites.profiles import tx_profile
from persistence.sites import ScheduleEntry, Site
from transport.versions import OcppVersion

NOW = datetime(2026, 12, 4, 19, 30, tzinfo=UTC)
CALL_TIMEOUT = 30.0
"""VOLTMESH_SITE_CALL_TIMEOUT's default: the lead of a falling scheduled value."""


@dataclass(frozen=True, slots=True)
class Shape:
    """What a scenario's sessions look like."""

    priorities: int
    """Distinct priorities, drawn uniformly."""
    capped: float
    """Share of the sessions with a known maximum (16 or 32 A)."""
    limit_per_session: float
    """A site's limit per session it has, in A per phase."""


@dataclass(frozen=True, slots=True)
class Fleet:
    """Sites and the demands of the sessions at each."""

    sites: list[Site]
    demands: list[list[Demand]]


def fleet(sites: int, sessions: int, shape: Shape, *, seed: int) -> Fleet:
    rng = random.Random(seed)
    per_site = [sessions // sites + (1 if i < sessions % sites else 0) for i in range(sites)]
    built: list[Site] = []
    demands: list[list[Demand]] = []
    for i, count in enumerate(per_site):
        limit = max(1.0, round(count * shape.limit_per_session, 1))
        built.append(
            Site(
                id=f"site-{i:04d}",
                name=f"Site {i}",
                limit_unit="A",
                limit_value=limit,
                phases=3,
                min_current=6.0,
                schedule=(ScheduleEntry(18 * 60, limit * 0.6), ScheduleEntry(22 * 60, limit)),
            )
        )
        demands.append(
            [
                Demand(
                    key=(f"CP-{i:04d}-{j:03d}", 1),
                    minimum=6.0,
                    maximum=rng.choice((16.0, 32.0)) if rng.random() < shape.capped else None,
                    priority=rng.randrange(shape.priorities),
                )
                for j in range(count)
            ]
        )
    return Fleet(built, demands)


def rebalance(f: Fleet) -> int:
    """Divide every site's limit and build every session's profile; returns the profiles built."""
    built = 0
    for site, demands in zip(f.sites, f.demands, strict=True):
        minimum = session_minimum(site)
        # The budget a round shares out: the limit, a falling scheduled value ahead.
        shares = allocate(budget_at(site, NOW, CALL_TIMEOUT), demands)
        for n, demand in enumerate(demands):
            version = OcppVersion.V16 if n % 2 else OcppVersion.V201
            transaction_id = str(1000 + n) if version is OcppVersion.V16 else f"CP,tx-{n}"
            tx_profile(
                version,
                evse_id=1,
                transaction_id=transaction_id,
                limit=shares[demand.key],
                unit=site.limit_unit,
                phases=site.phases,
                min_rate=minimum,
            )
            built += 1
    return built


def timed(runs: int, work: Callable[[], object]) -> list[float]:
    """CPU seconds of each of ``runs`` calls of ``work`` (after one warm-up call)."""
    work()
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.sites < 1 or args.sessions < 1 or args.runs < 1:
        parser.error("--sites, --sessions and --runs must be at least 1")

    scenarios = [
        ("equal", args.sites, Shape(priorities=1, capped=0.0, limit_per_session=20.0)),
        ("mixed", args.sites, Shape(priorities=3, capped=0.5, limit_per_session=20.0)),
        ("short", args.sites, Shape(priorities=3, capped=0.5, limit_per_session=4.0)),
        ("one site", 1, Shape(priorities=3, capped=0.5, limit_per_session=20.0)),
    ]
    print(
        f"site allocator: {args.sessions} sessions, median and slowest of {args.runs} runs "
        f"(CPU time, Python {sys.version.split()[0]})"
    )
    header = f"{'scenario':<10} {'sites':>6} {'sessions':>9} {'median ms':>10} {'max ms':>8} {'µs/session':>11}"
    print(header)
    print("-" * len(header))
    for name, sites, shape in scenarios:
        times = timed(
            args.runs,
            functools.partial(rebalance, fleet(sites, args.sessions, shape, seed=args.seed)),
        )
        median = statistics.median(times)
        print(
            f"{name:<10} {sites:>6} {args.sessions:>9} {median * 1e3:>10.2f} "
            f"{max(times) * 1e3:>8.2f} {median / args.sessions * 1e6:>11.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
