"""What the CSMS knows of a connected charger's configuration keys (OCPP 1.6 section 5.8, 5.3).

Filled from the charger's own answers to GetConfiguration and ChangeConfiguration, so an operator can see
the last known values without asking the charger again. It lives as long as the connection: a charger
may change its configuration while offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(slots=True)
class ConfigurationCache:
    """Last known configuration keys of one connected station."""

    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Key -> {"value": str | None, "readonly": bool}."""
    unknown: set[str] = field(default_factory=set)
    """Keys the charger said it does not know."""
    updated_at: datetime | None = None
    """When an answer last changed it."""

    def observe(self, action: str, request: dict[str, Any], response: dict[str, Any]) -> None:
        """Learn from the answer to a CSMS-initiated call (other actions are ignored)."""
        if action == "GetConfiguration":
            for entry in response.get("configurationKey") or []:
                self.keys[entry["key"]] = {
                    "value": entry.get("value"),
                    "readonly": bool(entry.get("readonly", False)),
                }
                self.unknown.discard(entry["key"])
            self.unknown.update(response.get("unknownKey") or [])
        elif action == "ChangeConfiguration":
            # RebootRequired: the value is stored and takes effect after the reboot.
            if response.get("status") not in ("Accepted", "RebootRequired"):
                return
            entry = self.keys.setdefault(request["key"], {"value": None, "readonly": False})
            entry["value"] = request["value"]
        else:
            return
        self.updated_at = datetime.now(UTC)

    def view(self) -> dict[str, Any]:
        return {
            "keys": [{"key": k, **v} for k, v in sorted(self.keys.items())],
            "unknown": sorted(self.unknown),
            "updated_at": self.updated_at,
        }
