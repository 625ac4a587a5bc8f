"""The sites of a load management scenario: how they are written and checked, created in and
deleted from the central system through its REST API (the sites contract), measured against
their limit, and shown in the report."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from sim.fleet.report import render_html, summary_dict
from sim.fleet.results import Interval, RunReport
from sim.fleet.runner import SitesRefused, create_sites, delete_sites, site_runs
from sim.fleet.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from sim.fleet.tally import FleetTally


def scenario(sites: list[dict[str, Any]], api_url: str | None = "http://127.0.0.1:1") -> Scenario:
    csms: dict[str, Any] = {"url": "ws://127.0.0.1:9000/ocpp"}
    if api_url is not None:
        csms["api_url"] = api_url
        csms["api_token"] = "secret-token"
    return parse_scenario(
        {
            "duration": 10,
            "csms": csms,
            "fleet": [
                {"model": "ac", "count": 3, "versions": {"ocpp1.6": 1}},
                {"model": "dc", "count": 2, "versions": {"ocpp2.0.1": 1}},
            ],
            "sites": sites,
        },
        name="sites",
    )


SITE = {"id": "a", "limit": {"unit": "A", "value": 100}, "models": ["ac"], "priority": 2}


def test_a_site_holds_whole_models_and_named_stations() -> None:
    s = scenario(
        [SITE, {"id": "b", "limit": {"unit": "W", "value": 50_000}, "stations": ["SIM-dc-00001"]}]
    )
    assert s.site_members(s.sites[0]) == ["SIM-ac-00001", "SIM-ac-00002", "SIM-ac-00003"]
    assert s.site_of("SIM-ac-00002") == "a"
    assert s.site_of("SIM-dc-00001") == "b"
    assert s.site_of("SIM-dc-00002") is None
    # Only the model's own stations: not one past its count, not a look-alike id.
    assert s.site_of("SIM-ac-00004") is None
    assert s.site_of("SIM-ac-0001") is None
    assert s.site_of("SIM-ac-x0001") is None
    body = s.sites[0].body(s.site_members(s.sites[0]))
    assert body == {
        "name": "a",
        "limit": {"unit": "A", "value": 100.0, "phases": 3},
        "min_current": 6.0,
        "members": [
            {"station_id": f"SIM-ac-0000{n}", "evse_id": None, "priority": 2} for n in (1, 2, 3)
        ],
    }


@pytest.mark.parametrize(
    ("sites", "message"),
    [
        ([SITE, SITE], "sites[1].id: duplicate site 'a'"),
        ([{**SITE, "models": ["nope"]}], "sites[0].models[0]: no fleet model 'nope'"),
        (
            [SITE, {**SITE, "id": "b", "models": [], "stations": ["SIM-ac-00001"]}],
            "sites[1]: station 'SIM-ac-00001' is already in site 'a'",
        ),
        ([{**SITE, "limit": {"unit": "kW", "value": 1}}], "sites[0].limit.unit"),
        ([{**SITE, "schedule": [{"start": "25:00", "value": 1}]}], "sites[0].schedule[0].start"),
        ([{**SITE, "colour": "red"}], "sites[0]"),
    ],
)
def test_a_bad_site_names_its_field(sites: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario(sites)
    assert message in str(caught.value)


def test_a_schedule_replaces_the_limit_from_each_time_of_day() -> None:
    s = scenario(
        [{**SITE, "schedule": [{"start": "07:00", "value": 80}, {"start": "18:00", "value": 40}]}]
    )
    site = s.sites[0]
    assert site.value_at(datetime(2026, 6, 1, 6, 59, tzinfo=UTC)) == 40  # yesterday's last
    assert site.value_at(datetime(2026, 6, 1, 7, 0, tzinfo=UTC)) == 80
    assert site.limit_w_at(datetime(2026, 6, 1, 18, 30, tzinfo=UTC)) == 40 * 230 * 3
    assert site.body([])["schedule"] == [
        {"start": "07:00", "value": 80.0},
        {"start": "18:00", "value": 40.0},
    ]


def test_the_shipped_site_scenario() -> None:
    site = load_scenario("site")
    assert [s.id for s in site.sites] == ["site-a"]
    assert len(site.site_members(site.sites[0])) == site.stations == 12


class SitesApi:
    """The sites resource of a central system, as the contract has it."""

    def __init__(self, *, status: int | None = None) -> None:
        self.sites: dict[str, Any] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.status = status

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/v1/sites/{site_id}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        site_id = request.match_info["site_id"]
        self.requests.append((request.method, site_id, request.headers.get("Authorization")))
        if self.status is not None:
            return web.json_response({"title": "nope"}, status=self.status)
        if request.method == "PUT":
            created = site_id not in self.sites
            self.sites[site_id] = await request.json()
            return web.json_response(self.sites[site_id], status=201 if created else 200)
        if request.method == "DELETE":
            if self.sites.pop(site_id, None) is None:
                return web.json_response({}, status=404)
            return web.Response(status=204)
        return web.json_response({}, status=405)


@contextlib.asynccontextmanager
async def serving(sites: SitesApi) -> AsyncIterator[str]:
    """The API on a free loopback port; yields its base URL."""
    runner = web.AppRunner(sites.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def api() -> AsyncIterator[tuple[SitesApi, str]]:
    sites = SitesApi()
    async with serving(sites) as url:
        yield sites, url


async def test_the_run_creates_its_sites_and_deletes_them(api: tuple[SitesApi, str]) -> None:
    sites, url = api
    s = scenario([SITE], api_url=url)
    await create_sites(s)
    assert list(sites.sites) == ["a"]
    assert sites.sites["a"]["limit"] == {"unit": "A", "value": 100.0, "phases": 3}
    assert len(sites.sites["a"]["members"]) == 3
    await delete_sites(s)
    assert sites.sites == {}
    # Deleting what is already gone is fine; every request carried the API token.
    await delete_sites(s)
    assert {auth for _, _, auth in sites.requests} == {"Bearer secret-token"}


@pytest.mark.parametrize("status", [404, 403, 422])
async def test_a_central_system_that_refuses_a_site_stops_the_run(status: int) -> None:
    async with serving(SitesApi(status=status)) as url:
        with pytest.raises(SitesRefused, match=f"PUT site a: HTTP {status}"):
            await create_sites(scenario([SITE], api_url=url))


async def test_sites_need_the_rest_api() -> None:
    with pytest.raises(SitesRefused, match=r"needs csms\.api_url"):
        await create_sites(scenario([SITE], api_url=None))


def test_the_tally_sees_the_peak_between_two_samples() -> None:
    tally = FleetTally()
    tally.set_power("a", "S1", 20_000)
    tally.set_power("a", "S2", 30_000)
    tally.set_power("a", "S1", 10_000)
    first = tally.snapshot(1)
    assert first.site_power_w == {"a": 40_000}
    assert first.site_peak_w == {"a": 50_000}
    second = tally.snapshot(2)
    assert second.site_peak_w == {"a": 40_000}


def _interval(t: float, power: float, peak: float, connected: int) -> Interval:
    return Interval(
        t,
        connected,
        1,
        1,
        0,
        None,
        None,
        None,
        0.0,
        site_power_w={"a": power},
        site_peak_w={"a": peak},
    )


def test_site_runs_measure_the_peak_against_the_limit_and_the_report_shows_it() -> None:
    s = scenario([SITE])
    # The last of the 5 stations connects in second 2; what happens in it is the ramp's.
    timeline = [
        _interval(1, 60_000, 60_000, 3),
        _interval(2, 69_000, 73_140, 5),
        _interval(3, 0, 69_000, 5),
    ]
    [run] = site_runs(s, timeline, datetime(2026, 6, 1, 12, tzinfo=UTC))
    assert (run.peak_power_w, run.limit_at_peak_w) == (73_140, 69_000)
    assert (run.seconds_over_limit, run.worst_excess_w) == (1, 4_140)
    assert [x.peak_w for x in run.samples] == [60_000, 73_140, 69_000]

    report = RunReport(
        scenario="sites", seed=1, url="ws://x", stations=5, versions={}, workers=1,
        duration_s=3, acceleration=1, started_at="2026-06-01T12:00:00Z", messages=0,
        messages_by_action={}, latency_ms={}, errors_by_kind={}, faults_injected={},
        csms_calls={}, sessions_started=0, sessions_completed=0, energy_wh=0,
        peak_connected=5, timeline=timeline, sites=[run],
    )  # fmt: skip
    html = render_html(report)
    assert "<h2>Sites</h2>" in html
    assert "Site a: power against its limit" in html
    assert "Peak site power 73.1 kW against a limit of 69.0 kW (106.0% of it)" in html
    assert "over the limit in 1 second(s), by at most 4.14 kW" in html
    assert "Once every station was connected (after 2 s): peak 69.0 kW, over the limit in 0" in html
    assert (run.connected_at, run.steady_peak_w, run.steady_seconds_over_limit) == (2, 69_000, 0)
    summary = summary_dict(report)
    assert summary["sites"] == [
        {
            "site_id": "a",
            "name": "a",
            "stations": 3,
            "peak_power_w": 73_140,
            "limit_at_peak_w": 69_000,
            "seconds_over_limit": 1,
            "worst_excess_w": 4_140,
            "connected_at": 2,
            "steady_peak_w": 69_000,
            "steady_seconds_over_limit": 0,
        }
    ]
    # A run without sites shows no such section.
    assert "<h2>Sites</h2>" not in render_html(dataclasses.replace(report, sites=[]))
