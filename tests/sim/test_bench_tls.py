"""The benchmark harness over wss (`--tls`): the throwaway CA and server certificate, voltmesh
serving wss with them, the load stations connecting over TLS and trusting only that CA, and the
wss/ws comparison."""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from sim.bench import (
    BenchOptions,
    Scenario,
    main,
    measure_reconnect,
    run_once,
    tls_comparison,
)
from sim.certs import make_server_tls
from sim.fleet.conductor import LoadRun, run_load
from sim.fleet.load import LoadMode, LoadShape
from sim.servers import ServerKind, ServerProcess
from tests.sim.helpers import UNIT, small_options


def test_server_certificate_is_issued_by_the_throwaway_ca(tmp_path: Path) -> None:
    tls = make_server_tls(tmp_path)
    ca = x509.load_pem_x509_certificate(tls.ca_cert.read_bytes())
    server = x509.load_pem_x509_certificate(tls.cert.read_bytes())
    server.verify_directly_issued_by(ca)  # raises if the signature or issuer does not match
    assert isinstance(server.public_key(), ec.EllipticCurvePublicKey)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert tls.key.stat().st_mode & 0o077 == 0


def test_tls_is_refused_for_the_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--tls", "--server", "baseline", "--runs", "1"])
    assert "only voltmesh serves wss" in capsys.readouterr().err


def throughput_options(tmp_path: Path) -> BenchOptions:
    return BenchOptions(
        stations=10,
        workers=1,
        warmup=6 * UNIT,
        duration=30 * UNIT,
        connect_rate=None,
        call_timeout=40 * UNIT,
        boot_timeout=200 * UNIT,
        output=tmp_path,
        idle_settle=2 * UNIT,
    )


@pytest.mark.slow
def test_throughput_over_ws_and_wss(tmp_path: Path) -> None:
    tls = make_server_tls(tmp_path / "pki")
    options = throughput_options(tmp_path)
    scenario = Scenario(LoadMode.SATURATE, None)
    over_ws = run_once(ServerKind.VOLTMESH, scenario, 1, options)
    over_wss = run_once(ServerKind.VOLTMESH, scenario, 1, options, tls)
    assert over_ws.server == "voltmesh"
    assert over_wss.server == "voltmesh wss"
    for record in (over_ws, over_wss):
        assert record.result.booted == 10
        assert record.result.messages > 10
        assert record.result.clean, record.result
        assert record.cpu_seconds > 0
        assert record.server_exit_code == 0
    assert "--tls-cert" not in over_ws.server_argv
    argv = over_wss.server_argv
    assert argv[argv.index("--tls-cert") + 1] == str(tls.cert)
    assert argv[argv.index("--tls-key") + 1] == str(tls.key)
    assert "--ocpp-tls-port" in argv
    data = orjson.loads((tmp_path / "voltmesh-wss-saturate-run1.json").read_bytes())
    assert data["server"] == "voltmesh wss"
    table = tls_comparison([over_ws, over_wss], [])
    assert "| voltmesh saturate | msgs/s |" in table
    assert "| voltmesh saturate | server CPU µs/msg |" in table


@pytest.mark.slow
def test_stations_verify_the_server_certificate(tmp_path: Path) -> None:
    """A station that trusts another CA does not connect: the wss run is TLS with verification,
    not a plain websocket on another port."""
    served = make_server_tls(tmp_path / "served")
    other = make_server_tls(tmp_path / "other")
    with ServerProcess(ServerKind.VOLTMESH, log_path=tmp_path / "server.log", tls=served) as server:
        assert server.ocpp_tls_port is not None and server.load_port == server.ocpp_tls_port
        run = LoadRun(port=server.load_port, stations=2, warmup=0.0, duration=2 * UNIT)
        shape = LoadShape(
            mode=LoadMode.IDLE,
            call_timeout=20 * UNIT,
            boot_timeout=40 * UNIT,
            tls_ca=str(other.ca_cert),
        )
        refused = run_load(run, shape)
        trusted = run_load(run, LoadShape(mode=LoadMode.IDLE, tls_ca=str(served.ca_cert)))
    assert refused.booted == 0
    assert trusted.booted == 2


@pytest.mark.slow
def test_reconnect_storm_over_wss(tmp_path: Path) -> None:
    started = time.monotonic()
    tls = make_server_tls(tmp_path / "pki")
    options = small_options(tmp_path)
    over_ws = measure_reconnect(ServerKind.VOLTMESH, 20, 1, options)
    over_wss = measure_reconnect(ServerKind.VOLTMESH, 20, 1, options, tls)
    assert time.monotonic() - started < 2 * options.reconnect_timeout
    assert over_wss.server == "voltmesh wss"
    for record in (over_ws, over_wss):
        assert record.booted == 20
        assert record.back == 20
        assert sum(record.lost.values()) == 20  # every connection was lost by the restart
        assert record.transaction_check == {"kept": 4}
        assert record.failures == 0
        assert record.server_cpu_seconds > 0
    table = tls_comparison([], [over_ws, over_wss])
    assert "| voltmesh reconnect 20 | server CPU ms per reconnect |" in table
    assert "| voltmesh reconnect 20 | all back s |" in table


@pytest.mark.slow
def test_restart_closes_wss_sockets_with_service_restart(tmp_path: Path) -> None:
    """Every station reads 1012, as over ws: the server waits for each station's Close before it
    ends the TLS session (the stations' aiohttp client reports 1006 when it cannot answer)."""
    tls = make_server_tls(tmp_path / "pki")
    record = measure_reconnect(ServerKind.VOLTMESH, 20, 1, small_options(tmp_path), tls)
    assert record.back == 20
    assert record.lost == {"1012": 20}  # "service restart", as over ws (test_bench.py)
