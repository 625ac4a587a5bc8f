"""OCPP over TLS (wss): the listener beside ws, TLS versions and cipher suites (OCPP 2.0.1 Part 2 A00,
1.6 security whitepaper), a renewed certificate served to new connections while old ones stay, and
the drain's close (1012) reaching chargers over TLS as over ws."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import warnings
from functools import partial
from pathlib import Path
from threading import Event

import aiohttp
import pytest
from cryptography import x509

from gateway.tls import TLS12_CIPHERS, CertificateReloader, server_context
from tests.raw_charger import RawCharger
from tests.server_fixtures import StartServer
from tests.timing import UNIT, eventually
from tests.tls_certs import Pki, client_context, issue, make_pki, start_tls_server

BOOT = {"chargePointVendor": "V", "chargePointModel": "M"}


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path / "pki")


def served_serial(charger: RawCharger) -> int:
    """Serial number of the certificate the server presented to this charger."""
    ssl_object = charger.ws.transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


async def test_wss_serves_the_same_paths_beside_ws(start_server: StartServer, pki: Pki) -> None:
    server, wss = await start_tls_server(start_server, pki)
    secure = await RawCharger.connect(f"{wss}/CP-TLS", ssl=client_context(pki.ca))
    plain = await RawCharger.connect(f"{server.ocpp_url}/CP-PLAIN")
    try:
        assert (await secure.call("BootNotification", BOOT))["status"] == "Accepted"
        assert (await plain.call("BootNotification", BOOT))["status"] == "Accepted"
        ssl_object = secure.ws.transport.get_extra_info("ssl_object")
        assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        assert await server.is_connected("CP-TLS")
    finally:
        await secure.close()
        await plain.close()
    # The short path too.
    port = server.node.ports.ocpp_tls if server.node.ports else None
    short = await RawCharger.connect(f"wss://localhost:{port}/CP-SHORT", ssl=client_context(pki.ca))
    await short.close()


async def test_tls_below_1_2_is_refused(start_server: StartServer, pki: Pki) -> None:
    _, wss = await start_tls_server(start_server, pki)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(cafile=pki.ca.cert_path)
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        # A charger stuck on TLS 1.0/1.1 is what this test plays; Python deprecates setting it.
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await RawCharger.connect(f"{wss}/CP-OLD", ssl=old)
    # The same client allowed TLS 1.2 gets in: the version was the reason.
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    charger = await RawCharger.connect(f"{wss}/CP-OLD", ssl=old)
    await charger.close()


async def test_tls_1_2_offers_only_the_ocpp_cipher_suites(
    start_server: StartServer, pki: Pki
) -> None:
    _, wss = await start_tls_server(start_server, pki)
    weak = client_context(pki.ca)
    weak.maximum_version = ssl.TLSVersion.TLSv1_2
    weak.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-CHACHA20-POLY1305")  # CBC, not named
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await RawCharger.connect(f"{wss}/CP-WEAK", ssl=weak)
    good = client_context(pki.ca)
    good.maximum_version = ssl.TLSVersion.TLSv1_2
    charger = await RawCharger.connect(f"{wss}/CP-GOOD", ssl=good)
    try:
        cipher = charger.ws.transport.get_extra_info("ssl_object").cipher()[0]
        assert cipher in TLS12_CIPHERS.split(":")
    finally:
        await charger.close()


def _renew(pki: Pki) -> int:
    """Write a new server certificate and key over the served files; its serial number."""
    renewed = issue(pki.ca, pki.directory / "renewed", "server", "localhost", server=True)
    # Key first, then certificate, as a renewal tool would, and a later mtime for the poll.
    pki.server.key_path.write_bytes(renewed.key_path.read_bytes())
    pki.server.cert_path.write_bytes(renewed.cert_path.read_bytes())
    later = pki.server.cert_path.stat().st_mtime + 10
    for path in (pki.server.key_path, pki.server.cert_path):
        os.utime(path, (later, later))
    return renewed.cert.serial_number


async def test_renewed_certificate_reaches_new_connections_only(
    start_server: StartServer, pki: Pki
) -> None:
    server, wss = await start_tls_server(start_server, pki)
    context = client_context(pki.ca)
    first = await RawCharger.connect(f"{wss}/CP-OLD", ssl=context)
    try:
        assert served_serial(first) == pki.server.cert.serial_number
        renewed = _renew(pki)
        server.node.reload_tls()  # what SIGHUP does
        second = await RawCharger.connect(f"{wss}/CP-NEW", ssl=context)
        try:
            assert served_serial(second) == renewed
            # The connection made before the renewal is still served.
            assert "currentTime" in await first.call("Heartbeat", {})
            assert await server.is_connected("CP-OLD")
        finally:
            await second.close()
    finally:
        await first.close()


async def test_changed_certificate_file_is_picked_up(pki: Pki) -> None:
    context = server_context(pki.server.cert_path, pki.server.key_path)
    reloader = CertificateReloader(
        context, pki.server.cert_path, pki.server.key_path, poll_interval=UNIT
    )

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listener = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = listener.sockets[0].getsockname()[1]

    async def serial() -> int:
        _, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context(pki.ca), server_hostname="localhost"
        )
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()
        return x509.load_der_x509_certificate(der).serial_number

    watcher = asyncio.create_task(reloader.watch())
    try:
        assert await serial() == pki.server.cert.serial_number
        renewed = _renew(pki)

        async def renewed_served() -> bool:
            return await serial() == renewed

        await eventually(renewed_served, within=40 * UNIT)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        listener.close()
        await listener.wait_closed()


async def test_a_broken_renewal_keeps_the_served_certificate(
    start_server: StartServer, pki: Pki
) -> None:
    server, wss = await start_tls_server(start_server, pki)
    pki.server.cert_path.write_text("not a certificate")
    server.node.reload_tls()
    charger = await RawCharger.connect(f"{wss}/CP-KEEP", ssl=client_context(pki.ca))
    try:
        assert served_serial(charger) == pki.server.cert.serial_number
    finally:
        await charger.close()


def close_codes_of_chargers(
    urls: list[str], context: ssl.SSLContext, connected: Event
) -> list[int]:
    """Connect one aiohttp client per URL, set ``connected``, and return each one's close code once
    the server has closed them all. In a thread of its own, with its own event loop: as a charger,
    the client is not scheduled in step with the server."""

    async def run() -> list[int]:
        async with aiohttp.ClientSession() as http:
            sockets = [
                await http.ws_connect(url, protocols=["ocpp1.6"], ssl=context) for url in urls
            ]
            raw = [socket.get_extra_info("socket") for socket in sockets]
            connected.set()
            async with asyncio.timeout(200 * UNIT):
                await asyncio.gather(*(socket.receive() for socket in sockets))
        # The TLS shutdowns finish before this loop ends, or their transports are left unclosed.
        await eventually(lambda: all(sock.fileno() == -1 for sock in raw))
        return [socket.close_code or 0 for socket in sockets]

    return asyncio.run(run())


async def test_shutdown_closes_wss_chargers_with_1012(start_server: StartServer, pki: Pki) -> None:
    """The node waits for each charger's Close before it ends the TLS session. Cut right after our
    Close frame, the charger's TLS layer reads the close_notify with it and shuts down before the
    charger can answer, and aiohttp's client (as some chargers' stacks) then reports 1006."""
    server, wss = await start_tls_server(start_server, pki)
    ids = [f"CP-DRAIN-{i}" for i in range(20)]
    connected = Event()
    chargers = asyncio.create_task(
        asyncio.to_thread(
            close_codes_of_chargers, [f"{wss}/{i}" for i in ids], client_context(pki.ca), connected
        )
    )
    await eventually(connected.is_set)
    for station_id in ids:
        await eventually(partial(server.is_connected, station_id))
    await server.node.stop()
    async with asyncio.timeout(300 * UNIT):
        codes = await chargers
    assert codes == [1012] * len(ids)
