"""Load runs spread over several loopback source addresses: how many a fleet needs, what is
refused, and that the server under test (the baseline, a real process) sees the fleet's
connections come from each of them."""

from __future__ import annotations

import pickle
import socket
import struct
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from sim.fleet import conductor
from sim.fleet.conductor import LoadHooks, LoadRun, run_load, with_source_addresses
from sim.fleet.load import LoadMode, LoadShape
from sim.fleet.sources import (
    SourceSessions,
    check_sources,
    ephemeral_port_count,
    loopback_sources,
    sources_for,
)
from sim.servers import ServerKind, ServerProcess
from tests.sim.helpers import UNIT

ESTABLISHED = "01"
"""The TCP state in `/proc/net/tcp`."""


def peers(port: int) -> Counter[str]:
    """The remote addresses of the established connections whose local port is ``port`` (the
    server's side of them), counted, from the kernel's socket table."""
    found: Counter[str] = Counter()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if state == ESTABLISHED and int(local.split(":")[1], 16) == port:
            address = int(remote.split(":")[0], 16)
            found[socket.inet_ntoa(struct.pack("<I", address))] += 1
    return found


def test_one_address_holds_half_its_ports_then_more_are_added() -> None:
    assert sources_for(14_116, 28_232) == ()
    assert sources_for(14_117, 28_232) == ("127.0.0.1", "127.0.0.2")
    assert sources_for(20_000, 28_232) == ("127.0.0.1", "127.0.0.2")
    assert sources_for(50_000, 28_232) == loopback_sources(4)
    assert sources_for(50_000, None) == ()  # unknown range: the kernel chooses, as before
    assert len(sources_for(10**9, 28_232)) == 254  # 127.0.0.254 at most


def test_the_port_range_is_read_from_the_kernels_file(tmp_path: Path) -> None:
    path = tmp_path / "ip_local_port_range"
    path.write_text("32768\t60999\n")
    assert ephemeral_port_count(path) == 28_232
    assert ephemeral_port_count(tmp_path / "missing") is None


@pytest.mark.parametrize("address", ["10.0.0.1", "::1", "localhost", "128.0.0.1"])
def test_source_addresses_must_be_ipv4_loopback(address: str) -> None:
    with pytest.raises(ValueError, match="source address"):
        check_sources(("127.0.0.1", address))
    with pytest.raises(ValueError, match="source address"):
        LoadShape(mode=LoadMode.IDLE, source_addresses=(address,))
    with pytest.raises(ValueError, match="between 1 and 254"):
        loopback_sources(255)


def test_a_fleet_on_loopback_gets_the_addresses_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conductor, "ephemeral_port_count", lambda: 10)
    shape = LoadShape(mode=LoadMode.IDLE)
    assert with_source_addresses(LoadRun(port=9000, stations=5), shape) is shape
    spread = with_source_addresses(LoadRun(port=9000, stations=11), shape)
    assert spread.source_addresses == loopback_sources(3)
    chosen = LoadShape(mode=LoadMode.IDLE, source_addresses=("127.0.0.9",))
    assert with_source_addresses(LoadRun(port=9000, stations=11), chosen) is chosen
    # A remote target (allowed) is reached from whatever address routes there.
    remote = LoadRun(host="192.0.2.1", port=9000, stations=11, allow_remote=True)
    assert with_source_addresses(remote, shape) is shape


async def test_a_worker_shares_one_session_per_address_and_closes_them_after_the_last() -> None:
    sessions = pickle.loads(pickle.dumps(SourceSessions(loopback_sources(2))))
    async with aiohttp.ClientSession() as shared:
        assert SourceSessions(()).for_station(0, shared) is shared
        first = [sessions.for_station(i, shared) for i in range(4)]
        assert first[0] is first[2] and first[1] is first[3] and first[0] is not first[1]
        assert first[0].timeout == shared.timeout
        for i in range(3):
            await sessions.release(i)
        assert not first[0].closed
        await sessions.release(3)
        assert first[0].closed and first[1].closed
        assert not shared.closed


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = tmp_path_factory.mktemp("baseline") / "server.log"
    with ServerProcess(ServerKind.BASELINE, log_path=log) as server:
        yield server


@pytest.mark.slow
def test_stations_connect_from_each_source_address(baseline: ServerProcess) -> None:
    seen: list[Counter[str]] = []
    run = LoadRun(port=baseline.ocpp_port, stations=12, workers=2, duration=4 * UNIT)
    shape = LoadShape(
        mode=LoadMode.IDLE,
        heartbeat_interval=2 * UNIT,
        call_timeout=40 * UNIT,
        source_addresses=("127.0.0.1", "127.0.0.2", "127.0.0.3"),
    )
    result = run_load(run, shape, LoadHooks(on_fleet_ready=lambda: seen.append(peers(run.port))))
    assert result.clean, result
    assert result.messages > 0  # the Heartbeats went through the bound connections too
    assert result.source_addresses == shape.source_addresses
    assert seen == [Counter({"127.0.0.1": 4, "127.0.0.2": 4, "127.0.0.3": 4})]


@pytest.mark.slow
def test_a_fleet_too_large_for_one_address_is_spread(
    baseline: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a port range of 10, one address takes 5 stations: 8 connect from two."""
    monkeypatch.setattr(conductor, "ephemeral_port_count", lambda: 10)
    seen: list[Counter[str]] = []
    run = LoadRun(port=baseline.ocpp_port, stations=8, duration=2 * UNIT)
    shape = LoadShape(mode=LoadMode.IDLE, call_timeout=40 * UNIT)
    result = run_load(run, shape, LoadHooks(on_fleet_ready=lambda: seen.append(peers(run.port))))
    assert result.clean, result
    assert result.source_addresses == ("127.0.0.1", "127.0.0.2")
    assert seen == [Counter({"127.0.0.1": 4, "127.0.0.2": 4})]


@pytest.mark.slow
def test_an_idle_run_ends_with_its_window_not_a_call_timeout_later(
    baseline: ServerProcess,
) -> None:
    run = LoadRun(port=baseline.ocpp_port, stations=20, warmup=0.0, duration=10 * UNIT)
    # Heartbeats all through the window: some are out when it ends, and are waited for.
    shape = LoadShape(mode=LoadMode.IDLE, heartbeat_interval=UNIT, call_timeout=400 * UNIT)
    started = time.monotonic()
    result = run_load(run, shape)
    assert time.monotonic() - started < 200 * UNIT
    assert result.clean, result
    assert result.messages >= 20 * 5
