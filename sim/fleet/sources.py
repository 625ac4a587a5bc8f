"""Source addresses of a load run's connections, so that a fleet may outgrow one address's ports.

Every connection to the server under test (one address, one port) takes its source port from the
kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`: 28,232 ports by default), so
one source address holds at most that many of them, and fewer while a reconnect storm's old
sockets are still being released. On Linux the whole of 127.0.0.0/8 is loopback and each of its
addresses has a port range of its own: station ``i`` of a fleet spread over 127.0.0.1 ...
127.0.0.K connects from address ``i % K``.

A worker process holds one HTTP session per source address it uses (`SourceSessions`); with no
source addresses its stations share the worker's own session and the kernel picks the address.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import ssl
from pathlib import Path

import aiohttp

from sim.certs import client_context

PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOOPBACK_SOURCES_MAX = 254
"""127.0.0.1 ... 127.0.0.254: the addresses a fleet is spread over, at most."""
PORT_HEADROOM = 2
"""A source address carries at most its port range divided by this: a station that reconnects
takes a new port while its old socket may still hold the previous one."""


def ephemeral_port_count(path: Path = PORT_RANGE) -> int | None:
    """How many source ports one address has (the kernel's ephemeral range); None if unknown."""
    try:
        low, high = path.read_text().split()
    except (OSError, ValueError):
        return None
    return int(high) - int(low) + 1


def loopback_sources(count: int) -> tuple[str, ...]:
    """127.0.0.1, 127.0.0.2, ... ``count`` loopback addresses."""
    if not 1 <= count <= LOOPBACK_SOURCES_MAX:
        raise ValueError(f"source addresses: between 1 and {LOOPBACK_SOURCES_MAX}")
    return tuple(f"127.0.0.{n}" for n in range(1, count + 1))


def sources_for(stations: int, ports: int | None) -> tuple[str, ...]:
    """The loopback addresses a fleet of ``stations`` needs when one address has ``ports`` source
    ports: none (the kernel chooses, as for any client) when one address holds the fleet with
    headroom or the range is unknown, else as many as hold it."""
    if ports is None:
        return ()
    per_address = max(1, ports // PORT_HEADROOM)
    if stations <= per_address:
        return ()
    return loopback_sources(min(LOOPBACK_SOURCES_MAX, math.ceil(stations / per_address)))


def check_sources(addresses: tuple[str, ...]) -> None:
    """Raise ValueError unless every address is an IPv4 loopback address: load runs bind
    127.0.0.0/8 only, whatever they connect to."""
    for address in addresses:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"source address {address!r} is not an IP address") from None
        if parsed.version != 4 or not parsed.is_loopback:
            raise ValueError(f"source address {address} is not in 127.0.0.0/8")


class SourceSessions:
    """One worker's HTTP sessions, one per source address, made when a station first asks.

    Every station that got a session through `for_station` gives it back with `release`; the
    last one closes them all. Pickles as its settings alone: each worker process makes its own
    sessions, on its own event loop.
    """

    def __init__(self, addresses: tuple[str, ...], tls_ca: str | None = None) -> None:
        check_sources(addresses)
        self.addresses = addresses
        self.tls_ca = tls_ca
        """PEM file of the CA the stations trust over wss; None: ws."""
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._users = 0
        self._context: ssl.SSLContext | None = None
        """Made once, for all of the worker's sessions (as its own session has one)."""

    def __getstate__(self) -> tuple[tuple[str, ...], str | None]:
        return self.addresses, self.tls_ca

    def __setstate__(self, state: tuple[tuple[str, ...], str | None]) -> None:
        self.addresses, self.tls_ca = state
        self._sessions = {}
        self._users = 0
        self._context = None

    def address_of(self, index: int) -> str | None:
        """Station ``index``'s source address; None: the kernel chooses."""
        if not self.addresses:
            return None
        return self.addresses[index % len(self.addresses)]

    def for_station(self, index: int, shared: aiohttp.ClientSession) -> aiohttp.ClientSession:
        """The session station ``index`` connects through: ``shared`` (the worker's) without
        source addresses, else the one bound to its address, with ``shared``'s timeouts. Call
        from the worker's event loop."""
        address = self.address_of(index)
        if address is None:
            return shared
        self._users += 1
        session = self._sessions.get(address)
        if session is None:
            tls = self._tls()
            connector = aiohttp.TCPConnector(
                limit=0, ssl=True if tls is None else tls, local_addr=(address, 0)
            )
            session = aiohttp.ClientSession(connector=connector, timeout=shared.timeout)
            self._sessions[address] = session
        return session

    def _tls(self) -> ssl.SSLContext | None:
        if self.tls_ca is not None and self._context is None:
            self._context = client_context(self.tls_ca)
        return self._context

    async def release(self, index: int) -> None:
        """Station ``index`` is done with its session: close them all after the last one."""
        if self.address_of(index) is None:
            return
        self._users -= 1
        if self._users > 0:
            return
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()


def add_source_addresses_option(parser: argparse.ArgumentParser) -> None:
    """``--source-addresses K`` of the load tools' command lines."""
    parser.add_argument(
        "--source-addresses",
        type=int,
        metavar="K",
        help="connect from the loopback addresses 127.0.0.1 ... 127.0.0.K, station i from the "
        "(i mod K)-th (default: as many as the fleet needs beside the ephemeral port range)",
    )
