"""The load management run against a real voltmesh server process: the simulator creates the site
through the sites API before its stations connect, voltmesh shares the site's limit among the
sessions with charging profiles, the simulated stations obey them, and the report plots the site's
power against the limit with its peak. The site is deleted after the run."""

from __future__ import annotations

import dataclasses
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from sim.fleet.report import write_reports
from sim.fleet.results import RunReport
from sim.fleet.runner import run_fleet
from sim.fleet.scenario import load_scenario
from sim.servers import ServerKind, ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def voltmesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    with ServerProcess(ServerKind.VOLTMESH, log_path=log) as server:
        yield server


def _status(server: ServerProcess, path: str) -> int:
    request = urllib.request.Request(
        f"http://{server.host}:{server.api_port}{path}",
        headers={"Authorization": f"Bearer {server.api_token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@dataclasses.dataclass(frozen=True, slots=True)
class SiteRunResult:
    report: RunReport
    html: str
    summary: dict[str, Any]


@pytest.fixture(scope="module")
def site_run(voltmesh: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> SiteRunResult:
    """The shipped load management scenario, 30 wall-clock seconds (30 simulated minutes)."""
    out = tmp_path_factory.mktemp("site-run")
    scenario = load_scenario(
        "site",
        url=f"ws://{voltmesh.host}:{voltmesh.ocpp_port}/ocpp",
        api_url=f"http://{voltmesh.host}:{voltmesh.api_port}",
        output=str(out),
        duration=30,
    )
    scenario = dataclasses.replace(
        scenario, csms=dataclasses.replace(scenario.csms, api_token=voltmesh.api_token)
    )
    report = run_fleet(scenario)
    files = write_reports(report, scenario.output_dir)
    return SiteRunResult(report, files.report.read_text(), orjson.loads(files.summary.read_bytes()))


LIMIT_W = 100 * 230 * 3
"""The scenario's site: 100 A per phase, three phases of 230 V."""


def test_the_site_is_created_loaded_to_its_limit_and_reported(
    voltmesh: ServerProcess, site_run: SiteRunResult
) -> None:
    report = site_run.report
    [site] = report.sites
    assert site.site_id == "site-a" and site.stations == 12
    assert report.sessions_started >= 8
    assert report.errors_by_kind.get("schema", 0) == 0, report.violations
    assert not report.violations, report.violations
    # voltmesh divided the limit with charging profiles, which the stations accepted and obeyed.
    assert report.csms_calls.get("SetChargingProfile", 0) >= report.sessions_started
    assert site.limit_at_peak_w == LIMIT_W
    assert len(site.samples) >= 25
    # Twelve 22 kW wallboxes would draw 264 kW: the run loaded the site to its limit, and the
    # stations drew what voltmesh gave them.
    power = sorted(s.power_w for s in site.samples)
    assert 0.95 * LIMIT_W <= power[len(power) // 2] <= LIMIT_W + 0.01

    assert "Site Car park A: power against its limit" in site_run.html
    assert "Peak site power" in site_run.html
    summary_site = site_run.summary["sites"][0]
    assert summary_site["peak_power_w"] == site.peak_power_w
    assert "samples" not in summary_site
    # Nothing of the run stays in the central system.
    assert _status(voltmesh, "/api/v1/sites/site-a") == 404


def test_the_site_is_never_over_its_limit_once_its_stations_are_connected(
    site_run: SiteRunResult,
) -> None:
    """Every change of every station's power counts. Only while the stations connect may the
    site go over: a station whose EV was waiting starts charging as soon as it has booted, before
    any profile of the central system can reach it."""
    [site] = site_run.report.sites
    assert site.connected_at is not None
    assert site.steady_seconds_over_limit == 0, (site.steady_peak_w, site.samples)
    assert 0.95 * LIMIT_W <= site.steady_peak_w <= LIMIT_W + 0.01
    over = [s for s in site.samples if s.peak_w > s.limit_w + 0.01]
    assert all(s.t <= site.connected_at for s in over), over
