"""Scenario files: the shipped ones load, TOML and YAML agree, and every mistake names its field."""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
import re
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim.fleet.scenario import (
    DEFAULT_PROFILE,
    SCENARIO_DIR,
    VERSIONS,
    Arrivals,
    Csms,
    Faults,
    Output,
    Scenario,
    ScenarioError,
    Sessions,
    StationModel,
    builtin_scenarios,
    load_scenario,
    parse_scenario,
)

MINIMAL: dict[str, Any] = {
    "duration": 10,
    "fleet": [
        {"model": "home", "count": 3, "versions": {"ocpp1.6": 1}},
        {"model": "dc", "count": 2, "versions": {"ocpp2.0.1": 1, "ocpp2.1": 1}},
    ],
}

_DELETE = object()


def changed(*edits: tuple[str, object]) -> dict[str, Any]:
    """MINIMAL with edits at dotted paths (``fleet.1.versions``); `_DELETE` removes the key."""
    data = copy.deepcopy(MINIMAL)
    for path, value in edits:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        key: Any = int(last) if isinstance(node, list) else last
        if value is _DELETE:
            del node[key]
        else:
            node[key] = value
    return data


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# -- the shipped scenarios -----------------------------------------------------------------------


def test_the_three_scenarios_are_shipped() -> None:
    assert {"smoke", "city", "depot"} <= set(builtin_scenarios())
    assert builtin_scenarios()["depot"].suffix == ".yaml"
    assert all(path.parent == SCENARIO_DIR for path in builtin_scenarios().values())


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_every_shipped_scenario_loads(name: str) -> None:
    path = builtin_scenarios()[name]
    scenario = load_scenario(path)
    assert scenario.name == name
    assert scenario.stations >= 1
    assert scenario.output_dir == Path(f"sim-results/{name}-{scenario.seed}")
    # The comments say what it models.
    assert path.read_text().startswith("# ")
    # Every station id is one the server accepts.
    for model in scenario.fleet:
        for index in (0, model.count - 1):
            assert re.fullmatch(
                r"[A-Za-z0-9._~:*@+\-]{1,64}", scenario.station_id(model.model, index)
            )


def test_smoke_is_small_mixed_and_quick() -> None:
    smoke = load_scenario(SCENARIO_DIR / "smoke.toml")
    assert 40 <= smoke.stations <= 60
    assert len(smoke.fleet) in (2, 3)
    assert {v for m in smoke.fleet for v, w in m.versions.items() if w > 0} == set(VERSIONS)
    assert (smoke.duration, smoke.acceleration, smoke.workers) == (20, 60, 1)
    assert smoke.csms.url == "ws://127.0.0.1:9000/ocpp"
    assert smoke.csms.api_url == "http://127.0.0.1:8080"
    # A handful of each enabled fault in 20 simulated minutes of the whole fleet.
    station_hours = smoke.stations * smoke.simulated_duration / 3600
    faults = smoke.faults
    for rate in (
        faults.drop_per_hour,
        faults.reboot_per_hour,
        faults.offline_per_hour,
        faults.malformed_per_hour,
        faults.schema_violation_per_hour,
    ):
        assert 2 <= rate * station_hours <= 10
    assert 0 < faults.resend_probability < 0.1


def test_city_and_depot() -> None:
    city = load_scenario(SCENARIO_DIR / "city.toml")
    assert city.stations == 10_000
    assert (city.workers, city.duration, city.acceleration) == (4, 300, 12)
    by_model = {m.model: m for m in city.fleet}
    assert len(by_model) == 3
    home = min(city.fleet, key=lambda m: m.max_power_kw)
    assert (home.evses, home.max_power_kw) == (1, 7.4)
    assert home.versions["ocpp1.6"] > home.versions["ocpp2.0.1"] + home.versions["ocpp2.1"]
    dc = max(city.fleet, key=lambda m: m.max_power_kw)
    assert (dc.evses, dc.max_power_kw) == (2, 150)
    assert dc.versions["ocpp2.0.1"] > dc.versions["ocpp1.6"] + dc.versions["ocpp2.1"]

    depot = load_scenario(SCENARIO_DIR / "depot.yaml")
    assert depot.stations == 200
    assert [m.versions for m in depot.fleet] == [{"ocpp1.6": 0, "ocpp2.0.1": 1, "ocpp2.1": 0}]
    assert depot.sessions.dwell_minutes_mean >= 300
    # Overnight: nobody arrives during the day, the evening hours are the busiest.
    assert all(depot.profile_weight(h) == 0 for h in range(6, 18))
    assert max(range(24), key=depot.profile_weight) in range(19, 24)


def test_a_bare_name_is_a_shipped_scenario() -> None:
    assert load_scenario("smoke") == load_scenario(SCENARIO_DIR / "smoke.toml")
    with pytest.raises(ScenarioError, match="no shipped scenario of that name"):
        load_scenario("no-such-scenario")


# -- TOML and YAML -------------------------------------------------------------------------------

TOML = """
    name = "both"
    seed = 7
    duration = 30.5
    acceleration = 60
    start_time = 2026-06-01T08:00:00+02:00
    station_prefix = "T"

    [csms]
    url = "wss://csms.example:443/ocpp/"
    password = "correct horse battery"

    [[fleet]]
    model = "home"
    count = 5
    versions = { "ocpp1.6" = 2, "ocpp2.1" = 0.5 }

    [[fleet]]
    model = "dc_150"
    vendor = "acme"
    count = 1
    versions = { "ocpp2.0.1" = 1 }
    evses = 2
    max_power_kw = 150
    meter_interval = 30
    heartbeat_interval = 600

    [arrivals]
    per_evse_per_hour = 1.5
    profile = [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4]

    [sessions]
    energy_kwh_sd = 0
    authorize = false
    id_tags = 10

    [faults]
    drop_per_hour = 2
    resend_probability = 0.25
    reconnect_backoff_min = 2
    reconnect_backoff_max = 2

    [output]
    dir = "out/{name}/{seed:03d}"
"""

YAML = """
    name: both
    seed: 7
    duration: 30.5
    acceleration: 60
    start_time: 2026-06-01T08:00:00+02:00
    station_prefix: T
    csms:
      url: wss://csms.example:443/ocpp/
      password: correct horse battery
      api_url: null
    fleet:
      - model: home
        count: 5
        versions: {ocpp1.6: 2, ocpp2.1: 0.5}
        heartbeat_interval: null
      - model: dc_150
        vendor: acme
        count: 1
        versions:
          ocpp2.0.1: 1
        evses: 2
        max_power_kw: 150
        meter_interval: 30
        heartbeat_interval: 600
    arrivals:
      per_evse_per_hour: 1.5
      profile: [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4]
    sessions:
      energy_kwh_sd: 0
      authorize: no
      id_tags: 10
    faults:
      drop_per_hour: 2
      resend_probability: 0.25
      reconnect_backoff_min: 2
      reconnect_backoff_max: 2
    output:
      dir: "out/{name}/{seed:03d}"
"""


@pytest.mark.parametrize("yaml_suffix", [".yaml", ".yml"])
def test_toml_and_yaml_give_the_same_scenario(tmp_path: Path, yaml_suffix: str) -> None:
    from_toml = load_scenario(write(tmp_path, "a.toml", TOML))
    from_yaml = load_scenario(write(tmp_path, "b" + yaml_suffix, YAML))
    assert from_toml == from_yaml
    s = from_toml
    assert s.name == "both"
    assert s.start_time == "2026-06-01T08:00:00+02:00"
    assert s.start == datetime(2026, 6, 1, 6, tzinfo=UTC)
    assert s.start.hour == 8  # the profile hour is read in the offset given
    assert s.fleet[0].versions == {"ocpp1.6": 2.0, "ocpp2.0.1": 0.0, "ocpp2.1": 0.5}
    assert s.fleet[0].heartbeat_interval is None
    assert s.fleet[1].heartbeat_interval == 600
    assert s.sessions.authorize is False
    assert s.csms.station_url("T-home-00000") == "wss://csms.example:443/ocpp/T-home-00000"
    assert s.output_dir == Path("out/both/007")
    assert s.stations == 6


def test_the_shipped_yaml_is_read_as_safe_load_reads_it() -> None:
    path = SCENARIO_DIR / "depot.yaml"
    assert load_scenario(path) == parse_scenario(yaml.safe_load(path.read_text()), name="depot")


# -- defaults and derived values -----------------------------------------------------------------


def test_defaults() -> None:
    s = parse_scenario(MINIMAL, name="mini")
    assert s.name == "mini"
    assert (s.seed, s.acceleration, s.workers, s.station_prefix) == (1, 1.0, 1, "SIM")
    assert s.start_time == "2026-06-01T06:00:00Z"
    assert s.csms == Csms(url="ws://127.0.0.1:9000/ocpp")
    assert (s.csms.password, s.csms.api_url, s.csms.api_token) == (None, None, None)
    home = s.fleet[0]
    assert (home.vendor, home.evses, home.max_power_kw, home.meter_interval) == (
        "voltmesh-sim",
        1,
        22.0,
        60.0,
    )
    assert home.heartbeat_interval is None
    assert s.arrivals == Arrivals(per_evse_per_hour=0.5, profile=DEFAULT_PROFILE)
    assert s.sessions == Sessions(
        energy_kwh_mean=20,
        energy_kwh_sd=8,
        dwell_minutes_mean=120,
        battery_kwh=60,
        ev_max_power_kw=11,
        taper_soc=0.8,
        id_tags=100,
        id_tag_prefix="SIMTAG",
        authorize=True,
    )
    assert s.faults == Faults(reconnect_backoff_min=1, reconnect_backoff_max=30)
    assert s.faults.offline_seconds == 300
    assert s.output == Output(dir="sim-results/{name}-{seed}")
    assert s.stations == 5
    assert s.station_id("home", 2) == "SIM-home-00002"
    assert s.sessions.id_tag(7) == "SIMTAG00007"
    assert s.sessions.all_id_tags()[0] == "SIMTAG00000"
    assert len(s.sessions.all_id_tags()) == 100


def test_name_in_the_file_wins_over_the_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path, "stem.toml", 'name = "named"\n' + MINIMAL_TOML)
    assert load_scenario(path).name == "named"
    assert load_scenario(write(tmp_path, "stem2.toml", MINIMAL_TOML)).name == "stem2"


MINIMAL_TOML = """
duration = 10
[[fleet]]
model = "m"
count = 2
versions = { "ocpp1.6" = 1 }
"""


def test_the_default_profile_has_a_morning_and_an_evening_peak() -> None:
    s = parse_scenario(MINIMAL, name="x")
    weights = [s.profile_weight(h) for h in range(24)]
    assert math.isclose(sum(weights) / 24, 1.0)
    assert max(weights[6:12]) > 1.5 * weights[3]
    assert max(weights[16:21]) > 1.5 * weights[13]
    assert weights[3] < 0.5


@pytest.mark.parametrize("scale", [1, 0.01, 100])
def test_profile_weights_are_normalised_to_a_mean_of_one(scale: float) -> None:
    profile = [scale * (h + 1) for h in range(24)]
    s = parse_scenario(changed(("arrivals.profile", profile)), name="x")
    assert math.isclose(sum(s.profile_weight(h) for h in range(24)), 24)
    assert math.isclose(s.profile_weight(0), 1 / 12.5)
    assert math.isclose(s.arrivals.rate(23), 0.5 * 24 / 12.5)
    with pytest.raises(ValueError, match="hour"):
        s.profile_weight(24)


def test_output_dir_formatting() -> None:
    assert parse_scenario(MINIMAL, name="x").output_dir == Path("sim-results/x-1")
    s = parse_scenario(changed(("seed", 42), ("output.dir", "/tmp/r/{seed:05d}_{name}")), name="y")
    assert s.output_dir == Path("/tmp/r/00042_y")
    assert parse_scenario(changed(("output.dir", "fixed")), name="z").output_dir == Path("fixed")


def test_start_time_spellings() -> None:
    for given, normal in [
        ("2026-06-01T06:00:00Z", "2026-06-01T06:00:00Z"),
        ("2026-06-01t06:00:00z", "2026-06-01T06:00:00Z"),
        ("2026-06-01 06:00:00+00:00", "2026-06-01T06:00:00Z"),
        ("2026-06-01T06:00:00.250-05:00", "2026-06-01T06:00:00.250000-05:00"),
        (datetime(2026, 6, 1, 6, tzinfo=UTC), "2026-06-01T06:00:00Z"),
    ]:
        assert parse_scenario(changed(("start_time", given)), name="x").start_time == normal


def test_the_longest_station_id_may_have_64_characters() -> None:
    # SIM-home-00002: the prefix, '-', a 4-character model, '-', 5 digits.
    fits = "P" * (64 - len("-home-00002"))
    s = parse_scenario(changed(("station_prefix", fits)), name="x")
    assert len(s.station_id("home", 2)) == 64
    with pytest.raises(ScenarioError, match=r"^station_prefix: makes station ids too long"):
        parse_scenario(changed(("station_prefix", fits + "P")), name="x")
    # A model with 100,000 stations needs a sixth digit.
    with pytest.raises(ScenarioError, match=r"^station_prefix: .* 65 characters"):
        parse_scenario(changed(("station_prefix", fits), ("fleet.0.count", 100_001)), name="x")


def test_a_scenario_survives_pickling() -> None:
    # Worker processes receive it.
    s = load_scenario(SCENARIO_DIR / "smoke.toml")
    assert pickle.loads(pickle.dumps(s)) == s
    error = ScenarioError.at("fleet[0].count", "must be >= 1, got 0")
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.field, again.problem) == (str(error), error.field, error.problem)


def test_direct_construction_is_validated_too() -> None:
    with pytest.raises(ScenarioError, match=r"^count: must be >= 1, got 0"):
        StationModel(model="m", count=0, versions={"ocpp1.6": 1})
    with pytest.raises(ScenarioError, match=r"^workers: must be <= the number of stations"):
        Scenario(
            name="x",
            duration=1,
            workers=3,
            fleet=(StationModel(model="m", count=2, versions={"ocpp1.6": 1}),),
        )


def test_a_copy_with_changes_is_validated() -> None:
    # The tables are dataclasses: `dataclasses.replace` builds a new one through the same checks.
    s = load_scenario(SCENARIO_DIR / "smoke.toml")
    copied = dataclasses.replace(s, csms=dataclasses.replace(s.csms, api_url="http://h:1"))
    assert (copied.csms.api_url, copied.csms.url, copied.fleet) == (
        "http://h:1",
        s.csms.url,
        s.fleet,
    )
    with pytest.raises(ScenarioError, match=r"^workers: must be >= 1, got 0$"):
        dataclasses.replace(s, workers=0)
    with pytest.raises(ScenarioError, match=r"^unknown field colour$"):
        Csms(colour="red")  # type: ignore[call-arg]


def test_misspelt_keys_are_named_before_the_values_they_leave_missing() -> None:
    data = changed(("duratoin", 10), ("duration", _DELETE))
    with pytest.raises(
        ScenarioError, match=r"^unknown field duratoin \(did you mean duration\?\)$"
    ):
        parse_scenario(data, name="x")


# -- mistakes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(changed(("colour", "red")), "unknown field colour", id="unknown-top"),
        pytest.param(
            changed(("fleet.0.colour", "red")), "unknown field fleet[0].colour", id="unknown-fleet"
        ),
        pytest.param(
            changed(("faults.drop_per_hr", 1)),
            "unknown field faults.drop_per_hr (did you mean drop_per_hour?)",
            id="unknown-nested-typo",
        ),
        pytest.param(
            changed(("fleet.1.count", "ten")),
            "fleet[1].count: must be an integer, got 'ten'",
            id="wrong-type",
        ),
        pytest.param(
            changed(("fleet.0.count", 2.0)),
            "fleet[0].count: must be an integer, got 2.0",
            id="float-for-int",
        ),
        pytest.param(
            changed(("workers", True)), "workers: must be an integer, got True", id="bool-for-int"
        ),
        pytest.param(
            changed(("sessions.authorize", "yes")),
            "sessions.authorize: must be true or false, got 'yes'",
            id="string-for-bool",
        ),
        pytest.param(
            changed(("duration", math.inf)), "duration: must be a finite number", id="infinite"
        ),
        pytest.param(
            changed(("faults.drop_per_hour", -1)),
            "faults.drop_per_hour: must be >= 0, got -1",
            id="negative-rate",
        ),
        pytest.param(
            changed(("fleet.0.versions", {})),
            "fleet[0].versions: at least one weight must be > 0",
            id="empty-versions",
        ),
        pytest.param(
            changed(("fleet.1.versions", {"ocpp2.0.1": -1, "ocpp2.1": 1})),
            "fleet[1].versions: weights must be non-negative numbers",
            id="negative-weight",
        ),
        pytest.param(
            changed(("fleet.1.versions", {"ocpp2.0.1": "1"})),
            "fleet[1].versions: weights must be non-negative numbers",
            id="string-weight",
        ),
        pytest.param(
            changed(("fleet.0.versions", {"ocpp1.5": 1})),
            "fleet[0].versions: unknown version 'ocpp1.5'",
            id="bad-version-key",
        ),
        pytest.param(
            changed(("arrivals.profile", [1.0] * 23)),
            "arrivals.profile: must have 24 entries (one per hour), got 23",
            id="profile-23",
        ),
        pytest.param(
            changed(("arrivals.profile", [0] * 24)),
            "arrivals.profile: at least one weight must be > 0",
            id="profile-zero",
        ),
        pytest.param(
            changed(("arrivals.profile", [1] * 23 + [-1])),
            "arrivals.profile: weights must be non-negative numbers",
            id="profile-negative",
        ),
        pytest.param(
            changed(("sessions.taper_soc", 0)),
            "sessions.taper_soc: must be > 0 and <= 1, got 0",
            id="taper-soc-0",
        ),
        pytest.param(
            changed(("sessions.energy_kwh_mean", 80)),
            "sessions.energy_kwh_mean: must be <= battery_kwh (60), got 80",
            id="energy-over-battery",
        ),
        pytest.param(
            changed(("faults.reconnect_backoff_min", 10), ("faults.reconnect_backoff_max", 5)),
            "faults.reconnect_backoff_min: must be <= reconnect_backoff_max (5), got 10",
            id="backoff-min-over-max",
        ),
        pytest.param(
            changed(("faults.resend_probability", 1.5)),
            "faults.resend_probability: must be between 0 and 1, got 1.5",
            id="probability",
        ),
        pytest.param(
            changed(("csms.url", "http://127.0.0.1:9000/ocpp")),
            "csms.url: must start with ws:// or wss://",
            id="bad-url-scheme",
        ),
        pytest.param(
            changed(("csms.url", "ws://127.0.0.1:9000/ocpp?x=1")),
            "csms.url: must not have a query or fragment",
            id="url-query",
        ),
        pytest.param(
            changed(("csms.api_url", "ws://127.0.0.1:8080")),
            "csms.api_url: must start with http:// or https://",
            id="bad-api-url",
        ),
        pytest.param(
            changed(("csms.api_token", "t")), "csms.api_token: needs api_url", id="token-no-api"
        ),
        pytest.param(
            changed(("station_prefix", "S" * 60)),
            "station_prefix: makes station ids too long: 'SSSS",
            id="prefix-too-long",
        ),
        pytest.param(
            changed(("station_prefix", "a/b")),
            "station_prefix: must be one or more of",
            id="prefix-bad-char",
        ),
        pytest.param(
            changed(("sessions.id_tag_prefix", "T" * 16)),
            "sessions.id_tag_prefix: makes id tags too long",
            id="id-tag-too-long",
        ),
        pytest.param(changed(("duration", _DELETE)), "duration: missing", id="missing-duration"),
        pytest.param(changed(("fleet", _DELETE)), "fleet: missing", id="missing-fleet"),
        pytest.param(
            changed(("fleet", [])), "fleet: must list at least one station model", id="empty-fleet"
        ),
        pytest.param(
            changed(("fleet.1.versions", _DELETE)),
            "fleet[1].versions: missing",
            id="missing-versions",
        ),
        pytest.param(
            changed(("fleet.1.model", "home")),
            "fleet[1].model: duplicate model 'home'",
            id="duplicate-model",
        ),
        pytest.param(
            changed(("fleet.0.model", "has space")),
            "fleet[0].model: must be 1-20 characters",
            id="model-chars",
        ),
        pytest.param(
            changed(("fleet.0.model", "m" * 21)),
            "fleet[0].model: must be 1-20 characters",
            id="model-length",
        ),
        pytest.param(
            changed(("fleet.0.vendor", "v" * 21)),
            "fleet[0].vendor: must be 1-20 printable ASCII characters",
            id="vendor-length",
        ),
        pytest.param(
            changed(("fleet.0.evses", 9)), "fleet[0].evses: must be between 1 and 8", id="evses"
        ),
        pytest.param(
            changed(("fleet.0.heartbeat_interval", 0)),
            "fleet[0].heartbeat_interval: must be > 0, got 0",
            id="heartbeat",
        ),
        pytest.param(
            changed(("acceleration", 0.5)), "acceleration: must be >= 1, got 0.5", id="slow-motion"
        ),
        pytest.param(
            changed(("workers", 6)),
            "workers: must be <= the number of stations (5), got 6",
            id="workers-over-stations",
        ),
        pytest.param(
            changed(("start_time", "2026-06-01T06:00:00")),
            "start_time: must be an RFC 3339 date-time",
            id="start-no-offset",
        ),
        pytest.param(
            changed(("start_time", datetime(2026, 6, 1, 6))),
            "start_time: needs a UTC offset",
            id="start-local-datetime",
        ),
        pytest.param(
            changed(("start_time", "2026-02-30T06:00:00Z")),
            "start_time: day is out of range",
            id="start-bad-day",
        ),
        pytest.param(
            changed(("output.dir", "out/{station}")),
            "output.dir: unknown placeholder {station}; use {name} and {seed}",
            id="output-placeholder",
        ),
        pytest.param(
            changed(("output.dir", "out/{name:d}")),
            "output.dir: bad format string",
            id="output-format-spec",
        ),
        pytest.param(changed(("faults", [1])), "faults: must be a table, got a list", id="table"),
        pytest.param(
            changed(("fleet", {"model": "m"})), "fleet: must be a list of tables", id="fleet-table"
        ),
        pytest.param(
            changed(("fleet.0", "home")), "fleet[0]: must be a table, got 'home'", id="fleet-item"
        ),
        pytest.param(
            changed(("name", "a/b")),
            "name: must be a non-empty printable name without / or \\",
            id="name",
        ),
    ],
)
def test_a_mistake_names_its_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, name="x")
    assert str(caught.value).startswith(message), str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_an_error_carries_its_field() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(changed(("fleet.1.evses", 0)), name="x")
    assert caught.value.field == "fleet[1].evses"
    assert caught.value.problem == "must be between 1 and 8, got 0"


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        pytest.param("bad.toml", "duration = = 1\n", "bad.toml: not valid TOML: ", id="toml"),
        pytest.param(
            "bad.toml", "duration = 1\nduration = 2\n", "bad.toml: not valid TOML: ", id="toml-dup"
        ),
        pytest.param("bad.yaml", "duration: [1\n", "bad.yaml: not valid YAML: ", id="yaml"),
        pytest.param(
            "dup.yaml",
            "duration: 1\nfleet: []\nduration: 2\n",
            "dup.yaml: line 3: duplicate key 'duration'",
            id="yaml-duplicate-key",
        ),
        pytest.param(
            "list.yaml", "- duration: 1\n", "a scenario must be a table at the top", id="yaml-list"
        ),
        pytest.param(
            "empty.yaml", "", "a scenario must be a table at the top, got nothing", id="empty"
        ),
        pytest.param(
            "keys.yaml", "1: x\n", "scenario: keys must be strings, got 1", id="yaml-int-key"
        ),
        pytest.param(
            "bad.json", "{}", "a scenario file must end in .toml, .yaml or .yml", id="suffix"
        ),
        pytest.param("latin1.toml", b"name = '\xe9'", "cannot read the scenario", id="encoding"),
    ],
)
def test_a_file_that_cannot_be_parsed(
    tmp_path: Path, file: str, text: str | bytes, message: str
) -> None:
    path = tmp_path / file
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(ScenarioError, match=re.escape(message)) as caught:
        load_scenario(path)
    assert caught.value.field is None or message.startswith(caught.value.field)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read the scenario"):
        load_scenario(tmp_path / "nope.toml")


# -- command-line overrides ----------------------------------------------------------------------


def test_overrides_win() -> None:
    s = load_scenario(
        SCENARIO_DIR / "smoke.toml",
        url="wss://csms.example/ocpp",
        output="elsewhere/{name}-{seed}",
        duration=2.5,
        workers=3,
        seed=9,
    )
    assert s.csms.url == "wss://csms.example/ocpp"
    # The file's api_url is its own central system's: not the one --url names.
    assert s.csms.api_url is None
    assert (s.duration, s.workers, s.seed) == (2.5, 3, 9)
    assert s.output_dir == Path("elsewhere/smoke-9")
    # Not given: the file's values.
    assert load_scenario(SCENARIO_DIR / "smoke.toml", seed=None).seed == 1


def test_a_seed_override_moves_the_default_output_dir() -> None:
    assert load_scenario(SCENARIO_DIR / "city.toml", seed=3).output_dir == Path(
        "sim-results/city-3"
    )


def test_an_override_supplies_a_missing_duration(tmp_path: Path) -> None:
    path = write(tmp_path, "x.toml", MINIMAL_TOML.replace("duration = 10\n", ""))
    with pytest.raises(ScenarioError, match=r"^duration: missing$"):
        load_scenario(path)
    assert load_scenario(path, duration=4).duration == 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"workers": 0}, "--workers: must be >= 1, got 0", id="workers"),
        pytest.param(
            {"workers": 51},
            "--workers: must be <= the number of stations (50), got 51",
            id="workers-over-stations",
        ),
        pytest.param({"duration": 0.0}, "--duration: must be > 0, got 0", id="duration"),
        pytest.param({"duration": -3}, "--duration: must be > 0, got -3", id="negative-duration"),
        pytest.param({"seed": -1}, "--seed: must be >= 0, got -1", id="seed"),
        pytest.param({"url": "http://x/ocpp"}, "--url: must start with ws:// or wss://", id="url"),
        pytest.param({"url": "ws://"}, "--url: needs a host", id="url-host"),
        pytest.param({"url": "ws://h:99999/"}, "--url: not a URL", id="url-port"),
        pytest.param({"output": "r/{x}"}, "--output: unknown placeholder {x}", id="output"),
        pytest.param({"output": "r/{seed:s}"}, "--output: bad format string", id="output-spec"),
        pytest.param({"output": ""}, "--output: must not be empty", id="output-empty"),
    ],
)
def test_overrides_are_validated_and_name_the_option(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(SCENARIO_DIR / "smoke.toml", **options)
    assert str(caught.value).startswith(message), str(caught.value)


def test_file_errors_still_name_the_file_field_when_no_option_is_given(tmp_path: Path) -> None:
    path = write(tmp_path, "x.toml", "workers = 0\n" + MINIMAL_TOML)
    with pytest.raises(ScenarioError, match=r"^workers: must be >= 1, got 0$"):
        load_scenario(path)
    # ...and an option that fixes it wins.
    assert load_scenario(path, workers=2).workers == 2


def test_a_behaviour_refuses_only_what_has_a_refusal() -> None:
    """``reject`` names actions whose answer has a refusal status; a typo is an error, not a
    behaviour that silently does nothing."""
    s = parse_scenario(
        changed(("fleet.0.behaviour.reject", ["ReserveNow", "UpdateFirmware"])), name="x"
    )
    assert s.fleet[0].behaviour.reject == ("ReserveNow", "UpdateFirmware")
    with pytest.raises(ScenarioError, match=r"reject.*must be one of .*ReserveNow"):
        parse_scenario(changed(("fleet.0.behaviour.reject", ["ReserveNOw"])), name="x")
