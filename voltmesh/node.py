"""The composition root: one voltmesh node wired from its settings, started, and drained on a signal.

Start: stores migrated, writers running, supervisors up, then the API and the OCPP listener. Stop (SIGTERM,
SIGINT): refuse new chargers, close charger sockets with 1012 so they reconnect elsewhere, let the actors
finish the message in hand, flush the status store and the group-commit writer, then exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
import socket
import ssl
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from actors import ActorError, Supervisor
from cluster.bridge import ControlBridge
from cluster.member import ClusterMember, Identity, LocalEffects
from cluster.messages import (
    CommandRequest,
    ConfigurationRequest,
    Evict,
    IdTokenChanged,
    StationChanged,
)
from cluster.router import ClusterRouter
from csms.events import EventBus
from csms.handlers.features import BACKGROUND as FEATURE_LOOPS
from csms.handlers.features import OBSERVERS as FEATURE_OBSERVERS
from csms.handlers.v2 import HANDLERS as HANDLERS_V201
from csms.handlers.v2 import HANDLERS_V21
from csms.handlers.v16 import HANDLERS as HANDLERS_V16
from csms.pki.ca import CertificateAuthority, find_ca
from csms.session.actor import SessionActor
from csms.session.directory import SessionDirectory
from csms.station.admission import StationAdmission
from csms.station.charge_point import REFRESH_STATION
from csms.station.command_log import CommandLog
from csms.station.features import FeatureContext
from csms.station.ownership import StationOwnership
from csms.station.router import LocalRouter
from csms.station.services import StationServices
from csms.station.tokens import TokenCache
from gateway.connection import Close
from gateway.directory import StationDirectory
from gateway.endpoint import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_NORMAL,
    CLOSE_REPLACED,
    CLOSE_SERVICE_RESTART,
    OcppEndpoint,
)
from gateway.guard import GuardedSite, UpgradeGuard
from gateway.tls import CertificateReloader, server_context
from http_api.accounts import ensure_first_admin
from http_api.app import create_api
from http_api.metrics import NodeGauges, node_registry
from http_api.state import ApiState
from http_api.tokens import SECRET_FILE as TOKEN_SECRET_FILE
from http_api.tokens import load_or_create_secret
from persistence.database import async_url, create_engine
from persistence.ids import IdAllocator
from persistence.inline_writes import inline_writes
from persistence.leases import reclaim_leases
from persistence.members import member_seen
from persistence.migrate import migrate
from persistence.reads import EngineReads, InlineSqliteReads, hot_path_reads
from persistence.sqltypes import utcnow
from persistence.stations import get_station
from persistence.status_store import StatusStore
from persistence.transactions import mark_stale_transactions, transaction_exists
from persistence.writer import GroupCommitWriter, submit_detached
from transport.schemas import prepare as prepare_schemas
from transport.versions import OcppVersion
from voltmesh.collector import CollectorPolicy
from voltmesh.config import Settings
from voltmesh.limits import charger_capacity, raise_open_file_limit

log = logging.getLogger("voltmesh")

HANDLERS = {
    OcppVersion.V16: HANDLERS_V16,
    OcppVersion.V201: HANDLERS_V201,
    OcppVersion.V21: HANDLERS_V21,
}


def bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A listening socket; port 0 picks a free one (tests, benchmarks). ``reuse_port``: the shards
    of a node share the port, and the kernel spreads new connections among them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


@dataclass(slots=True)
class Ports:
    """Where a started node listens."""

    ocpp: int
    api: int
    ocpp_tls: int | None = None
    """The wss listener's port; None without a TLS certificate."""


class Node:
    """One voltmesh process. ``start()`` then ``stop()``; or ``serve()`` until a signal."""

    def __init__(
        self,
        settings: Settings,
        *,
        identity: Identity | None = None,
        bridge: ControlBridge | None = None,
        reuse_port: bool = False,
        stores_ready: bool = False,
    ) -> None:
        self.settings = settings
        self._stores_ready = stores_ready
        """The launcher migrated the stores and made the first admin already (a shard)."""
        self.identity = identity or Identity(f"{settings.node_name}/0", settings.node_name, 0, "")
        """This process as a cluster member (a lone node is member ``<node>/0``)."""
        self._bridge = bridge
        self._reuse_port = reuse_port
        self._write_probe: asyncio.Future[list[Any]] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.directory = StationDirectory()
        self._runners: list[web.AppRunner] = []
        self._sweeper: asyncio.Task[None] | None = None
        self.collector = CollectorPolicy(
            freeze_interval=settings.gc_freeze_interval if settings.gc_freeze else None,
            full_interval=settings.gc_full_interval,
        )
        self._tls_reloader: CertificateReloader | None = None
        self._tls_watcher: asyncio.Task[None] | None = None
        self._stopped = False
        self._publishing: set[asyncio.Task[None]] = set()
        self._feature_loops: list[asyncio.Task[None]] = []
        self.ports: Ports | None = None

    async def start(self) -> Ports:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        prepare_schemas()  # nothing opened on the message path, even at the descriptor limit
        # Before any store opens: a CA that cannot be loaded stops the start with nothing to undo.
        ca = self._certificate_authority()
        self.engine = create_engine(s.main_url)
        # Shards share the status file too; its transactions write first (upserts, updates), so
        # a deferred BEGIN waits for the lock instead of failing on a stale read.
        self.status_engine = create_engine(s.status_url)
        if not self._stores_ready:
            await prepare_stores(self.engine, self.status_engine, s)
        # The writer's own transactions, each holding the SQLite write lock from its BEGIN, so
        # shards sharing the file never fail on a read-then-write: a SQLite file's run on the
        # event loop (no thread hop per statement), anything else through an engine of its own.
        self.inline_writes = inline_writes(async_url(s.main_url))
        self.writer_engine: AsyncEngine | None = None
        if self.inline_writes is not None:
            self.writer = GroupCommitWriter(self.inline_writes)
        else:
            self.writer_engine = create_engine(s.main_url, immediate=True)
            self.writer = GroupCommitWriter(self.writer_engine)
        await self.writer.start()
        me = self.identity
        self.status = StatusStore(self.status_engine, node=me.name)
        await self.status.start()
        # Stations this member had connected when it died are not connected any more.
        await self.status.mark_node_disconnected(me.name)
        self.reads = hot_path_reads(self.engine)
        self.tokens = TokenCache(self.reads)
        self.events = EventBus(me.name)
        """The operators' live stream of this member (``GET /api/v1/events``)."""
        # Tolerant enough to ride out a few seconds of database trouble (restarts back off).
        self.session_supervisor = Supervisor(name="sessions", max_restarts=5, within_seconds=30)
        self.station_supervisor = Supervisor(
            name="stations",
            max_restarts=5,
            within_seconds=30,
            on_give_up=self._station_actor_gave_up,
        )
        # Transport actors are not restarted: a codec's state cannot be rebuilt; the charger
        # reconnects instead.
        self.connection_supervisor = Supervisor(name="connections", max_restarts=0)
        sessions = SessionDirectory(
            self.session_supervisor,
            lambda transaction_id, known: SessionActor(
                self.reads, self.writer, transaction_id, known, events=self.events
            ),
            stored=lambda transaction_id: transaction_exists(self.reads, transaction_id),
        )
        self.services = StationServices(
            reads=self.reads,
            writer=self.writer,
            status=self.status,
            ids=IdAllocator(self.writer),
            sessions=sessions,
            tokens=self.tokens,
            commands=CommandLog(self.writer),
            ca=ca,
            unknown_stations=s.unknown_stations,
            heartbeat_interval=s.heartbeat_interval,
            boot_retry_interval=s.boot_retry_interval,
            events=self.events,
        )
        self.ownership = StationOwnership(self.writer, me.name, on_moved=self._moved)
        self.admission = StationAdmission(
            self.reads,
            self.services,
            self.station_supervisor,
            HANDLERS,
            ownership=self.ownership,
            observers=FEATURE_OBSERVERS,
            status_trigger_delay=s.status_trigger_delay,
            min_security_profile=s.min_security_profile,
        )
        self.violations: Counter[str] = Counter()
        self.endpoint = OcppEndpoint(
            self.admission,
            self.directory,
            self.connection_supervisor,
            subprotocols=s.subprotocols,
            default_version=s.default_subprotocol,
            ping_interval=s.ping_interval,
            max_frame_bytes=s.max_frame_bytes,
            on_protocol_violation=self._count_violation,
            guard=UpgradeGuard(
                timeout=s.handshake_timeout,
                max_per_peer=s.max_pending_per_peer,
                max_connections=charger_capacity(resource.getrlimit(resource.RLIMIT_NOFILE)[0]),
            ),
        )
        metrics = node_registry(
            NodeGauges(
                connected_stations=lambda: len(self.directory),
                active_sessions=sessions.active_count,
                writer=self.writer.stats,
                calls=self.services.calls,
                violations=self.violations,
            )
        )
        self.local_router = LocalRouter(self.directory)
        api_reads = EngineReads(self.engine)
        self.member = ClusterMember(
            me,
            self.engine,
            api_reads,
            self._bridge,
            LocalEffects(
                answer=self._answer,
                evict=self._evict,
                station_changed=self._station_changed_here,
                id_token_changed=self.tokens.invalidate,
                members_died=self._members_died,
                reclaim=self._reclaim,
            ),
            events=self.events,
        )
        await self.member.start()
        self.api_state = ApiState(
            engine=self.engine,
            reads=api_reads,
            status=self.status,
            router=ClusterRouter(self.local_router, self.directory, api_reads, self.member),
            directory=self.directory,
            command_timeout=s.command_timeout,
            api_token=s.api_token,
            token_secret=token_secret(s),
            token_ttl=s.token_ttl,
            station_changed=self._station_changed,
            id_token_changed=self._id_token_changed,
            metrics=metrics,
            events=self.events,
            data_dir=s.data_dir,
            public_url=s.public_url,
        )
        api_port = await self._serve(create_api(self.api_state), s.host, s.api_port)
        ocpp_app = web.Application()
        ocpp_app.router.add_routes(self.endpoint.routes())
        ocpp_port = await self._serve(ocpp_app, s.host, s.ocpp_port, guard=self.endpoint.guard)
        ocpp_tls_port = await self._serve_tls()
        self._sweeper = asyncio.create_task(self._sweep_stale_transactions(), name="stale-sweeper")
        self._start_feature_loops()
        self.collector.start()
        self.api_state.writes_failing = self._writes_failing
        self.api_state.ready = True
        self.ports = Ports(ocpp=ocpp_port, api=api_port, ocpp_tls=ocpp_tls_port)
        # Not the launcher's "voltmesh listening" line: that one says the whole node is ready.
        log.info(
            "%s serves OCPP at %s:%d and the API at %s:%d",
            me.name,
            s.host,
            ocpp_port,
            s.host,
            api_port,
        )
        if ocpp_tls_port is not None:
            log.info("OCPP over TLS (wss) on %s:%d", s.host, ocpp_tls_port)
        return self.ports

    def _start_feature_loops(self) -> None:
        """The areas' loops (expiries, retries, site rebalancing), with what they may use."""
        member = self.member
        context = FeatureContext(
            reads=self.api_state.reads,
            writer=self.writer,
            router=self.api_state.router,
            events=self.events,
            member=member.name,
            leads=lambda: min((p.name for p in member.peers()), default=member.name) == member.name,
            data_dir=self.settings.data_dir,
        )
        for loop in FEATURE_LOOPS:
            name = getattr(loop, "__qualname__", "feature-loop")
            self._feature_loops.append(asyncio.create_task(loop(context), name=name))

    def _certificate_authority(self) -> CertificateAuthority | None:
        s = self.settings
        ca = find_ca(s.ca_cert, s.ca_key, s.data_dir)
        if ca is None:
            log.info("no CA (VOLTMESH_CA_CERT or `voltmesh ca init`): SignCertificate is Rejected")
        else:
            log.info("chargers' certificates signed by %s", ca.certificate.subject.rfc4514_string())
        return ca

    async def _serve(
        self,
        app: web.Application,
        host: str,
        port: int,
        *,
        guard: UpgradeGuard | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> int:
        # Handlers of open websockets are cancelled only after our own orderly close.
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        self._runners.append(runner)
        sock = bind(host, port, reuse_port=self._reuse_port)
        site: web.BaseSite
        if guard is not None:
            site = GuardedSite(runner, sock, guard, ssl_context=ssl_context)
        else:
            site = web.SockSite(runner, sock, ssl_context=ssl_context)
        await site.start()
        return int(sock.getsockname()[1])

    async def _serve_tls(self) -> int | None:
        """The wss listener (security profiles 2 and 3), on the same paths as ws."""
        s = self.settings
        if s.tls_cert is None or s.tls_key is None:
            return None
        context = server_context(s.tls_cert, s.tls_key, client_ca=s.tls_client_ca)
        self._tls_reloader = CertificateReloader(context, s.tls_cert, s.tls_key)
        self._tls_watcher = asyncio.create_task(self._tls_reloader.watch(), name="tls-reloader")
        app = web.Application()
        app.router.add_routes(self.endpoint.routes())
        return await self._serve(
            app, s.host, s.ocpp_tls_port, guard=self.endpoint.guard, ssl_context=context
        )

    def reload_tls(self) -> None:
        """SIGHUP: serve the (renewed) certificate files to new connections."""
        if self._tls_reloader is not None:
            self._tls_reloader.reload()

    def _station_actor_gave_up(self, name: str, error: BaseException) -> None:
        """A station whose actors cannot run is disconnected, so that it reconnects (perhaps to
        another node) instead of being answered "busy" for ever."""
        station_id = name.partition(":")[2].rpartition("#")[0]
        entry = self.directory.get(station_id)
        if entry is not None and entry.charge_point.name == name:
            log.error("%s: actor %s gave up (%s); closing its connection", station_id, name, error)
            with contextlib.suppress(ActorError):
                entry.connection.tell(Close(CLOSE_INTERNAL_ERROR, "internal error"))

    # -- the cluster ---------------------------------------------------------------------------

    def _moved(self, previous: str, station_id: str, epoch: int) -> None:
        """The station connected here; the member that held it closes its older socket."""
        if not self.member.tell(previous, Evict(station_id, epoch)):
            # Not among the members known at the last heartbeat (it started since): read them.
            task = asyncio.create_task(self._evict_later(previous, Evict(station_id, epoch)))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _evict_later(self, previous: str, evict: Evict) -> None:
        await self.member.refresh_peers()
        self.member.tell(previous, evict)

    def _evict(self, station_id: str, epoch: int) -> None:
        held = self.ownership.held(station_id)
        entry = self.directory.get(station_id)
        if held is None or held.epoch >= epoch or entry is None:
            return
        log.info(
            "%s: connected to another member (epoch %d); closing this socket", station_id, epoch
        )
        with contextlib.suppress(ActorError):
            entry.connection.tell(Close(CLOSE_REPLACED, "station connected to another node"))

    async def _answer(self, body: CommandRequest | ConfigurationRequest) -> Any:
        """Another member's request for a station held here (``StationNotConnected`` if not)."""
        if isinstance(body, CommandRequest):
            return await self.local_router.call(
                body.station_id, body.action, body.payload, timeout=body.timeout
            )
        return await self.local_router.configuration(body.station_id)

    def _station_changed(self, station_id: str, deleted: bool) -> None:
        """An operator changed (or deleted) a station: here, and on every other member."""
        self._station_changed_here(station_id, deleted)
        self.member.broadcast(StationChanged(station_id, deleted))
        if deleted:
            self.events.publish("station.registration", station_id, {"deleted": True})
        else:
            task = asyncio.create_task(self._publish_registration(station_id))
            self._publishing.add(task)
            task.add_done_callback(self._publishing.discard)

    async def _publish_registration(self, station_id: str) -> None:
        """The registration as the operator's committed edit left it, on the live stream."""
        try:
            station = await get_station(self.api_state.reads, station_id)
        except Exception:
            log.exception("%s: registration not read for the event stream", station_id)
            return
        if station is not None:
            data = {
                "registered": station.registered,
                "allowed": station.allowed,
                "registration": station.registration.value,
                "security_profile": station.security_profile,
            }
            self.events.publish("station.registration", station_id, data)

    def _station_changed_here(self, station_id: str, deleted: bool) -> None:
        self.admission.verifier.forget(station_id)
        entry = self.directory.get(station_id)
        if entry is None:
            return
        with contextlib.suppress(ActorError):
            if deleted:
                # Forgotten means disconnected; if it comes back, the unknown-station policy applies.
                entry.connection.tell(Close(CLOSE_NORMAL, "station deleted"))
            else:
                # The edit is committed; an actor that cannot take the news reloads on its next start.
                entry.charge_point.tell(REFRESH_STATION)

    def _id_token_changed(self, id_token: str) -> None:
        self.tokens.invalidate(id_token)
        self.member.broadcast(IdTokenChanged(id_token))

    async def _members_died(self, names: list[str]) -> None:
        for name in names:
            await self.status.mark_node_disconnected(name)

    def _writes_failing(self) -> bool:
        """Whether the main store refuses writes; while it does, each readiness probe tries one
        real write, so that a node nobody writes through (out of rotation) becomes ready again."""
        if self.writer.failing_since is None:
            return False
        if self._write_probe is None or self._write_probe.done():
            self._write_probe = submit_detached(
                self.writer, member_seen(self.identity.name), what="readiness probe"
            )
        return True

    async def _reclaim(self) -> None:
        held = self.ownership.all_held()
        taken = await reclaim_leases(
            self.engine, self.identity.name, [(f.station_id, f.epoch) for f in held]
        )
        for fence in held:
            entry = self.directory.get(fence.station_id)
            if entry is None:
                continue
            if fence.station_id in taken:
                # The others marked it disconnected when they released it.
                self.status.set_presence(
                    fence.station_id, connected=True, protocol=entry.version.value
                )
            else:
                # It connected elsewhere meanwhile: this socket is a leftover.
                with contextlib.suppress(ActorError):
                    entry.connection.tell(Close(CLOSE_REPLACED, "station connected elsewhere"))
        log.warning("%s: %d of %d stations taken back", self.identity.name, len(taken), len(held))

    def _count_violation(self, code: str) -> None:
        self.violations[code] += 1

    async def _sweep_stale_transactions(self) -> None:
        """Transactions that never end (the charger lost power) are flagged, never deleted."""
        period = min(3600.0, self.settings.stale_transaction_hours * 3600 / 4)
        while True:
            cutoff = utcnow() - timedelta(hours=self.settings.stale_transaction_hours)
            try:
                count = await mark_stale_transactions(self.engine, older_than=cutoff)
                if count:
                    log.warning("%d transactions without news since %s marked stale", count, cutoff)
            except Exception:
                log.exception("stale transaction sweep failed")
            await asyncio.sleep(period)

    async def stop(self) -> None:
        """Drain: refuse, close sockets with 1012, finish actors, flush stores. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.api_state.ready = False
        self.admission.draining = True
        self.endpoint.accepting = False
        await self.collector.stop()
        for task in (self._sweeper, self._tls_watcher, *self._publishing, *self._feature_loops):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        # Operators' streams end now; their clients reconnect to another member.
        self.events.close()
        for entry in self.directory.entries():
            with contextlib.suppress(ActorError):
                entry.connection.tell(Close(CLOSE_SERVICE_RESTART, "service restart"))
        # Live chargers answer the close at once; dead ones are cut when the runners stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.directory.wait_empty()
        await self.connection_supervisor.stop()
        await self.station_supervisor.stop()
        await self.session_supervisor.stop()
        for runner in reversed(self._runners):
            await runner.cleanup()
        await self.status.stop()
        await self.writer.stop()
        await self.member.stop()
        if isinstance(self.reads, InlineSqliteReads):
            self.reads.close()
        if self.inline_writes is not None:
            await self.inline_writes.close()
        if self.writer_engine is not None:
            await self.writer_engine.dispose()
        await self.engine.dispose()
        await self.status_engine.dispose()
        log.info("voltmesh stopped")


async def prepare_stores(main: AsyncEngine, status: AsyncEngine, settings: Settings) -> None:
    """Both stores migrated and the first admin made: once per node, before it serves."""
    await migrate(main, "main")
    await ensure_first_admin(main, settings.data_dir, settings.admin_password)
    await migrate(status, "status")


def token_secret(settings: Settings) -> bytes:
    """The secret that signs operators' tokens: the cluster's shared one, else this data
    directory's own."""
    if settings.token_secret is not None:
        return settings.token_secret.encode()
    return load_or_create_secret(settings.data_dir / TOKEN_SECRET_FILE)


async def serve(settings: Settings) -> None:
    """Run a node until SIGTERM or SIGINT, then drain it."""
    raise_open_file_limit()
    node = Node(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, node.reload_tls)
    await node.start()
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await node.stop()
