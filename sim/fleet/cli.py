"""``voltmesh sim SCENARIO``: run a simulated fleet against a central system and write its reports.

SCENARIO is a TOML or YAML file, or the name of a shipped one (``smoke``, ``city``, ``depot``). The
options override the file. Reports go to the scenario's output directory: ``summary.json``,
``sessions.csv`` and ``report.html``.
"""

from __future__ import annotations

import argparse
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", help="scenario file (.toml, .yaml) or shipped name (smoke)")
    parser.add_argument("--url", help="the central system's OCPP websocket URL (csms.url)")
    parser.add_argument(
        "--api-url",
        help="the central system's REST API, where the id tags are registered (csms.api_url)",
    )
    parser.add_argument("--output", help="directory of the reports (output.dir)")
    parser.add_argument("--duration", type=float, help="wall-clock seconds to run (duration)")
    parser.add_argument("--workers", type=int, help="worker processes (workers)")
    parser.add_argument("--seed", type=int, help="random seed: same seed, same fleet and plan")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a central system that is not on this machine (loopback only by default)",
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: ``voltmesh serve`` builds this parser too and needs none of it.
    from sim.errors import RemoteTargetRefused
    from sim.fleet.progress import Progress, ProgressTotals
    from sim.fleet.report import site_verdict, write_reports
    from sim.fleet.results import Interval
    from sim.fleet.runner import SitesRefused, run_fleet
    from sim.fleet.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(
            args.scenario,
            url=args.url,
            api_url=args.api_url,
            output=args.output,
            duration=args.duration,
            workers=args.workers,
            seed=args.seed,
        )
    except ScenarioError as exc:
        print(f"voltmesh sim: {exc}", file=sys.stderr)
        return 2
    progress = Progress()
    started = time.monotonic()
    errors = [0]

    def on_second(interval: Interval) -> None:
        errors[0] += interval.errors
        progress.update(
            interval,
            ProgressTotals(
                stations=scenario.stations,
                sessions_completed=interval.sessions_completed,
                errors=errors[0],
                elapsed=time.monotonic() - started,
                duration=scenario.duration,
            ),
        )

    print(
        f"voltmesh sim: {scenario.name}: {scenario.stations:,} stations, {scenario.workers} "
        f"worker(s), {scenario.duration:g} s at {scenario.acceleration:g}x against {scenario.csms.url}",
        file=sys.stderr,
    )
    try:
        report = run_fleet(scenario, on_second=on_second, allow_remote=args.allow_remote)
    except (RemoteTargetRefused, SitesRefused) as exc:
        print(f"voltmesh sim: {exc}", file=sys.stderr)
        return 2
    finally:
        progress.close()
    files = write_reports(report, scenario.output_dir)
    print(
        f"voltmesh sim: {report.messages:,} messages, {report.sessions_completed:,} sessions "
        f"completed, {report.energy_wh / 1000:,.1f} kWh, "
        f"{sum(report.errors_by_kind.values()):,} errors; reports in {scenario.output_dir}",
        file=sys.stderr,
    )
    for site in report.sites:
        print(f"voltmesh sim: site {site.site_id}: {site_verdict(site)}", file=sys.stderr)
    print(files.summary)
    return 0
