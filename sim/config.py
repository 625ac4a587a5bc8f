"""What a load run does: `LoadConfig`, validated on construction."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class LoadMode(enum.Enum):
    """How chargers pace their CALLs."""

    SATURATE = "saturate"
    """Closed loop: each charger sends its next CALL as soon as the previous one is answered."""
    RATE = "rate"
    """Open loop: a fixed total rate spread evenly over the chargers; latency is measured from
    the scheduled send time so a slow server cannot hide its queueing (coordinated omission)."""
    IDLE = "idle"
    """Connected and quiet: after booting, each charger sends only a Heartbeat every
    `heartbeat_interval` seconds (and answers websocket pings); with `reconnect`, a charger
    whose connection is lost comes back (see `LoadConfig.reconnect`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadConfig:
    """Parameters of one load run. Every run ends by itself after warm-up plus duration."""

    port: int
    """OCPP websocket port of the server under test."""
    host: str = "127.0.0.1"
    """Server host; must be loopback unless `allow_remote`."""
    path: str = "/ocpp/"
    """URL path before the station id: chargers connect to `ws://host:port{path}{id}`."""
    stations: int = 20
    """Number of simulated chargers."""
    workers: int = 1
    """Worker processes, each one asyncio loop; chargers are dealt round-robin."""
    prefix: str = "SIM"
    """Station ids are `{prefix}{index:06d}`."""
    mode: LoadMode = LoadMode.SATURATE
    """Pacing; see `LoadMode`."""
    rate: float | None = None
    """Rate mode: total offered CALLs per second over all chargers."""
    concurrency: int = 1
    """CALLs in flight per charger, each on its own session script. OCPP-J 1.6 section 4.1.1
    allows one; more is a stress setting."""
    warmup: float = 2.0
    """Seconds of traffic before the measured window (not measured)."""
    duration: float = 10.0
    """Seconds of the measured window."""
    connect_rate: float | None = None
    """New connections per second over the whole fleet; None means no ramp."""
    call_timeout: float = 10.0
    """Seconds a charger waits for a reply before counting a timeout."""
    boot_timeout: float = 60.0
    """Seconds the whole fleet may take to connect and boot (on top of the ramp)."""
    meter_values_per_session: int = 8
    """Periodic MeterValues between StartTransaction and StopTransaction."""
    allow_remote: bool = False
    """Allow a host that is not loopback."""
    seed: int = 1
    """Seed for the simulated meter readings; runs with one seed send the same payloads."""
    heartbeat_interval: float = 300.0
    """Idle mode: seconds between a charger's Heartbeats (the first at a random offset)."""
    open_transactions: float = 0.0
    """Idle mode: share of the chargers that start a transaction right after booting and keep it
    open (chargers spread evenly over the fleet); the ids answered are reported."""
    reconnect: bool = False
    """Idle mode: a charger whose connection is lost reconnects after a random backoff and
    sends a Heartbeat, not a BootNotification (a central system's restart is not a reboot);
    once that Heartbeat is answered the charger is back and its idle phase ends. So a run in
    which the server restarts ends when the whole fleet is back (or at the window end)."""
    reconnect_backoff: float = 1.0
    """Seconds; the n-th reconnect attempt (from 0) waits a uniform random time in
    [0, min(reconnect_backoff_max, reconnect_backoff * 2**n)] (exponential, full jitter)."""
    reconnect_backoff_max: float = 4.0
    """Seconds; the ceiling of the backoff."""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port out of range: {self.port}")
        if self.stations < 1:
            raise ValueError("stations must be at least 1")
        if not 1 <= self.workers <= self.stations:
            raise ValueError("workers must be between 1 and the number of stations")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.mode is LoadMode.RATE and (self.rate is None or self.rate <= 0):
            raise ValueError("rate mode needs a positive rate")
        if self.warmup < 0 or self.duration <= 0:
            raise ValueError("warmup must be >= 0 and duration > 0")
        if self.connect_rate is not None and self.connect_rate <= 0:
            raise ValueError("connect_rate must be positive")
        if self.call_timeout <= 0 or self.boot_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.meter_values_per_session < 0:
            raise ValueError("meter_values_per_session must be >= 0")
        if not self.path.startswith("/") or not self.path.endswith("/"):
            raise ValueError("path must start and end with '/'")
        if self.heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be positive")
        if not 0 <= self.open_transactions <= 1:
            raise ValueError("open_transactions must be between 0 and 1")
        if (self.reconnect or self.open_transactions) and self.mode is not LoadMode.IDLE:
            raise ValueError("reconnect and open_transactions need idle mode")
        if not 0 < self.reconnect_backoff <= self.reconnect_backoff_max:
            raise ValueError("need 0 < reconnect_backoff <= reconnect_backoff_max")

    def url(self, station: str) -> str:
        """Websocket URL of one charger."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}{self.path}{station}"

    def ramp_seconds(self) -> float:
        """How long the connect ramp spreads the connections."""
        if self.connect_rate is None:
            return 0.0
        return self.stations / self.connect_rate

    def opens_transaction(self, index: int) -> bool:
        """Idle mode: whether charger `index` starts a transaction after booting.

        Exactly `round_down(stations * open_transactions)` chargers of the first `stations` do,
        spread evenly (with 0.1, chargers 9, 19, 29, ...).
        """
        share = self.open_transactions
        return int((index + 1) * share + 1e-9) > int(index * share + 1e-9)
