"""Settings of a voltmesh node, read once from ``VOLTMESH_*`` variables and the command line.

Every limit has a safe default so that ``voltmesh serve`` with no flag runs on embedded SQLite under
``./data``. The command line overrides the environment, which overrides the defaults.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from csms.station.services import UnknownStationPolicy
from transport.versions import OcppVersion


class ConfigError(ValueError):
    """A setting has a value voltmesh cannot use; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    """One node's configuration. Field names map to ``VOLTMESH_<NAME>`` in upper case."""

    host: str = "0.0.0.0"
    """Address both listeners bind to."""
    ocpp_port: int = 9000
    """Port of the OCPP-J websocket listener."""
    api_port: int = 8080
    """Port of the REST API, health and metrics."""
    data_dir: Path = Path("data")
    """Where the embedded SQLite stores live."""
    database_url: str | None = None
    """Main store URL; default SQLite ``<data_dir>/voltmesh.db``."""
    status_database_url: str | None = None
    """Status store URL; default SQLite ``<data_dir>/status.db``."""
    unknown_stations: UnknownStationPolicy = UnknownStationPolicy.ACCEPT
    """Policy for stations that boot without being registered."""
    heartbeat_interval: int = 300
    """Heartbeat interval (s) handed to accepted stations."""
    boot_retry_interval: int = 300
    """Interval (s) handed with Pending/Rejected, long enough that boot-looping chargers stay calm."""
    command_timeout: float = 30.0
    """Seconds a REST command waits for the charger's answer (504 after)."""
    public_url: str | None = None
    """Origin (``https://csms.example.com``) at which stations reach the API, for the upload URLs
    voltmesh gives them (GetLog, GetDiagnostics); default: the origin of the operator's request,
    which is wrong behind a proxy that stations reach by another name."""
    # Secrets stay out of repr(), so that a logged Settings never carries them.
    api_token: str | None = field(default=None, repr=False)
    """A service credential for automation: ``Authorization: Bearer <it>`` acts with the admin role.
    An empty one is refused at start."""
    admin_password: str | None = field(default=None, repr=False)
    """Password of the ``admin`` account made on the first start with no account (none: a random
    one, written to ``<data_dir>/admin-password``, mode 0600)."""
    token_ttl: int = 3600
    """Seconds an operator's access token (``POST /api/v1/auth/token``) stays valid."""
    tls_cert: Path | None = None
    """PEM certificate (chain) of the wss listener; with ``tls_key`` it serves OCPP over TLS."""
    tls_key: Path | None = None
    """PEM private key of ``tls_cert``."""
    ocpp_tls_port: int = 9443
    """Port of the wss listener (when a certificate is given)."""
    tls_client_ca: Path | None = None
    """PEM CA certificates that issue chargers' client certificates (security profile 3)."""
    min_security_profile: int = 0
    """The security profile a station without one of its own must connect with (0-3)."""
    ca_cert: Path | None = None
    """PEM certificate of the CA that signs chargers' certificates (SignCertificate)."""
    ca_key: Path | None = None
    """PEM private key of ``ca_cert``."""
    handshake_timeout: float = 10.0
    """Seconds a connection has to complete its websocket upgrade."""
    max_pending_per_peer: int = 512
    """Connections one peer address may hold before they are authenticated and upgraded. Not
    lower: after an outage the chargers behind one NAT (a mobile operator's, a depot's) reconnect
    at once from one address; the handshake timeout and the descriptor reserve bound the rest."""
    subprotocols: tuple[OcppVersion, ...] = (OcppVersion.V21, OcppVersion.V201, OcppVersion.V16)
    """Versions offered, in order of preference (the newest a charger offers wins)."""
    default_subprotocol: OcppVersion = OcppVersion.V16
    """Version assumed for chargers that offer no Sec-WebSocket-Protocol at all."""
    ping_interval: float = 30.0
    """Seconds between server pings; a missing pong within half of it closes the socket."""
    gc_freeze: bool = True
    """Freeze long-lived objects for the garbage collector (`voltmesh.collector`), so that its
    runs never walk every connection's objects; off: Python's own collector settings."""
    gc_freeze_interval: float = 10.0
    """Seconds between freezes of the objects that survived a collection."""
    gc_full_interval: float = 3600.0
    """Seconds between full collections of every object, frozen ones included (cycles of closed
    connections are reclaimed then)."""
    max_frame_bytes: int = 1 << 20
    """Largest websocket message accepted (1009 close beyond)."""
    status_trigger_delay: float = 10.0
    """Seconds a connection may go without BootNotification before the station is asked for its
    status (TriggerMessage): a reconnect after our restart is not a reboot."""
    stale_transaction_hours: float = 72.0
    """An open transaction with no message for this long is marked stale (never deleted)."""
    node_name: str = field(default_factory=lambda: os.uname().nodename)
    """Name of this node (pod) in the cluster; its shards are members ``<node_name>/<shard>``."""
    shards: int = field(default_factory=lambda: len(os.sched_getaffinity(0)))
    """Shard processes of this node, each an event loop serving the node's ports (SO_REUSEPORT)."""
    cluster_host: str = "127.0.0.1"
    """This node's own address for the cluster's control plane (the pod IP in Kubernetes). The
    control plane unpickles what it receives: never bind it where others than voltmesh reach."""
    cluster_port: int = 1900
    """Port of this node's actor system (0: a free one)."""
    cluster_join: str | None = None
    """HOST:PORT of the leading node's actor system; None (or this node's own name as HOST's first
    label): this node leads."""
    token_secret: str | None = field(default=None, repr=False)
    """Signs operators' access tokens; shared by every node of a cluster. None: a random one in
    ``<data_dir>/token-secret``."""
    log_level: str = "INFO"
    """Python logging level."""

    @property
    def leader(self) -> tuple[str, int] | None:
        """The leading node's actor system; None when this node leads (a StatefulSet hands every
        pod the same join address, pod 0's own name among them)."""
        if self.cluster_join is None:
            return None
        host, _, port = self.cluster_join.rpartition(":")
        if host.split(".")[0] == self.node_name:
            return None
        return host, int(port)

    @property
    def main_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'voltmesh.db'}"

    @property
    def status_url(self) -> str:
        return self.status_database_url or f"sqlite+aiosqlite:///{self.data_dir / 'status.db'}"


ENV_PREFIX = "VOLTMESH_"
_OPTIONAL_PATHS = frozenset({"tls_cert", "tls_key", "tls_client_ca", "ca_cert", "ca_key"})


def _convert(name: str, raw: Any) -> Any:
    """Turn a string (environment, CLI) into the field's type, naming the setting on failure."""
    template = Settings()
    current = getattr(template, name)
    try:
        if name in (
            "database_url",
            "status_database_url",
            "admin_password",
            "cluster_join",
            "token_secret",
            "public_url",
        ):
            return raw or None
        if name == "api_token":
            if not str(raw):
                raise ValueError("an empty token would guard nothing; unset it instead")
            return str(raw)
        if name in _OPTIONAL_PATHS:
            return Path(raw) if raw else None
        if name == "min_security_profile":
            if str(raw).strip() not in ("0", "1", "2", "3"):
                raise ValueError("a security profile is 0, 1, 2 or 3")
            return int(raw)
        if name == "subprotocols":
            items = raw if isinstance(raw, tuple | list) else str(raw).split(",")
            versions = tuple(OcppVersion(str(item).strip()) for item in items if str(item).strip())
            if not versions:
                raise ValueError("empty list")
            return versions
        if isinstance(current, bool):
            return str(raw).lower() in ("1", "true", "yes", "on")
        if isinstance(current, StrEnum):
            return type(current)(str(raw).lower() if name == "unknown_stations" else raw)
        if isinstance(current, int):
            value: Any = int(raw)
        elif isinstance(current, float):
            value = float(raw)
        elif isinstance(current, Path):
            return Path(raw)
        else:
            return str(raw)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: {raw!r} is not valid ({exc})") from None
    if value <= 0 and name not in ("ocpp_port", "api_port", "ocpp_tls_port", "cluster_port"):
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: must be positive, got {raw!r}")
    if value < 0:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}: must not be negative, got {raw!r}")
    return value


def load_settings(env: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> Settings:
    """Settings from the environment, then ``overrides`` (CLI flags that were given, others None)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        raw = env.get(ENV_PREFIX + f.name.upper())
        if raw is not None:
            values[f.name] = _convert(f.name, raw)
    for name, raw in (overrides or {}).items():
        if raw is not None:
            values[name] = _convert(name, raw)
    settings = Settings(**values)
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError(f"{ENV_PREFIX}TLS_CERT and {ENV_PREFIX}TLS_KEY go together")
    if settings.public_url is not None and not settings.public_url.startswith(
        ("http://", "https://")
    ):
        raise ConfigError(
            f"{ENV_PREFIX}PUBLIC_URL: an http:// or https:// origin, got {settings.public_url!r}"
        )
    if (settings.ca_cert is None) != (settings.ca_key is None):
        raise ConfigError(f"{ENV_PREFIX}CA_CERT and {ENV_PREFIX}CA_KEY go together")
    if settings.cluster_join is not None:
        host, _, port = settings.cluster_join.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(
                f"{ENV_PREFIX}CLUSTER_JOIN: {settings.cluster_join!r} is not HOST:PORT"
            )
    if settings.cluster_host in ("0.0.0.0", "::", ""):
        raise ConfigError(
            f"{ENV_PREFIX}CLUSTER_HOST: the control plane binds this node's own address, "
            "never every interface"
        )
    try:
        ipaddress.IPv4Address(settings.cluster_host)
    except ValueError:
        # The actor system's addresses (and its convention) are IPv4 host:port pairs.
        raise ConfigError(
            f"{ENV_PREFIX}CLUSTER_HOST: {settings.cluster_host!r} is not an IPv4 address"
        ) from None
    if settings.default_subprotocol not in settings.subprotocols:
        raise ConfigError(
            f"{ENV_PREFIX}DEFAULT_SUBPROTOCOL: {settings.default_subprotocol} is not among "
            f"{ENV_PREFIX}SUBPROTOCOLS ({', '.join(settings.subprotocols)})"
        )
    return settings
