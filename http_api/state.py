"""Typed application state of the API (aiohttp ``AppKey``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.events import EventBus
from csms.station.router import CommandRouter
from gateway.directory import StationDirectory
from http_api.throttle import LoginThrottle
from persistence.reads import Reads
from persistence.status_store import StatusStore


@dataclass(slots=True)
class ApiState:
    """What the API handlers use."""

    engine: AsyncEngine
    """Main store (writes)."""
    reads: Reads
    """Reads of the main store (through the engine: listings can be long)."""
    status: StatusStore
    """Status store (connectors, presence)."""
    router: CommandRouter
    """Sends CSMS-initiated calls wherever the station is connected."""
    directory: StationDirectory
    """Stations connected to this node (to refresh their actors after an edit)."""
    command_timeout: float
    """Default seconds a command waits for the charger."""
    api_token: str | None
    """The service credential (admin role); None: only users' access tokens are accepted."""
    token_secret: bytes
    """Signs and verifies operators' access tokens (HS256)."""
    token_ttl: int
    """Seconds an access token stays valid."""
    station_changed: Callable[[str, bool], None]
    """(station, deleted): an operator changed a station; every member drops its remembered
    credentials and refreshes its actor (or closes its socket, when deleted)."""
    id_token_changed: Callable[[str], None]
    """Every member drops a cached id token after it changes."""
    metrics: CollectorRegistry
    """What /metrics exposes."""
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    """Failed logins by user name and peer address."""
    writes_failing: Callable[[], bool] = lambda: False
    """Whether the main store's writes fail now (a full disk, a lost database): not ready."""
    ready: bool = False
    """Readiness: stores migrated, writer running, OCPP listener bound, not draining."""
    events: EventBus = field(default_factory=EventBus)
    """This member's operator events (``GET /api/v1/events``)."""
    public_url: str | None = None
    """Origin stations reach the API at (upload URLs); None: the origin of the operator's request."""
    data_dir: Path | None = None
    """The node's data directory (what stations upload is kept under it); None: uploads refused."""


API_STATE = web.AppKey("api_state", ApiState)
