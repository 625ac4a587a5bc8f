from __future__ import annotations

from pathlib import Path

import pytest

from csms.station.services import UnknownStationPolicy
from transport.versions import OcppVersion
from voltmesh.config import ConfigError, load_settings


def test_defaults_are_embedded_sqlite() -> None:
    settings = load_settings({})
    assert settings.ocpp_port == 9000
    assert settings.api_port == 8080
    assert settings.main_url == f"sqlite+aiosqlite:///{Path('data') / 'voltmesh.db'}"
    assert settings.unknown_stations is UnknownStationPolicy.ACCEPT


def test_environment_then_flags() -> None:
    env = {"VOLTMESH_OCPP_PORT": "9100", "VOLTMESH_UNKNOWN_STATIONS": "PENDING"}
    settings = load_settings(env, {"ocpp_port": "9200", "api_port": None})
    assert settings.ocpp_port == 9200
    assert settings.api_port == 8080
    assert settings.unknown_stations is UnknownStationPolicy.PENDING
    assert load_settings({"VOLTMESH_SUBPROTOCOLS": "ocpp1.6"}).subprotocols == (OcppVersion.V16,)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"VOLTMESH_OCPP_PORT": "nine"}, "VOLTMESH_OCPP_PORT"),
        ({"VOLTMESH_HEARTBEAT_INTERVAL": "0"}, "VOLTMESH_HEARTBEAT_INTERVAL"),
        ({"VOLTMESH_UNKNOWN_STATIONS": "maybe"}, "VOLTMESH_UNKNOWN_STATIONS"),
        ({"VOLTMESH_SUBPROTOCOLS": "ocpp9"}, "VOLTMESH_SUBPROTOCOLS"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        load_settings(env)
