"""Simulated stations driven through voltmesh's own REST resources, end to end on an in-process
node: a log request uploaded for real to voltmesh's upload endpoint (by its URL's secret alone, a
station with a password included), a firmware update walked to Installed with the reboot on the
new version, and a charging profile the station obeys. The simulated station is the same as in a fleet run (`sim.fleet.single`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sim.fleet.single import simulated_station
from sim.fleet.station import SimStation
from tests.server_fixtures import Running
from tests.server_fixtures import server as server
from tests.server_fixtures import start_server as start_server
from tests.timing import UNIT, eventually

VERSIONS = ["ocpp1.6", "ocpp2.0.1"]
PASSWORD = "sim-station-password-0123"
QUICK = {"step_seconds": 0.1}
"""A tenth of a second (the station's clock is the wall clock here) between statuses."""


@contextlib.asynccontextmanager
async def connected(
    server: Running, station_id: str, version: str, behaviour: dict[str, Any] | None = None
) -> AsyncIterator[SimStation]:
    status, body = await server.put(f"/api/v1/stations/{station_id}", {"password": PASSWORD})
    assert status in (200, 201), body
    async with simulated_station(
        server.ocpp_url,
        station_id,
        version,
        behaviour=QUICK | (behaviour or {}),
        password=PASSWORD,
        sessions={"ev_max_power_kw": 22},
        boot_timeout=200 * UNIT,
    ) as station:
        yield station


async def final(server: Running, path: str) -> dict[str, Any]:
    async def settled() -> dict[str, Any] | None:
        status, body = await server.get(path)
        assert status == 200, body
        found: dict[str, Any] = body
        return found if found["final"] else None

    done: dict[str, Any] | None = await eventually(settled, within=300 * UNIT, what=f"{path} final")
    assert done is not None
    return done


@pytest.mark.parametrize(
    ("version", "behaviour", "action"),
    [
        ("ocpp1.6", {}, "GetLog"),
        # A 1.6 station without the security extension: voltmesh falls back to GetDiagnostics.
        ("ocpp1.6", {"unsupported": ["GetLog"]}, "GetDiagnostics"),
        ("ocpp2.0.1", {}, "GetLog"),
    ],
)
async def test_a_log_request_is_uploaded_to_voltmesh(
    server: Running, version: str, behaviour: dict[str, Any], action: str
) -> None:
    station_id = f"SIM-LOG-{version[-3:]}-{len(behaviour)}"
    async with connected(server, station_id, version, behaviour) as station:
        status, body = await server.post(
            f"/api/v1/stations/{station_id}/log-requests", {"log_type": "DiagnosticsLog"}
        )
        assert status == 201, body
        done = await final(server, f"/api/v1/log-requests/{body['id']}")
        assert done["action"] == action
        assert done["status"] == "Uploaded", done
        assert done["file"] is not None and done["file"]["size"] > 0
        assert len(station.uploads) == 1
        async with server.http.get(server.api_url + done["file"]["href"]) as response:
            assert response.status == 200
            assert station_id.encode() in await response.read()


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_firmware_update_is_installed_and_the_station_reboots_on_it(
    server: Running, version: str
) -> None:
    station_id = f"SIM-FW-{version[-3:]}"
    async with connected(server, station_id, version) as station:
        status, body = await server.post(
            f"/api/v1/stations/{station_id}/firmware-updates",
            {"location": "https://firmware.example/sim-3.1.bin"},
        )
        assert status == 201, body
        done = await final(server, f"/api/v1/firmware-updates/{body['id']}")
        assert done["status"] == "Installed", done
        assert station.firmware_version == "sim-3.1"


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_failing_firmware_update_is_reported_as_it_failed(
    server: Running, version: str
) -> None:
    station_id = f"SIM-FWX-{version[-3:]}"
    behaviour = {"firmware_outcome": "InstallationFailed"}
    async with connected(server, station_id, version, behaviour) as station:
        status, body = await server.post(
            f"/api/v1/stations/{station_id}/firmware-updates",
            {"location": "https://firmware.example/sim-3.1.bin"},
        )
        assert status == 201, body
        done = await final(server, f"/api/v1/firmware-updates/{body['id']}")
        assert done["status"] == "InstallationFailed", done
        assert station.firmware_version == "sim-1.0"


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_profile_set_through_voltmesh_is_obeyed(server: Running, version: str) -> None:
    station_id = f"SIM-SC-{version[-3:]}"
    async with connected(server, station_id, version) as station:
        status, body = await server.put("/api/v1/id-tags/SIM-DRIVER", {"status": "Accepted"})
        assert status in (200, 201), body
        station.arrive(1, "SIM-DRIVER")
        battery = await eventually(lambda: station.evses[0].battery, what="a session")
        assert battery is not None
        await eventually(lambda: battery.power_w() == 22_000, what="full power")
        status, kept = await server.post(
            f"/api/v1/stations/{station_id}/charging-profiles",
            {
                "evse_id": 0,
                "id": 7,
                "stack_level": 1,
                "purpose": "TxDefaultProfile",
                "kind": "Absolute",
                "schedules": [
                    {
                        "unit": "A",
                        "periods": [{"start_period": 0, "limit": 10}],
                        "start": "2026-01-01T00:00:00Z",
                    }
                ],
            },
        )
        assert status == 201, kept
        assert battery.power_w() == pytest.approx(10 * 230 * 3)
        status, composite = await server.get(
            f"/api/v1/stations/{station_id}/composite-schedule?evse_id=1&duration=600"
        )
        assert status == 200, composite


async def test_a_local_controller_publishes_firmware_for_voltmesh(server: Running) -> None:
    station_id = "SIM-LC-201"
    path = f"/api/v1/stations/{station_id}/firmware-publications"
    async with connected(server, station_id, "ocpp2.0.1", {"local_controller": True}) as station:
        status, body = await server.post(
            path,
            {"location": "https://firmware.example/lc-2.bin", "checksum": "ab" * 16},
        )
        assert status == 201, body

        async def published() -> bool:
            status, listed = await server.get(path)
            assert status == 200, listed
            return any(p["status"] == "Published" for p in listed["items"])

        await eventually(published, within=300 * UNIT, what="Published")
        assert list(station.published) == ["ab" * 16]
