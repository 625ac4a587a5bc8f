"""``GET /api/v1/stations/{id}/certificates``: the certificates a station holds, as its answers to
InstallCertificate, DeleteCertificate, GetInstalledCertificateIds and CertificateSigned told them."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from http_api.problems import ApiProblem, json_response
from http_api.state import API_STATE
from persistence import stations
from persistence.certificates import list_certificates

routes = web.RouteTableDef()


def certificate_view(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "certificate_type": row["certificate_type"],
        "hash_algorithm": row["hash_algorithm"],
        "issuer_name_hash": row["issuer_name_hash"],
        "issuer_key_hash": row["issuer_key_hash"],
        "serial_number": row["serial_number"],
        "details": row["details"],
        "updated_at": row["updated_at"],
    }


@routes.get("/api/v1/stations/{station_id}/certificates")
async def station_certificates(request: web.Request) -> web.Response:
    state = request.app[API_STATE]
    station_id = request.match_info["station_id"]
    if await stations.get_station(state.reads, station_id) is None:
        raise ApiProblem(404, "Not Found", f"no station {station_id!r}")
    rows = await list_certificates(state.reads, station_id)
    return json_response({"items": [certificate_view(r) for r in rows], "next": None})
