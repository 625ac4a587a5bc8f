"""What a fleet run simulates: a scenario file (TOML or YAML), loaded into a validated `Scenario`.

A scenario names the central system to drive, the fleet (stations per model and their OCPP version
mix), the EV traffic, the faults to inject and where the results go. Files are TOML (``.toml``,
read with the standard library) or YAML (``.yaml`` / ``.yml``, read with PyYAML's ``safe_load``);
both hold the same tables::

    name, seed, duration, acceleration, start_time, workers, station_prefix
    [csms]      url, password, api_url, api_token
    [[fleet]]   model, vendor, count, versions, evses, max_power_kw, meter_interval,
                heartbeat_interval
    [arrivals]  per_evse_per_hour, profile
    [sessions]  energy_kwh_mean, energy_kwh_sd, dwell_minutes_mean, battery_kwh, ev_max_power_kw,
                taper_soc, id_tags, id_tag_prefix, authorize
    [faults]    drop_per_hour, reboot_per_hour, offline_per_hour, offline_seconds,
                resend_probability, malformed_per_hour, schema_violation_per_hour,
                reconnect_backoff_min, reconnect_backoff_max
    [output]    dir

Times are seconds unless the name says otherwise. *Simulated* times (meter and heartbeat intervals,
offline spells) run ``acceleration`` times faster than the wall clock; ``duration`` and the
reconnect backoff are wall-clock seconds.

Every mistake is a `ScenarioError` naming the field by its path (``fleet[1].versions: weights must
be non-negative numbers``), and unknown keys are errors so that a misspelt field cannot be silently
ignored. Values given on the command line override the file and are checked the same way; their
errors name the option (``--workers: must be >= 1, got 0``).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import re
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

VERSIONS: Final = ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")
"""The OCPP versions a simulated station can speak, by websocket subprotocol name."""

SCENARIO_DIR: Final = Path(__file__).resolve().parent.parent / "scenarios"
"""The scenarios shipped with voltmesh (``sim/scenarios``)."""

SUFFIXES: Final = (".toml", ".yaml", ".yml")
"""File suffixes `load_scenario` reads: TOML, or YAML for the other two."""

DEFAULT_PROFILE: Final = (
    0.15, 0.1, 0.1, 0.1, 0.15, 0.3, 0.7, 1.3, 1.6, 1.3, 1.0, 0.9,
    1.0, 1.0, 0.9, 1.0, 1.3, 1.7, 1.9, 1.7, 1.3, 0.9, 0.5, 0.3,
)  # fmt: skip
"""Arrival weights per hour of the simulated day, 00:00 first: quiet at night, a morning peak
(08:00 - 09:00, people arriving at work) and a higher evening peak (17:00 - 19:00, home)."""

# What the server accepts as a charge point identity (transport/websocket.py, `_IDENTITY`).
_STATION_ID = re.compile(r"^[A-Za-z0-9._~:*@+\-]{1,64}$")
_STATION_PREFIX = re.compile(r"^[A-Za-z0-9._~:*@+\-]+$")
_MODEL = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
# Id tags travel in REST paths (/api/v1/id-tags/{id_tag}): keep them URL-safe.
_ID_TAG_PREFIX = re.compile(r"^[A-Za-z0-9._-]+$")
# OCPP 1.6 IdToken and chargePointVendor are CiString20; 2.0.1 allows more, 1.6 is the bound.
_CISTRING20: Final = 20
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_OUTPUT_FIELDS: Final = ("name", "seed")


class ScenarioError(ValueError):
    """A scenario that cannot be run. The message names the field by its path (``fleet[0].count``)
    or the command-line option that set it (``--workers``)."""

    field: str | None
    """The field's path or the option; None when the whole file is at fault (unreadable,
    unparsable)."""
    problem: str
    """The message without the field."""

    def __init__(self, message: str, *, field: str | None = None, problem: str | None = None):
        super().__init__(message)
        self.field = field
        self.problem = message if problem is None else problem

    @classmethod
    def at(cls, field: str, problem: str) -> ScenarioError:
        """``{field}: {problem}``."""
        return cls(f"{field}: {problem}", field=field, problem=problem)

    def moved(self, field: str) -> ScenarioError:
        """The same problem, reported at another path (a nested table's field, or an option)."""
        return ScenarioError.at(field, self.problem)


# -- the scenario --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Csms:
    """The central system under test (``[csms]``)."""

    url: str = "ws://127.0.0.1:9000/ocpp"
    """OCPP websocket endpoint, ``ws://`` or ``wss://``; a station connects to the URL followed by
    ``/`` and its id (`station_url`). No query, fragment or credentials in it."""
    password: str | None = None
    """Basic auth password (security profile 1 / 2); the username is the station id. None: no
    Authorization header."""
    api_url: str | None = None
    """Base of the REST API, ``http://`` or ``https://`` (e.g. ``http://127.0.0.1:8080``). If set,
    the simulator registers its id tags there (``PUT /api/v1/id-tags/{id_tag}``) before the run;
    if not, the central system must already accept them."""
    api_token: str | None = None
    """Bearer token for the REST API; needs ``api_url``."""

    def __post_init__(self) -> None:
        _check_url(self.url, "url", ("ws", "wss"))
        if self.api_url is not None:
            _check_url(self.api_url, "api_url", ("http", "https"))
        for name in ("password", "api_token"):
            if getattr(self, name) == "":
                raise ScenarioError.at(name, "must not be empty (leave it out for none)")
        if self.api_token is not None and self.api_url is None:
            raise ScenarioError.at("api_token", "needs api_url")

    def station_url(self, station_id: str) -> str:
        """The websocket URL a station connects to: ``url`` + ``/`` + id."""
        return f"{self.url.rstrip('/')}/{station_id}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StationModel:
    """One station model of the fleet (an entry of ``[[fleet]]``): ``count`` identical stations."""

    model: str
    """Model name, 1-20 characters of ``[A-Za-z0-9_-]``; sent as the model in BootNotification and
    part of the station ids (`Scenario.station_id`). Unique within the fleet."""
    vendor: str = "voltmesh-sim"
    """Vendor name in BootNotification: 1-20 printable ASCII characters (CiString20 in 1.6)."""
    count: int
    """Stations of this model, >= 1."""
    versions: dict[str, float]
    """Relative weights of the OCPP versions the stations speak: keys among ``ocpp1.6``,
    ``ocpp2.0.1`` and ``ocpp2.1``, values >= 0, at least one > 0. Each station gets one version,
    drawn from these weights and the scenario seed. After validation the mapping holds all three
    keys in that order (0.0 for those not given); do not mutate it."""
    evses: int = 1
    """EVSEs per station, 1-8; a 1.6 station has one connector per EVSE (connector ids 1..n)."""
    max_power_kw: float = 22.0
    """Most power one EVSE delivers, > 0; a session charges at the lower of this and the EV's."""
    meter_interval: float = 60.0
    """Simulated seconds between MeterValues (1.6) / TransactionEvent Updated (2.x) while
    charging, > 0."""
    heartbeat_interval: float | None = None
    """Simulated seconds between Heartbeats, > 0; None: the interval the CSMS returns at boot."""

    def __post_init__(self) -> None:
        if not _MODEL.match(self.model):
            raise ScenarioError.at(
                "model", f"must be 1-20 characters of A-Z a-z 0-9 _ -, got {self.model!r}"
            )
        if not (
            1 <= len(self.vendor) <= _CISTRING20
            and self.vendor.isascii()
            and self.vendor.isprintable()
        ):
            raise ScenarioError.at(
                "vendor", f"must be 1-20 printable ASCII characters, got {self.vendor!r}"
            )
        _at_least("count", self.count, 1)
        unknown = [key for key in self.versions if key not in VERSIONS]
        if unknown:
            raise ScenarioError.at(
                "versions", f"unknown version {unknown[0]!r}; use {', '.join(VERSIONS)}"
            )
        weights = self.versions.values()
        if not all(_is_number(w) and math.isfinite(w) and w >= 0 for w in weights):
            raise ScenarioError.at("versions", "weights must be non-negative numbers")
        if not any(w > 0 for w in weights):
            raise ScenarioError.at("versions", "at least one weight must be > 0")
        object.__setattr__(
            self, "versions", {key: float(self.versions.get(key, 0.0)) for key in VERSIONS}
        )
        if not 1 <= self.evses <= 8:
            raise ScenarioError.at("evses", f"must be between 1 and 8, got {self.evses}")
        _positive("max_power_kw", self.max_power_kw)
        _positive("meter_interval", self.meter_interval)
        if self.heartbeat_interval is not None:
            _positive("heartbeat_interval", self.heartbeat_interval)


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrivals:
    """When EVs arrive (``[arrivals]``): a Poisson process per EVSE whose rate follows the hour
    of the simulated day."""

    per_evse_per_hour: float = 0.5
    """Mean EV arrivals per EVSE per simulated hour at profile weight 1, >= 0 (0: no sessions)."""
    profile: tuple[float, ...] = DEFAULT_PROFILE
    """24 weights >= 0, one per hour of the simulated day (00:00 - 01:00 first), in the UTC offset
    of ``start_time``; not all zero. They are relative: `weight` divides by their mean, so the
    mean arrival rate over a day is ``per_evse_per_hour`` whatever the scale of the numbers."""

    def __post_init__(self) -> None:
        _at_least("per_evse_per_hour", self.per_evse_per_hour, 0)
        if len(self.profile) != 24:
            raise ScenarioError.at(
                "profile", f"must have 24 entries (one per hour), got {len(self.profile)}"
            )
        if not all(_is_number(w) and math.isfinite(w) and w >= 0 for w in self.profile):
            raise ScenarioError.at("profile", "weights must be non-negative numbers")
        if not any(w > 0 for w in self.profile):
            raise ScenarioError.at("profile", "at least one weight must be > 0")
        object.__setattr__(self, "profile", tuple(float(w) for w in self.profile))

    def weight(self, hour: int) -> float:
        """The profile weight of an hour (0-23) divided by the mean weight."""
        if not 0 <= hour < 24:
            raise ValueError(f"hour must be 0-23, got {hour}")
        return self.profile[hour] * 24 / sum(self.profile)

    def rate(self, hour: int) -> float:
        """Mean arrivals per EVSE per simulated hour during that hour of the day."""
        return self.per_evse_per_hour * self.weight(hour)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sessions:
    """What an arriving EV wants (``[sessions]``)."""

    energy_kwh_mean: float = 20.0
    """Mean energy the driver wants, kWh, > 0 and <= ``battery_kwh``."""
    energy_kwh_sd: float = 8.0
    """Its standard deviation, kWh, >= 0 (the simulator clips a draw to what the battery
    takes)."""
    dwell_minutes_mean: float = 120.0
    """Mean simulated minutes the EV stays plugged in, > 0; it leaves then even if it did not get
    its energy."""
    battery_kwh: float = 60.0
    """Battery capacity, kWh, > 0."""
    ev_max_power_kw: float = 11.0
    """Most power the EV takes, kW, > 0 (the onboard charger for AC)."""
    taper_soc: float = 0.8
    """State of charge (0 < x <= 1) above which the EV's power tapers (towards zero at full)."""
    id_tags: int = 100
    """Size of the driver pool, >= 1: each session presents one of the tags `id_tag` makes."""
    id_tag_prefix: str = "SIMTAG"
    """Id tags are ``f"{id_tag_prefix}{index:05d}"`` with index 0..``id_tags`` - 1; the prefix is
    ``[A-Za-z0-9._-]`` and the longest tag at most 20 characters (an IdToken is CiString20 in
    1.6)."""
    authorize: bool = True
    """Send Authorize before starting a session (otherwise start and let the CSMS check the
    tag in StartTransaction / TransactionEvent)."""

    def __post_init__(self) -> None:
        _positive("energy_kwh_mean", self.energy_kwh_mean)
        _at_least("energy_kwh_sd", self.energy_kwh_sd, 0)
        _positive("dwell_minutes_mean", self.dwell_minutes_mean)
        _positive("battery_kwh", self.battery_kwh)
        if self.energy_kwh_mean > self.battery_kwh:
            raise ScenarioError.at(
                "energy_kwh_mean",
                f"must be <= battery_kwh ({_num(self.battery_kwh)}), got {_num(self.energy_kwh_mean)}",
            )
        _positive("ev_max_power_kw", self.ev_max_power_kw)
        if not 0 < self.taper_soc <= 1:
            raise ScenarioError.at("taper_soc", f"must be > 0 and <= 1, got {_num(self.taper_soc)}")
        _at_least("id_tags", self.id_tags, 1)
        if not _ID_TAG_PREFIX.match(self.id_tag_prefix):
            raise ScenarioError.at(
                "id_tag_prefix",
                f"must be one or more of A-Z a-z 0-9 . _ -, got {self.id_tag_prefix!r}",
            )
        longest = self.id_tag(self.id_tags - 1)
        if len(longest) > _CISTRING20:
            raise ScenarioError.at(
                "id_tag_prefix",
                f"makes id tags too long: {longest!r} has {len(longest)} characters, OCPP 1.6 "
                f"allows {_CISTRING20}",
            )

    def id_tag(self, index: int) -> str:
        """The id tag of driver ``index`` (0..``id_tags`` - 1)."""
        return f"{self.id_tag_prefix}{index:05d}"

    def all_id_tags(self) -> list[str]:
        """The whole driver pool, in index order."""
        return [self.id_tag(i) for i in range(self.id_tags)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    """Misbehaviour to inject (``[faults]``). Rates are mean events per station per simulated
    hour (a Poisson process per station), all >= 0; 0 (the default) turns a fault off."""

    drop_per_hour: float = 0.0
    """The connection drops (no close frame); the station reconnects with backoff."""
    reboot_per_hour: float = 0.0
    """The station reboots: its sessions stop (1.6 reason Reboot, 2.x stoppedReason Reboot), it
    closes the connection, reconnects and sends BootNotification again."""
    offline_per_hour: float = 0.0
    """The station loses its connection for ``offline_seconds``; transaction messages are queued
    and replayed in order on reconnect."""
    offline_seconds: float = 300.0
    """Simulated seconds of an offline spell, > 0."""
    resend_probability: float = 0.0
    """Probability (0-1) that a CALL is sent twice with the same message id."""
    malformed_per_hour: float = 0.0
    """The station sends a frame that is not valid OCPP-J (not JSON, or not a message array)."""
    schema_violation_per_hour: float = 0.0
    """The station sends a CALL whose payload breaks the schema (e.g. a serial number that is too
    long)."""
    reconnect_backoff_min: float = 1.0
    """Reconnect delay of the first attempt, wall-clock seconds, > 0; it grows exponentially
    with each failed attempt..."""
    reconnect_backoff_max: float = 30.0
    """...up to this, wall-clock seconds, >= ``reconnect_backoff_min``."""

    def __post_init__(self) -> None:
        for name in (
            "drop_per_hour",
            "reboot_per_hour",
            "offline_per_hour",
            "malformed_per_hour",
            "schema_violation_per_hour",
        ):
            _at_least(name, getattr(self, name), 0)
        _positive("offline_seconds", self.offline_seconds)
        if not 0 <= self.resend_probability <= 1:
            raise ScenarioError.at(
                "resend_probability",
                f"must be between 0 and 1, got {_num(self.resend_probability)}",
            )
        _positive("reconnect_backoff_min", self.reconnect_backoff_min)
        if self.reconnect_backoff_min > self.reconnect_backoff_max:
            raise ScenarioError.at(
                "reconnect_backoff_min",
                f"must be <= reconnect_backoff_max ({_num(self.reconnect_backoff_max)}), "
                f"got {_num(self.reconnect_backoff_min)}",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Output:
    """Where the results go (``[output]``)."""

    dir: str = "sim-results/{name}-{seed}"
    """Directory for the summary, the sessions CSV and the report; a `str.format` template whose
    only fields are ``{name}`` and ``{seed}`` (format specs allowed: ``{seed:04d}``). A relative
    path is relative to the working directory. See `Scenario.output_dir`."""

    def __post_init__(self) -> None:
        if not self.dir.strip():
            raise ScenarioError.at("dir", "must not be empty")
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(self.dir) if f is not None]
        except ValueError as exc:
            raise ScenarioError.at("dir", f"bad format string: {exc}") from None
        for name in fields:
            if name not in _OUTPUT_FIELDS:
                raise ScenarioError.at(
                    "dir", f"unknown placeholder {{{name}}}; use {{name}} and {{seed}}"
                )


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A whole fleet run, as `load_scenario` reads it from a file. Construct it through
    `load_scenario` or `parse_scenario`; direct construction checks values but not types."""

    name: str
    """Scenario name, for the report and the output directory (default: the file's stem). No
    path separators."""
    seed: int = 1
    """Seed (>= 0) of everything random: version per station, arrivals, energy, faults. Runs with
    one scenario and seed draw the same plan."""
    duration: float
    """Wall-clock seconds of the run, > 0 (required)."""
    acceleration: float = 1.0
    """Simulated seconds per wall-clock second, >= 1: 60 plays an hour of traffic per wall-clock
    minute. Scales every simulated time (intervals, dwell, offline spells), not the backoff."""
    start_time: str = "2026-06-01T06:00:00Z"
    """The simulated clock at the start, RFC 3339 with a UTC offset (a TOML or YAML date-time is
    accepted too); normalised to ``YYYY-MM-DDTHH:MM:SS[.ffffff]`` + ``Z`` or ``+HH:MM``. The
    profile hour is read in this offset. See `start`."""
    workers: int = 1
    """Worker processes sharing the fleet, 1..`stations`."""
    station_prefix: str = "SIM"
    """Station ids are ``f"{station_prefix}-{model}-{index:05d}"``, index 0..count - 1 within
    the model (`station_id`). The prefix is characters the server accepts in an id
    (``A-Z a-z 0-9 . _ ~ : * @ + -``) and the longest id must fit in 64."""
    csms: Csms = field(default_factory=Csms)
    fleet: tuple[StationModel, ...]
    """The station models (required, at least one; models unique)."""
    arrivals: Arrivals = field(default_factory=Arrivals)
    sessions: Sessions = field(default_factory=Sessions)
    faults: Faults = field(default_factory=Faults)
    output: Output = field(default_factory=Output)

    def __post_init__(self) -> None:
        if (
            not self.name
            or self.name in (".", "..")
            or any(c in self.name for c in "/\\")
            or not self.name.isprintable()
        ):
            raise ScenarioError.at(
                "name", f"must be a non-empty printable name without / or \\, got {self.name!r}"
            )
        _at_least("seed", self.seed, 0)
        _positive("duration", self.duration)
        _at_least("acceleration", self.acceleration, 1)
        object.__setattr__(self, "start_time", _rfc3339(self.start_time, "start_time"))
        if not self.fleet:
            raise ScenarioError.at("fleet", "must list at least one station model")
        seen: set[str] = set()
        for i, model in enumerate(self.fleet):
            if model.model in seen:
                raise ScenarioError.at(f"fleet[{i}].model", f"duplicate model {model.model!r}")
            seen.add(model.model)
        _at_least("workers", self.workers, 1)
        if self.workers > self.stations:
            raise ScenarioError.at(
                "workers",
                f"must be <= the number of stations ({self.stations}), got {self.workers}",
            )
        if not _STATION_PREFIX.match(self.station_prefix):
            raise ScenarioError.at(
                "station_prefix",
                f"must be one or more of A-Z a-z 0-9 . _ ~ : * @ + -, got {self.station_prefix!r}",
            )
        longest = max((self.station_id(m.model, m.count - 1) for m in self.fleet), key=len)
        if not _STATION_ID.match(longest):
            raise ScenarioError.at(
                "station_prefix",
                f"makes station ids too long: {longest!r} has {len(longest)} characters, the "
                "server accepts 64",
            )
        try:
            self.output.dir.format(name=self.name, seed=self.seed)
        except (ValueError, TypeError) as exc:
            raise ScenarioError.at("output.dir", f"bad format string: {exc}") from None

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


# -- reading files -------------------------------------------------------------------------------


def builtin_scenarios() -> dict[str, Path]:
    """The shipped scenario files by name (file stem): ``smoke``, ``city``, ``depot``..."""
    if not SCENARIO_DIR.is_dir():
        return {}
    return {
        path.stem: path
        for path in sorted(SCENARIO_DIR.iterdir())
        if path.suffix in SUFFIXES and path.is_file()
    }


def load_scenario(
    path: str | Path,
    *,
    url: str | None = None,
    output: str | None = None,
    duration: float | None = None,
    workers: int | None = None,
    seed: int | None = None,
) -> Scenario:
    """Read and validate a scenario file; the keyword arguments are the command-line options
    (``--url``, ``--output``, ``--duration``, ``--workers``, ``--seed``), None when not given. A
    given option replaces the file's ``csms.url``, ``output.dir`` (also a template),
    ``duration``, ``workers`` or ``seed`` and is validated the same way, its errors naming the
    option. A bare name without a suffix that is not a file (``smoke``) means the shipped
    scenario of that name (`builtin_scenarios`).

    Raises `ScenarioError` for every problem, including a file that cannot be read or parsed.
    """
    path = _resolve(Path(path))
    data = _read_file(path)
    overrides: dict[str, tuple[str, object]] = {}
    for key, option, value in (
        ("csms.url", "--url", url),
        ("output.dir", "--output", output),
        ("duration", "--duration", duration),
        ("workers", "--workers", workers),
        ("seed", "--seed", seed),
    ):
        if value is not None:
            overrides[key] = (option, value)
    return _Parser(overrides).scenario(data, name=path.stem)


def parse_scenario(data: Mapping[str, Any], *, name: str) -> Scenario:
    """Validate an already parsed scenario (the tables of a TOML or YAML file); ``name`` is the
    scenario name when ``data`` has none."""
    return _Parser({}).scenario(data, name=name)


def _resolve(path: Path) -> Path:
    if path.suffix or path.exists() or len(path.parts) != 1:
        return path
    builtin = builtin_scenarios()
    if path.name in builtin:
        return builtin[path.name]
    names = ", ".join(builtin) or "none"
    raise ScenarioError(f"{path}: no such file, and no shipped scenario of that name ({names})")


def _read_file(path: Path) -> object:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ScenarioError(f"{path}: a scenario file must end in .toml, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read the scenario: {exc}") from None
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return _load_yaml(text, path)


def _load_yaml(text: str, path: Path) -> object:
    # Imported by name: PyYAML is only needed for YAML files, and it ships no type stubs.
    try:
        yaml: Any = importlib.import_module("yaml")
    except ImportError:
        raise ScenarioError(f"{path}: reading YAML needs PyYAML (pip install pyyaml)") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is not None:
            _reject_duplicate_keys(node, yaml, path)
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None


def _reject_duplicate_keys(root: Any, yaml: Any, path: Path) -> None:
    """PyYAML keeps the last of repeated keys; a repeated key is as much a typo as an unknown one."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            keys: set[object] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in keys:
                        line = key.start_mark.line + 1
                        raise ScenarioError(f"{path}: line {line}: duplicate key {key.value!r}")
                    keys.add(key.value)
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value


# -- validation ----------------------------------------------------------------------------------

_T = TypeVar("_T")
_Convert = Callable[[object, str], Any]
_D = TypeVar("_D")


class _Parser:
    """Turns parsed tables into the dataclasses. It checks types and unknown keys; the dataclasses
    check values, and their errors come back here to be prefixed with the table's path (or
    replaced by the option that set the field)."""

    def __init__(self, overrides: Mapping[str, tuple[str, object]]) -> None:
        self.overrides = overrides

    def scenario(self, data: object, *, name: str) -> Scenario:
        table = _table(data, "")
        kwargs = self.fields(
            table,
            "",
            Scenario,
            {
                "name": _str,
                "seed": _int,
                "duration": _float,
                "acceleration": _float,
                "start_time": _datetime,
                "workers": _int,
                "station_prefix": _str,
            },
            nested=("csms", "fleet", "arrivals", "sessions", "faults", "output"),
        )
        kwargs.setdefault("name", name)
        if "duration" not in kwargs:
            raise ScenarioError.at("duration", "missing")
        kwargs["csms"] = self.section(
            table,
            "csms",
            Csms,
            {"url": _str, "password": _opt_str, "api_url": _opt_str, "api_token": _opt_str},
        )
        if "fleet" not in table:
            raise ScenarioError.at("fleet", "missing")
        entries = table["fleet"]
        if not isinstance(entries, Sequence) or isinstance(entries, str | bytes):
            raise ScenarioError.at("fleet", "must be a list of tables ([[fleet]] in TOML)")
        kwargs["fleet"] = tuple(
            self.build(
                StationModel,
                self.fields(
                    _table(entry, f"fleet[{i}]"),
                    f"fleet[{i}].",
                    StationModel,
                    {
                        "model": _str,
                        "vendor": _str,
                        "count": _int,
                        "versions": _versions,
                        "evses": _int,
                        "max_power_kw": _float,
                        "meter_interval": _float,
                        "heartbeat_interval": _optional(_float),
                    },
                    required=("model", "count", "versions"),
                ),
                f"fleet[{i}].",
            )
            for i, entry in enumerate(entries)
        )
        kwargs["arrivals"] = self.section(
            table, "arrivals", Arrivals, {"per_evse_per_hour": _float, "profile": _profile}
        )
        kwargs["sessions"] = self.section(
            table,
            "sessions",
            Sessions,
            {
                "energy_kwh_mean": _float,
                "energy_kwh_sd": _float,
                "dwell_minutes_mean": _float,
                "battery_kwh": _float,
                "ev_max_power_kw": _float,
                "taper_soc": _float,
                "id_tags": _int,
                "id_tag_prefix": _str,
                "authorize": _bool,
            },
        )
        kwargs["faults"] = self.section(
            table,
            "faults",
            Faults,
            {
                name: _float
                for name in (
                    "drop_per_hour",
                    "reboot_per_hour",
                    "offline_per_hour",
                    "offline_seconds",
                    "resend_probability",
                    "malformed_per_hour",
                    "schema_violation_per_hour",
                    "reconnect_backoff_min",
                    "reconnect_backoff_max",
                )
            },
        )
        kwargs["output"] = self.section(table, "output", Output, {"dir": _str})
        return self.build(Scenario, kwargs, "")

    def section(
        self, table: Mapping[str, object], key: str, cls: type[_D], spec: Mapping[str, _Convert]
    ) -> _D:
        """A nested table that may be left out (all its fields have defaults)."""
        inner = _table(table[key], key) if key in table else {}
        return self.build(cls, self.fields(inner, f"{key}.", cls, spec), f"{key}.")

    def fields(
        self,
        table: Mapping[str, object],
        prefix: str,
        cls: Any,
        spec: Mapping[str, _Convert],
        *,
        nested: Iterable[str] = (),
        required: Iterable[str] = (),
    ) -> dict[str, Any]:
        """The converted fields of a table that it gives (or an option overrides)."""
        known = [*spec, *nested]
        assert set(known) == {f.name for f in dataclasses.fields(cls)}, cls
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                path = f"{prefix}{key}"
                raise ScenarioError(f"unknown field {path}{hint}", field=path, problem="unknown")
        kwargs: dict[str, Any] = {}
        for key, convert in spec.items():
            path = f"{prefix}{key}"
            if path in self.overrides:
                option, value = self.overrides[path]
                kwargs[key] = convert(value, option)
            elif key in table:
                kwargs[key] = convert(table[key], path)
        for key in required:
            if key not in kwargs:
                raise ScenarioError.at(f"{prefix}{key}", "missing")
        return kwargs

    def build(self, cls: Callable[..., _T], kwargs: Mapping[str, Any], prefix: str) -> _T:
        """``cls(**kwargs)``, with its errors moved to the table's path or the overriding option."""
        try:
            return cls(**kwargs)
        except ScenarioError as exc:
            path = f"{prefix}{exc.field or ''}".rstrip(".")
            override = self.overrides.get(path)
            raise exc.moved(override[0] if override else path) from None


def _table(value: object, path: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        where = f"{path}: must be a table" if path else "a scenario must be a table at the top"
        raise ScenarioError(f"{where}, got {_kind(value)}", field=path or None)
    for key in value:
        if not isinstance(key, str):
            raise ScenarioError.at(path or "scenario", f"keys must be strings, got {key!r}")
    return value


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int(value: object, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ScenarioError.at(path, f"must be an integer, got {_kind(value)}")
    return value


def _float(value: object, path: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ScenarioError.at(path, f"must be a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise ScenarioError.at(path, f"must be a finite number, got {_kind(value)}")
    return float(value)


def _str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise ScenarioError.at(path, f"must be a string, got {_kind(value)}")
    return value


def _opt_str(value: object, path: str) -> str | None:
    return None if value is None else _str(value, path)


def _bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise ScenarioError.at(path, f"must be true or false, got {_kind(value)}")
    return value


def _optional(convert: Callable[[object, str], _T]) -> Callable[[object, str], _T | None]:
    def optional(value: object, path: str) -> _T | None:
        return None if value is None else convert(value, path)

    return optional


def _versions(value: object, path: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ScenarioError.at(
            path, f'must be a table of weights like {{"ocpp1.6" = 1}}, got {_kind(value)}'
        )
    weights: dict[str, float] = {}
    for key, weight in value.items():
        if not isinstance(key, str):
            raise ScenarioError.at(path, f"keys must be version names, got {key!r}")
        if not _is_number(weight):
            raise ScenarioError.at(path, "weights must be non-negative numbers")
        weights[key] = weight
    return weights


def _profile(value: object, path: str) -> tuple[float, ...]:
    if not isinstance(value, list | tuple):
        raise ScenarioError.at(path, f"must be a list of 24 numbers, got {_kind(value)}")
    if not all(_is_number(w) for w in value):
        raise ScenarioError.at(path, "weights must be non-negative numbers")
    return tuple(value)


def _datetime(value: object, path: str) -> str:
    # TOML and YAML have date-time values of their own; a local one (no offset) is refused below.
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ScenarioError.at(
                path, f"needs a UTC offset (e.g. 2026-06-01T06:00:00Z), got {value.isoformat()}"
            )
        return value.isoformat()
    if isinstance(value, date):
        raise ScenarioError.at(path, f"must be a date and time, got the date {value.isoformat()}")
    return _str(value, path)


def _rfc3339(text: str, path: str) -> str:
    """Validate an RFC 3339 date-time; the same instant and offset in one spelling."""
    if not _RFC3339.match(text):
        raise ScenarioError.at(
            path, f"must be an RFC 3339 date-time like 2026-06-01T06:00:00Z, got {text!r}"
        )
    try:
        moment = datetime.fromisoformat(text.upper().replace(" ", "T"))
    except ValueError as exc:
        raise ScenarioError.at(path, f"{exc}, got {text!r}") from None
    normal = moment.isoformat()
    return normal[:-6] + "Z" if normal.endswith("+00:00") else normal


def _num(value: float) -> str:
    """A number as the file most likely spelt it: -1 rather than -1.0."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_url(url: str, path: str, schemes: tuple[str, str]) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError as exc:
        raise ScenarioError.at(path, f"not a URL ({exc}): {url!r}") from None
    if parts.scheme not in schemes:
        raise ScenarioError.at(
            path, f"must start with {schemes[0]}:// or {schemes[1]}://, got {url!r}"
        )
    if not parts.hostname or any(c.isspace() for c in url):
        raise ScenarioError.at(path, f"needs a host and no spaces, got {url!r}")
    if parts.username is not None or parts.password is not None:
        other = "csms.password" if path == "url" else "csms.api_token"
        raise ScenarioError.at(path, f"must not hold credentials (use {other}), got {url!r}")
    if parts.query or parts.fragment:
        raise ScenarioError.at(path, f"must not have a query or fragment, got {url!r}")


def _positive(path: str, value: float) -> None:
    if not value > 0:
        raise ScenarioError.at(path, f"must be > 0, got {_num(value)}")


def _at_least(path: str, value: float, bound: float) -> None:
    if not value >= bound:
        raise ScenarioError.at(path, f"must be >= {_num(bound)}, got {_num(value)}")
