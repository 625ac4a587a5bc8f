"""What a fleet run simulates: a scenario file (TOML or YAML), loaded into a validated `Scenario`.

A scenario names the central system to drive, the fleet (stations per model and their OCPP version
mix), the EV traffic, the faults to inject and where the results go. Files are TOML (``.toml``)
or YAML (``.yaml`` / ``.yml``), read by `sim.fleet.scenario_file`; both hold the same tables::

    name, seed, duration, acceleration, start_time, workers, station_prefix
    [csms]      url, password, api_url, api_token
    [[fleet]]   model, vendor, count, versions, evses, max_power_kw, meter_interval,
                heartbeat_interval
    [fleet.behaviour]  smart_charging, reservations, local_list, display_messages,
                firmware_outcome, log_outcome, log_upload_method, step_seconds, voltage,
                phases, reject, unsupported, ignore
    [arrivals]  per_evse_per_hour, profile
    [sessions]  energy_kwh_mean, energy_kwh_sd, dwell_minutes_mean, battery_kwh, ev_max_power_kw,
                taper_soc, id_tags, id_tag_prefix, authorize
    [faults]    drop_per_hour, reboot_per_hour, offline_per_hour, offline_seconds,
                resend_probability, malformed_per_hour, schema_violation_per_hour,
                reconnect_backoff_min, reconnect_backoff_max
    [output]    dir
    [[sites]]   id, name, limit {unit, value, phases}, min_current, schedule [{start, value}],
                models, stations, priority, voltage

Times are seconds unless the name says otherwise. *Simulated* times (meter and heartbeat intervals,
offline spells) run ``acceleration`` times faster than the wall clock; ``duration`` and the
reconnect backoff are wall-clock seconds.

Each table is a frozen pydantic dataclass: types are strict (an integer field refuses 2.0 and
true, a number field refuses "1"), and unknown keys are errors so that a misspelt field cannot be
silently ignored. Every mistake is a `ScenarioError` naming the field by its path
(``fleet[1].versions: weights must be non-negative numbers``), whether the tables come from a file
or are constructed directly. Values given on the command line override the file and are checked
the same way; their errors name the option (``--workers: must be >= 1, got 0``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Final, Self

from pydantic import (
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from sim.fleet.scenario_behaviour import Behaviour
from sim.fleet.scenario_error import ScenarioError, number, scenario_error
from sim.fleet.scenario_fields import (
    AtLeastOne,
    DateTime,
    HourlyWeights,
    NonNegative,
    NotEmpty,
    Number,
    Positive,
    Probability,
    check,
    list_of_tables,
    matching,
    table,
    template,
    url_with_scheme,
    weights_of,
)
from sim.fleet.scenario_file import SCENARIO_DIR, builtin_scenarios, read_scenario_file, resolve
from sim.fleet.scenario_sites import Site

__all__ = [
    "DEFAULT_PROFILE",
    "SCENARIO_DIR",
    "VERSIONS",
    "Arrivals",
    "Csms",
    "Faults",
    "Output",
    "Scenario",
    "ScenarioError",
    "Sessions",
    "StationModel",
    "builtin_scenarios",
    "load_scenario",
    "parse_scenario",
]

VERSIONS: Final = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
"""The OCPP versions a simulated station can speak, by websocket subprotocol name."""

DEFAULT_PROFILE: Final = (
    0.15, 0.1, 0.1, 0.1, 0.15, 0.3, 0.7, 1.3, 1.6, 1.3, 1.0, 0.9,
    1.0, 1.0, 0.9, 1.0, 1.3, 1.7, 1.9, 1.7, 1.3, 0.9, 0.5, 0.3,
)  # fmt: skip
"""Arrival weights per hour of the simulated day, 00:00 first: quiet at night, a morning peak
(08:00 - 09:00, people arriving at work) and a higher evening peak (17:00 - 19:00, home)."""

# What the server accepts as a charge point identity (transport/websocket.py, `_IDENTITY`).
_STATION_ID_LENGTH: Final = 64
# OCPP 1.6 IdToken and chargePointVendor are CiString20; 2.0.1 allows more, 1.6 is the bound.
_CISTRING20: Final = 20


_WebsocketUrl = Annotated[StrictStr, url_with_scheme(("ws", "wss"), credentials="csms.password")]
_ApiUrl = Annotated[StrictStr, url_with_scheme(("http", "https"), credentials="csms.api_token")]


# -- the scenario --------------------------------------------------------------------------------


@table
class Csms:
    """The central system under test (``[csms]``)."""

    url: _WebsocketUrl = "ws://127.0.0.1:9000/ocpp"
    """OCPP websocket endpoint, ``ws://`` or ``wss://``; a station connects to the URL followed by
    ``/`` and its id (`station_url`). No query, fragment or credentials in it."""
    password: NotEmpty | None = None
    """Basic auth password (security profile 1 / 2); the username is the station id. None: no
    Authorization header."""
    api_url: _ApiUrl | None = None
    """Base of the REST API, ``http://`` or ``https://`` (e.g. ``http://127.0.0.1:8080``). If set,
    the simulator registers its id tags there (``PUT /api/v1/id-tags/{id_tag}``) before the run;
    if not, the central system must already accept them."""
    api_token: NotEmpty | None = None
    """Bearer token for the REST API; needs ``api_url``."""

    @model_validator(mode="after")
    def _token_needs_api(self) -> Self:
        if self.api_token is not None and self.api_url is None:
            raise ScenarioError.at("api_token", "needs api_url")
        return self

    def station_url(self, station_id: str) -> str:
        """The websocket URL a station connects to: ``url`` + ``/`` + id."""
        return f"{self.url.rstrip('/')}/{station_id}"


@table
class StationModel:
    """One station model of the fleet (an entry of ``[[fleet]]``): ``count`` identical stations."""

    model: Annotated[
        StrictStr, matching(r"[A-Za-z0-9_-]{1,20}", "must be 1-20 characters of A-Z a-z 0-9 _ -")
    ]
    """Model name, 1-20 characters of ``[A-Za-z0-9_-]``; sent as the model in BootNotification and
    part of the station ids (`Scenario.station_id`). Unique within the fleet."""
    vendor: Annotated[
        StrictStr, matching(r"[ -~]{1,20}", "must be 1-20 printable ASCII characters")
    ] = "voltmesh-sim"
    """Vendor name in BootNotification: 1-20 printable ASCII characters (CiString20 in 1.6)."""
    count: AtLeastOne
    """Stations of this model, >= 1."""
    versions: Annotated[dict[str, float], weights_of(VERSIONS, key="version")]
    """Relative weights of the OCPP versions the stations speak: keys among ``ocpp1.6``,
    ``ocpp2.0.1`` and ``ocpp2.1``, values >= 0, at least one > 0. Each station gets one version,
    drawn from these weights and the scenario seed. After validation the mapping holds all three
    keys in that order (0.0 for those not given); do not mutate it."""
    evses: Annotated[StrictInt, check(lambda n: 1 <= n <= 8, "must be between 1 and 8")] = 1
    """EVSEs per station, 1-8; a 1.6 station has one connector per EVSE (connector ids 1..n)."""
    max_power_kw: Positive = 22.0
    """Most power one EVSE delivers, > 0; a session charges at the lower of this and the EV's."""
    meter_interval: Positive = 60.0
    """Simulated seconds between MeterValues (1.6) / TransactionEvent Updated (2.x) while
    charging, > 0."""
    heartbeat_interval: Positive | None = None
    """Simulated seconds between Heartbeats, > 0; None: the interval the CSMS returns at boot."""
    behaviour: Behaviour = field(default_factory=Behaviour)
    """Features and faults beyond charging (`sim.fleet.scenario_behaviour`)."""


@table
class Arrivals:
    """When EVs arrive (``[arrivals]``): a Poisson process per EVSE whose rate follows the hour
    of the simulated day."""

    per_evse_per_hour: NonNegative = 0.5
    """Mean EV arrivals per EVSE per simulated hour at profile weight 1, >= 0 (0: no sessions)."""
    profile: HourlyWeights = DEFAULT_PROFILE
    """24 weights >= 0, one per hour of the simulated day (00:00 - 01:00 first), in the UTC offset
    of ``start_time``; not all zero. They are relative: `weight` divides by their mean, so the
    mean arrival rate over a day is ``per_evse_per_hour`` whatever the scale of the numbers."""

    def weight(self, hour: int) -> float:
        """The profile weight of an hour (0-23) divided by the mean weight."""
        if not 0 <= hour < 24:
            raise ValueError(f"hour must be 0-23, got {hour}")
        return self.profile[hour] * 24 / sum(self.profile)

    def rate(self, hour: int) -> float:
        """Mean arrivals per EVSE per simulated hour during that hour of the day."""
        return self.per_evse_per_hour * self.weight(hour)


@table
class Sessions:
    """What an arriving EV wants (``[sessions]``)."""

    energy_kwh_mean: Positive = 20.0
    """Mean energy the driver wants, kWh, > 0 and <= ``battery_kwh``."""
    energy_kwh_sd: NonNegative = 8.0
    """Its standard deviation, kWh, >= 0 (the simulator clips a draw to what the battery
    takes)."""
    dwell_minutes_mean: Positive = 120.0
    """Mean simulated minutes the EV stays plugged in, > 0; it leaves then even if it did not get
    its energy."""
    battery_kwh: Positive = 60.0
    """Battery capacity, kWh, > 0."""
    ev_max_power_kw: Positive = 11.0
    """Most power the EV takes, kW, > 0 (the onboard charger for AC)."""
    taper_soc: Annotated[Number, check(lambda x: 0 < x <= 1, "must be > 0 and <= 1")] = 0.8
    """State of charge (0 < x <= 1) above which the EV's power tapers (towards zero at full)."""
    id_tags: AtLeastOne = 100
    """Size of the driver pool, >= 1: each session presents one of the tags `id_tag` makes."""
    # Id tags travel in REST paths (/api/v1/id-tags/{id_tag}): keep them URL-safe.
    id_tag_prefix: Annotated[
        StrictStr, matching(r"[A-Za-z0-9._-]+", "must be one or more of A-Z a-z 0-9 . _ -")
    ] = "SIMTAG"
    """Id tags are ``f"{id_tag_prefix}{index:05d}"`` with index 0..``id_tags`` - 1; the prefix is
    ``[A-Za-z0-9._-]`` and the longest tag at most 20 characters (an IdToken is CiString20 in
    1.6)."""
    authorize: StrictBool = True
    """Send Authorize before starting a session (otherwise start and let the CSMS check the
    tag in StartTransaction / TransactionEvent)."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.energy_kwh_mean > self.battery_kwh:
            raise ScenarioError.at(
                "energy_kwh_mean",
                f"must be <= battery_kwh ({number(self.battery_kwh)}), "
                f"got {number(self.energy_kwh_mean)}",
            )
        longest = self.id_tag(self.id_tags - 1)
        if len(longest) > _CISTRING20:
            raise ScenarioError.at(
                "id_tag_prefix",
                f"makes id tags too long: {longest!r} has {len(longest)} characters, OCPP 1.6 "
                f"allows {_CISTRING20}",
            )
        return self

    def id_tag(self, index: int) -> str:
        """The id tag of driver ``index`` (0..``id_tags`` - 1)."""
        return f"{self.id_tag_prefix}{index:05d}"

    def all_id_tags(self) -> list[str]:
        """The whole driver pool, in index order."""
        return [self.id_tag(i) for i in range(self.id_tags)]


@table
class Faults:
    """Misbehaviour to inject (``[faults]``). Rates are mean events per station per simulated
    hour (a Poisson process per station), all >= 0; 0 (the default) turns a fault off."""

    drop_per_hour: NonNegative = 0.0
    """The connection drops (no close frame); the station reconnects with backoff."""
    reboot_per_hour: NonNegative = 0.0
    """The station reboots: its sessions stop (1.6 reason Reboot, 2.x stoppedReason Reboot), it
    closes the connection, reconnects and sends BootNotification again."""
    offline_per_hour: NonNegative = 0.0
    """The station loses its connection for ``offline_seconds``; transaction messages are queued
    and replayed in order on reconnect."""
    offline_seconds: Positive = 300.0
    """Simulated seconds of an offline spell, > 0."""
    resend_probability: Probability = 0.0
    """Probability (0-1) that a CALL is sent twice with the same message id."""
    malformed_per_hour: NonNegative = 0.0
    """The station sends a frame that is not valid OCPP-J (not JSON, or not a message array)."""
    schema_violation_per_hour: NonNegative = 0.0
    """The station sends a CALL whose payload breaks the schema (e.g. a serial number that is too
    long)."""
    reconnect_backoff_min: Positive = 1.0
    """Reconnect delay of the first attempt, wall-clock seconds, > 0; it grows exponentially
    with each failed attempt..."""
    reconnect_backoff_max: Number = 30.0
    """...up to this, wall-clock seconds, >= ``reconnect_backoff_min``."""

    @model_validator(mode="after")
    def _backoff_grows(self) -> Self:
        if self.reconnect_backoff_min > self.reconnect_backoff_max:
            raise ScenarioError.at(
                "reconnect_backoff_min",
                f"must be <= reconnect_backoff_max ({number(self.reconnect_backoff_max)}), "
                f"got {number(self.reconnect_backoff_min)}",
            )
        return self


@table
class Output:
    """Where the results go (``[output]``)."""

    dir: Annotated[StrictStr, template("name", "seed")] = "sim-results/{name}-{seed}"
    """Directory for the summary, the sessions CSV and the report; a `str.format` template whose
    only fields are ``{name}`` and ``{seed}`` (format specs allowed: ``{seed:04d}``). A relative
    path is relative to the working directory. See `Scenario.output_dir`."""


@table
class Scenario:
    """A whole fleet run, as `load_scenario` reads it from a file (or `parse_scenario` from its
    tables); direct construction is validated the same way."""

    name: Annotated[
        StrictStr,
        check(
            lambda name: (
                name not in ("", ".", "..")
                and not any(c in name for c in "/\\")
                and name.isprintable()
            ),
            "must be a non-empty printable name without / or \\",
        ),
    ]
    """Scenario name, for the report and the output directory (default: the file's stem). No
    path separators."""
    seed: Annotated[StrictInt, Field(ge=0)] = 1
    """Seed (>= 0) of everything random: version per station, arrivals, energy, faults. Runs with
    one scenario and seed draw the same plan."""
    duration: Positive
    """Wall-clock seconds of the run, > 0 (required)."""
    acceleration: Annotated[Number, Field(ge=1)] = 1.0
    """Simulated seconds per wall-clock second, >= 1: 60 plays an hour of traffic per wall-clock
    minute. Scales every simulated time (intervals, dwell, offline spells), not the backoff."""
    start_time: DateTime = "2026-06-01T06:00:00Z"
    """The simulated clock at the start, RFC 3339 with a UTC offset (a TOML or YAML date-time is
    accepted too); normalised to ``YYYY-MM-DDTHH:MM:SS[.ffffff]`` + ``Z`` or ``+HH:MM``. The
    profile hour is read in this offset. See `start`."""
    workers: AtLeastOne = 1
    """Worker processes sharing the fleet, 1..`stations`."""
    station_prefix: Annotated[
        StrictStr,
        matching(r"[A-Za-z0-9._~:*@+\-]+", "must be one or more of A-Z a-z 0-9 . _ ~ : * @ + -"),
    ] = "SIM"
    """Station ids are ``f"{station_prefix}-{model}-{index:05d}"``, index 0..count - 1 within
    the model (`station_id`). The prefix is characters the server accepts in an id
    (``A-Z a-z 0-9 . _ ~ : * @ + -``) and the longest id must fit in 64."""
    csms: Csms = field(default_factory=Csms)
    fleet: Annotated[
        tuple[StationModel, ...],
        list_of_tables("fleet", empty="must list at least one station model"),
    ]
    """The station models (required, at least one; models unique)."""
    arrivals: Arrivals = field(default_factory=Arrivals)
    sessions: Sessions = field(default_factory=Sessions)
    faults: Faults = field(default_factory=Faults)
    output: Output = field(default_factory=Output)
    sites: tuple[Site, ...] = ()
    """Sites of a load management run (`sim.fleet.scenario_sites`); none by default."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen: set[str] = set()
        for i, model in enumerate(self.fleet):
            if model.model in seen:
                raise ScenarioError.at(f"fleet[{i}].model", f"duplicate model {model.model!r}")
            seen.add(model.model)
        self._check_sites(seen)
        if self.workers > self.stations:
            raise ScenarioError.at(
                "workers",
                f"must be <= the number of stations ({self.stations}), got {self.workers}",
            )
        longest = max((self.station_id(m.model, m.count - 1) for m in self.fleet), key=len)
        if len(longest) > _STATION_ID_LENGTH:
            raise ScenarioError.at(
                "station_prefix",
                f"makes station ids too long: {longest!r} has {len(longest)} characters, the "
                f"server accepts {_STATION_ID_LENGTH}",
            )
        try:
            self.output.dir.format(name=self.name, seed=self.seed)
        except (ValueError, TypeError) as exc:
            raise ScenarioError.at("output.dir", f"bad format string: {exc}") from None
        return self

    def _check_sites(self, models: set[str]) -> None:
        ids: set[str] = set()
        owner: dict[str, str] = {}
        for i, site in enumerate(self.sites):
            if site.id in ids:
                raise ScenarioError.at(f"sites[{i}].id", f"duplicate site {site.id!r}")
            ids.add(site.id)
            for j, model in enumerate(site.models):
                if model not in models:
                    raise ScenarioError.at(f"sites[{i}].models[{j}]", f"no fleet model {model!r}")
            for station in self.site_members(site):
                if station in owner:
                    raise ScenarioError.at(
                        f"sites[{i}]", f"station {station!r} is already in site {owner[station]!r}"
                    )
                owner[station] = site.id

    def site_members(self, site: Site) -> list[str]:
        """The station ids of a site: every station of its models, then its named stations."""
        members = [
            self.station_id(model.model, n + 1)
            for model in self.fleet
            if model.model in site.models
            for n in range(model.count)
        ]
        return members + [s for s in site.stations if s not in members]

    def site_of(self, station_id: str) -> str | None:
        """The id of the site the station belongs to, or None."""
        for site in self.sites:
            if station_id in site.stations or any(
                self._of_model(station_id, model) for model in site.models
            ):
                return site.id
        return None

    def _of_model(self, station_id: str, name: str) -> bool:
        """Whether ``station_id`` is one of the stations of fleet model ``name`` (without listing
        them: a large fleet asks this once per station)."""
        head = f"{self.station_prefix}-{name}-"
        number = station_id[len(head) :]
        if not station_id.startswith(head) or not number.isdigit():
            return False
        model = next((m for m in self.fleet if m.model == name), None)
        return (
            model is not None
            and self.station_id(name, int(number)) == station_id
            and (1 <= int(number) <= model.count)
        )

    @property
    def stations(self) -> int:
        """Stations in the fleet (all models)."""
        return sum(model.count for model in self.fleet)

    @property
    def output_dir(self) -> Path:
        """``output.dir`` with ``{name}`` and ``{seed}`` filled in."""
        return Path(self.output.dir.format(name=self.name, seed=self.seed))

    @property
    def start(self) -> datetime:
        """``start_time`` as an aware datetime (in its own UTC offset)."""
        return datetime.fromisoformat(self.start_time)

    @property
    def simulated_duration(self) -> float:
        """Simulated seconds the run covers: ``duration * acceleration``."""
        return self.duration * self.acceleration

    def profile_weight(self, hour: int) -> float:
        """The arrival weight of an hour of the simulated day (0-23), normalised so that the
        mean over the day is 1 (`Arrivals.weight`)."""
        return self.arrivals.weight(hour)

    def station_id(self, model: str, index: int) -> str:
        """The id of station ``index`` (0..count - 1) of a model: ``{prefix}-{model}-{index:05d}``."""
        return f"{self.station_prefix}-{model}-{index:05d}"


# -- reading and overriding ----------------------------------------------------------------------

_SCENARIO: Final = TypeAdapter(Scenario)


def parse_scenario(data: Mapping[str, Any], *, name: str) -> Scenario:
    """Validate an already parsed scenario (the tables of a TOML or YAML file); ``name`` is the
    scenario name when ``data`` has none. Raises `ScenarioError`."""
    return _validate(data, name)


def load_scenario(
    path: str | Path,
    *,
    url: str | None = None,
    api_url: str | None = None,
    output: str | None = None,
    duration: float | None = None,
    workers: int | None = None,
    seed: int | None = None,
) -> Scenario:
    """Read and validate a scenario file; the keyword arguments are the command-line options
    (``--url``, ``--output``, ``--duration``, ``--workers``, ``--seed``), None when not given. A
    given option replaces the file's ``csms.url``, ``output.dir`` (also a template),
    ``duration``, ``workers`` or ``seed`` and is validated the same way, its errors naming the
    option. ``--api-url`` replaces ``csms.api_url``; a ``--url`` naming another central system
    than the file's, without ``--api-url``, drops the file's ``csms.api_url`` (it belongs to the
    file's central system: no id tags are registered then). A bare name without a suffix that is
    not a file (``smoke``) means the shipped scenario of that name (`builtin_scenarios`).

    Raises `ScenarioError` for every problem, including a file that cannot be read or parsed.
    """
    path = resolve(Path(path))
    data = read_scenario_file(path)
    options = {
        "csms.url": ("--url", url),
        "csms.api_url": ("--api-url", api_url),
        "output.dir": ("--output", output),
        "duration": ("--duration", duration),
        "workers": ("--workers", workers),
        "seed": ("--seed", seed),
    }
    given = {key: (option, value) for key, (option, value) in options.items() if value is not None}
    if isinstance(data, dict):
        csms = data.get("csms")
        if (
            url is not None
            and api_url is None
            and isinstance(csms, dict)
            and csms.get("url") != url
            and csms.get("api_url") is not None
        ):
            csms["api_url"] = None
            csms.pop("api_token", None)
        for key, (_, value) in given.items():
            _override(data, key, value)
    try:
        return _validate(data, path.stem)
    except ScenarioError as exc:
        if exc.field in given:
            raise exc.moved(given[exc.field][0]) from None
        raise


def _validate(data: object, name: str) -> Scenario:
    if isinstance(data, Mapping):
        data = {"name": name, **data}
    try:
        return _SCENARIO.validate_python(data)
    except ValidationError as exc:
        raise scenario_error(exc, Scenario) from None


def _override(data: dict[str, Any], path: str, value: object) -> None:
    """Set ``data`` at a dotted ``path``, unless a table on the way is not one (the file's mistake,
    reported by the validation)."""
    *tables, key = path.split(".")
    for name in tables:
        data = data.setdefault(name, {})
        if not isinstance(data, dict):
            return
    data[key] = value
