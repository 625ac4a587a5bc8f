"""What the CSMS knows of a charger's configuration keys (OCPP 1.6 sections 5.8, 5.3).

Filled from the charger's own answers to GetConfiguration and ChangeConfiguration, so an operator can see
the last known values without asking the charger again. The cache lives as long as the connection;
``observe`` also returns what the answer told, which the charge point stores (``station_configuration``),
so the keys outlive reconnects and restarts, each with when it was learned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from csms.pki.passwords import AUTHORIZATION_KEY, REDACTED
from persistence.stations import ConfigurationKey


@dataclass(frozen=True, slots=True)
class Learned:
    """What one answer told of the configuration."""

    keys: tuple[ConfigurationKey, ...]
    """Keys with their values, and those the station does not know."""
    complete: bool
    """The whole configuration (GetConfiguration without keys): it replaces what was known."""


@dataclass(slots=True)
class ConfigurationCache:
    """Last known configuration keys of one connected station."""

    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Key -> {"value": str | None, "readonly": bool}."""
    unknown: set[str] = field(default_factory=set)
    """Keys the charger said it does not know."""
    updated_at: datetime | None = None
    """When an answer last changed it."""

    def observe(
        self, action: str, request: dict[str, Any], response: dict[str, Any]
    ) -> Learned | None:
        """Learn from the answer to a CSMS-initiated call; returns what it told, to be stored
        (None: nothing, other actions are ignored). ``request`` must be redacted already (an
        AuthorizationKey is never kept)."""
        learned: list[ConfigurationKey] = []
        if action == "GetConfiguration":
            for entry in response.get("configurationKey") or []:
                # The password is write-only (1.6 security whitepaper); a charger that shows
                # it anyway does not get it kept.
                value = entry.get("value")
                if entry["key"] == AUTHORIZATION_KEY and value is not None:
                    value = REDACTED
                readonly = bool(entry.get("readonly", False))
                self.keys[entry["key"]] = {"value": value, "readonly": readonly}
                self.unknown.discard(entry["key"])
                learned.append(ConfigurationKey(entry["key"], value, readonly))
            for key in response.get("unknownKey") or []:
                self.unknown.add(key)
                self.keys.pop(key, None)
                learned.append(ConfigurationKey(key, None, None, known=False))
            # 1.6 section 5.8: without keys the answer lists the whole configuration.
            complete = not request.get("key")
        elif action == "ChangeConfiguration":
            # RebootRequired: the value is stored and takes effect after the reboot.
            if response.get("status") not in ("Accepted", "RebootRequired"):
                return None
            entry = self.keys.setdefault(request["key"], {"value": None, "readonly": False})
            entry["value"] = request["value"]
            self.unknown.discard(request["key"])
            learned.append(ConfigurationKey(request["key"], request["value"], False))
            complete = False
        else:
            return None
        self.updated_at = datetime.now(UTC)
        return Learned(tuple(learned), complete)

    def view(self) -> dict[str, Any]:
        return {
            "keys": [{"key": k, **v} for k, v in sorted(self.keys.items())],
            "unknown": sorted(self.unknown),
            "updated_at": self.updated_at,
        }
