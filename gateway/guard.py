"""Limits on connections that have not yet become an OCPP websocket.

aiohttp has no timeout for a request that never completes: a peer that opens TCP (or TLS) and sends
half a request holds a descriptor for ever, and a thousand of them lock every charger out. Every
connection of the OCPP listener therefore has ``timeout`` seconds to complete its websocket upgrade
(the TLS handshake has the same, through asyncio's ``ssl_handshake_timeout``), and one peer address
may hold at most ``max_per_peer`` such connections at once; beyond it, HTTP 503 and close.

``max_connections`` caps every connection of the OCPP listeners together, upgraded or not: set below
the process's descriptor limit, it keeps descriptors free for what the chargers already connected
need and for the API (a node whose ``/readyz`` cannot accept a probe is restarted by Kubernetes,
which drops every charger).

``GuardedSite`` serves an aiohttp runner through the guard; the endpoint calls ``upgraded`` once a
connection is an OCPP websocket, which ends the guard's hold on it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections import Counter
from typing import cast

from aiohttp import web

log = logging.getLogger(__name__)

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
    b"Connection: close\r\n\r\ntoo many connections\n"
)


class UpgradeGuard:
    """Counts not-yet-upgraded connections per peer address and times them out."""

    def __init__(
        self, *, timeout: float = 10.0, max_per_peer: int = 64, max_connections: int | None = None
    ) -> None:
        self.timeout = timeout
        self.max_per_peer = max_per_peer
        self.max_connections = max_connections
        self.connections = 0
        """Live connections of the guarded listeners, upgraded or not."""
        self._full_logged = False
        self._pending: Counter[str] = Counter()
        self._guarded: dict[asyncio.BaseTransport, _GuardedProtocol] = {}
        self._refusing: set[str] = set()
        """Peers refused since they last had room: logged once per burst, not per connection."""

    def pending(self, peer: str) -> int:
        """Connections of ``peer`` that have not completed their upgrade."""
        return self._pending[peer]

    def upgraded(self, transport: asyncio.BaseTransport | None) -> None:
        """The connection is an OCPP websocket now: no deadline, out of its peer's count."""
        if transport is not None:
            guarded = self._guarded.get(transport)
            if guarded is not None:
                guarded.release()

    def _admit(self, peer: str, protocol: _GuardedProtocol) -> bool:
        if self.max_connections is not None and self.connections >= self.max_connections:
            if not self._full_logged:
                self._full_logged = True
                log.warning(
                    "%d connections, the most this node takes; refusing new ones (503)",
                    self.connections,
                )
            return False
        self._full_logged = False
        if self._pending[peer] >= self.max_per_peer:
            if peer not in self._refusing:
                self._refusing.add(peer)
                log.warning(
                    "%s holds %d connections that are not upgraded; refusing more (503)",
                    peer,
                    self._pending[peer],
                )
            return False
        self._refusing.discard(peer)
        self.connections += 1
        self._pending[peer] += 1
        assert protocol.transport is not None
        self._guarded[protocol.transport] = protocol
        return True

    def _release(self, peer: str, transport: asyncio.BaseTransport) -> None:
        self._guarded.pop(transport, None)
        self._pending[peer] -= 1
        if self._pending[peer] <= 0:
            del self._pending[peer]


class _GuardedProtocol(asyncio.Protocol):
    """Passes everything to aiohttp's protocol; holds the connection's deadline and its place in
    its peer's count until ``release``."""

    def __init__(self, guard: UpgradeGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self.transport: asyncio.Transport | None = None
        self._peer = "?"
        self._timer: asyncio.TimerHandle | None = None
        self._held = False
        self._refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's: typed, not checked.
        self.transport = cast(asyncio.Transport, transport)
        peername = transport.get_extra_info("peername")
        self._peer = str(peername[0]) if peername else "?"
        if not self._guard._admit(self._peer, self):
            self._refused = True
            self.transport.write(_BUSY)
            self.transport.close()
            return
        self._held = True
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._guard.timeout, self._expire)
        self._inner.connection_made(transport)

    def _expire(self) -> None:
        self._timer = None
        log.info(
            "%s did not complete its websocket upgrade within %.1f s; closed",
            self._peer,
            self._guard.timeout,
        )
        self.release()
        if self.transport is not None:
            self.transport.abort()

    def release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._held:
            self._held = False
            assert self.transport is not None
            self._guard._release(self._peer, self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.release()
        if not self._refused:
            self._guard.connections -= 1
            self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None if self._refused else self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class GuardedSite(web.BaseSite):
    """An aiohttp site on a bound socket whose connections pass through an ``UpgradeGuard``; with
    ``ssl_context``, the TLS handshake counts against the same timeout."""

    __slots__ = ("_guard", "_sock")

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        guard: UpgradeGuard,
        *,
        ssl_context: ssl.SSLContext | None = None,
        shutdown_timeout: float = 60.0,
        backlog: int = 4096,
    ) -> None:
        super().__init__(
            runner, shutdown_timeout=shutdown_timeout, ssl_context=ssl_context, backlog=backlog
        )
        self._sock = sock
        self._guard = guard

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"{'https' if self._ssl_context else 'http'}://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        guard = self._guard

        def protocol() -> asyncio.Protocol:
            return _GuardedProtocol(guard, server())

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            protocol,
            sock=self._sock,
            ssl=self._ssl_context,
            ssl_handshake_timeout=guard.timeout if self._ssl_context else None,
            backlog=self._backlog,
        )
