"""What a 1.6 station's answers tell of its configuration keys, to be stored."""

from __future__ import annotations

from csms.station.configuration import ConfigurationCache
from persistence.stations import ConfigurationKey


def test_a_full_get_configuration_is_complete_and_lists_unknown_keys() -> None:
    cache = ConfigurationCache()
    learned = cache.observe(
        "GetConfiguration",
        {},
        {
            "configurationKey": [
                {"key": "HeartbeatInterval", "value": "300", "readonly": False},
                {"key": "NumberOfConnectors", "value": "2", "readonly": True},
            ],
            "unknownKey": ["Nope"],
        },
    )
    assert learned is not None and learned.complete
    assert learned.keys == (
        ConfigurationKey("HeartbeatInterval", "300", False),
        ConfigurationKey("NumberOfConnectors", "2", True),
        ConfigurationKey("Nope", None, None, known=False),
    )
    partial = cache.observe("GetConfiguration", {"key": ["Nope"]}, {"unknownKey": ["Nope"]})
    assert partial is not None and not partial.complete


def test_a_change_is_learned_only_when_the_station_took_it() -> None:
    cache = ConfigurationCache()
    request = {"key": "HeartbeatInterval", "value": "60"}
    assert cache.observe("ChangeConfiguration", request, {"status": "Rejected"}) is None
    learned = cache.observe("ChangeConfiguration", request, {"status": "RebootRequired"})
    assert learned is not None
    assert learned.keys == (ConfigurationKey("HeartbeatInterval", "60", False),)
    assert cache.view()["keys"] == [{"key": "HeartbeatInterval", "value": "60", "readonly": False}]
    assert cache.observe("Reset", {"type": "Soft"}, {"status": "Accepted"}) is None


def test_a_password_shown_by_the_station_is_never_kept() -> None:
    learned = ConfigurationCache().observe(
        "GetConfiguration",
        {"key": ["AuthorizationKey"]},
        {"configurationKey": [{"key": "AuthorizationKey", "value": "s3cret", "readonly": False}]},
    )
    assert learned is not None
    assert learned.keys == (ConfigurationKey("AuthorizationKey", "***", False),)
