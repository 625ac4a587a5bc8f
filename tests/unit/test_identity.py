"""Charge point identities (OCPP 2.0.1 A00.FR.503: up to 48 identifierString characters) and the
2.x transaction keys built on them."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, cast

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

import http_api
from gateway.endpoint import RESERVED_IDENTITIES, OcppEndpoint, valid_identity
from persistence.records import V2_TRANSACTION_SEPARATOR, v2_transaction_key
from transport.versions import OcppVersion

IDENTIFIER_STRING = "abcxyzABCXYZ0189*-_=:+|@."


@pytest.mark.parametrize(
    "station_id",
    ["CP-001", "a", "a" * 48, "COL:1", "x*y=z+w|v@u.t_s", "..a", "api1", "APIs", "ocpp2"],
)
def test_identifier_strings_of_up_to_48_characters_qualify(station_id: str) -> None:
    assert valid_identity(station_id)
    assert valid_identity(station_id, stored=True)


@pytest.mark.parametrize(
    "station_id",
    [
        "",
        "a" * 49,
        ".",
        "..",
        "api",
        "API",
        "ocpp",
        "healthz",
        "readyz",
        "metrics",
        "openapi.json",
        "a~b",
        "a b",
        "a/b",
        "a%2F",
        "a,b",
        "a?b",
        "a#b",
        "café",
        "a\n",
        "CP\x00",
        "CP\t",
    ],
)
def test_new_stations_outside_the_rule_are_refused(station_id: str) -> None:
    assert not valid_identity(station_id)


@pytest.mark.parametrize("station_id", ["a" * 64, "a~b", "api", "..", "metrics"])
def test_a_stored_station_that_earlier_releases_accepted_still_qualifies(station_id: str) -> None:
    assert not valid_identity(station_id)
    assert valid_identity(station_id, stored=True)


@pytest.mark.parametrize("station_id", ["a" * 65, "a b", "a,b", "a%b", "a/b", "", "a\n", "a=b"])
def test_stored_never_widens_beyond_what_was_ever_accepted(station_id: str) -> None:
    assert not valid_identity(station_id, stored=True) or set(station_id) <= set(IDENTIFIER_STRING)


def _first_segments(routes: list[web.AbstractRouteDef]) -> set[str]:
    segments = set()
    for route in routes:
        assert isinstance(route, web.RouteDef)
        first = route.path.strip("/").split("/")[0]
        if first and not first.startswith("{"):
            segments.add(first)
    return segments


def test_every_route_name_is_reserved() -> None:
    """Derived from the registered routes of both ports: a new top-level route cannot be shadowed
    by a station of the same name (/{id} on the OCPP port, /api/v1/stations/{id} in the API)."""
    api_routes: list[web.AbstractRouteDef] = []
    for module_info in pkgutil.iter_modules(http_api.__path__):
        module = importlib.import_module(f"http_api.{module_info.name}")
        table = getattr(module, "routes", None)
        if isinstance(table, web.RouteTableDef):
            api_routes.extend(table)
    nothing = cast(Any, None)
    endpoint = OcppEndpoint(
        nothing, nothing, nothing, subprotocols=(), default_version=OcppVersion.V16
    )
    names = _first_segments(api_routes) | _first_segments(list(endpoint.routes()))
    assert {"api", "healthz", "readyz", "metrics", "ocpp"} <= names
    assert names <= RESERVED_IDENTITIES
    for name in names:
        assert not valid_identity(name)


def test_the_separator_of_2x_transaction_keys_is_in_no_identity() -> None:
    for stored in (False, True):
        assert not valid_identity("a" + V2_TRANSACTION_SEPARATOR + "b", stored=stored)
        assert not valid_identity("a%b", stored=stored)


def test_2x_transaction_keys_that_used_to_collide_differ() -> None:
    assert v2_transaction_key("COL", "1:X") != v2_transaction_key("COL:1", "X")
    assert v2_transaction_key("CP-1", "tx") == "CP-1,tx"


@given(st.text(), st.text(), st.text(), st.text())
def test_2x_transaction_keys_are_collision_free_whatever_the_ids_contain(
    station_a: str, transaction_a: str, station_b: str, transaction_b: str
) -> None:
    same_key = v2_transaction_key(station_a, transaction_a) == v2_transaction_key(
        station_b, transaction_b
    )
    assert same_key == ((station_a, transaction_a) == (station_b, transaction_b))
