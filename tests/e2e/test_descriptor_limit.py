"""At the descriptor limit the message path opens nothing: with every descriptor of the process in
use, a message of any action of any version is still validated (a schema file opened on first use
failed there with EMFILE, and every Heartbeat got InternalError)."""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp
import orjson
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.server_fixtures import TEST_API_TOKEN, voltmesh_process
from tests.timing import UNIT, eventually
from voltmesh.limits import charger_capacity, raise_open_file_limit

_EXHAUSTED = textwrap.dedent(
    """
    import errno, os, resource
    from transport.errors import SchemaViolation
    from transport.schemas import prepare, schemas_for
    from transport.versions import OcppVersion

    prepare()  # as the node does at start: later compiles open no file
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    held = []
    try:
        while True:
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError as exc:
        assert exc.errno == errno.EMFILE, exc
    try:
        open(os.devnull)
    except OSError as exc:
        assert exc.errno == errno.EMFILE, exc
    else:
        raise AssertionError("a descriptor was still free")
    checked = 0
    for version in OcppVersion:
        schemas = schemas_for(version)
        for action in sorted(schemas.charger_initiated | schemas.csms_initiated):
            for validate in (schemas.validate_request, schemas.validate_response):
                try:
                    validate(action, {})
                except SchemaViolation:
                    pass
                checked += 1
        schemas.validate_request("Heartbeat", {})
    print(len(held), checked)
    """
)


def test_every_schema_validates_with_no_descriptor_free() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _EXHAUSTED],
        capture_output=True,
        text=True,
        timeout=1200 * UNIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    held, checked = map(int, done.stdout.split())
    assert held > 200
    assert checked > 300


def test_the_soft_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
        raised, kept_hard = raise_open_file_limit()
        assert kept_hard == hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (raised, hard)
        assert raised == hard or (hard == resource.RLIM_INFINITY and raised >= 256)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
async def test_a_node_at_its_descriptor_limit_keeps_serving(tmp_path: Path) -> None:
    """A node whose limit is 256 descriptors takes chargers until it keeps only its reserve free,
    refuses the next cleanly (503), and still answers its probes, its REST API and the chargers it
    has."""
    limit = 256
    chargers: list[ClientConnection] = []
    async with voltmesh_process(tmp_path, open_files=limit) as (_, ocpp_port, api_port):
        url = f"ws://127.0.0.1:{ocpp_port}/ocpp"
        refused: websockets.InvalidStatus | None = None
        try:
            for n in range(limit):
                try:
                    chargers.append(
                        await websockets.connect(
                            f"{url}/CP-FD-{n:03d}",
                            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                            open_timeout=100 * UNIT,
                            ping_interval=None,
                        )
                    )
                except websockets.InvalidStatus as exc:
                    refused = exc
                    break
            assert refused is not None, "the node took more chargers than it has descriptors for"
            assert refused.response.status_code == 503
            assert len(chargers) == charger_capacity(limit)
            headers = {"Authorization": f"Bearer {TEST_API_TOKEN}"}
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{api_port}/readyz") as ready:
                    assert ready.status == 200

                async def shown_connected() -> bool:
                    # An unknown station is registered by its actor's first write, just after
                    # its socket opened: the API answers 404 until that commit.
                    async with http.get(
                        f"http://127.0.0.1:{api_port}/api/v1/stations/CP-FD-000", headers=headers
                    ) as station:
                        assert station.status in (200, 404), await station.text()
                        return station.status == 200 and (await station.json())["connected"]

                await eventually(shown_connected, what="CP-FD-000 shown connected")
            await chargers[0].send('[2,"hb","Heartbeat",{}]')
            async with asyncio.timeout(100 * UNIT):
                answer = orjson.loads(await chargers[0].recv())
            assert answer[0] == 3 and answer[1] == "hb"
        finally:
            await asyncio.gather(*(c.close() for c in chargers), return_exceptions=True)
