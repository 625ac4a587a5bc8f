"""How a simulated station presents its credentials over HTTP: basic auth with its id as the user
(OCPP security profile 1 / 2 for the websocket, and the same for a log upload to the CSMS)."""

from __future__ import annotations

import base64


def basic_auth(user: str, password: str | None) -> dict[str, str]:
    """The ``Authorization`` header of HTTP basic auth (RFC 7617); none without a password."""
    if not password:
        return {}
    return authorization(user, password)


def authorization(user: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header of HTTP basic auth, whatever the password (even empty)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}
