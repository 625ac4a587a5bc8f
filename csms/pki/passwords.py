"""Basic-auth passwords of stations (security profiles 1 and 2): how a new one is made, checked,
carried to the charger, and kept out of what is stored or shown; and the other secrets a
CSMS-initiated call carries (the upload URL of a log request), kept out of it alike.

OCPP 2.0.1 Part 2 A01 (update charging station password): SetVariables
SecurityCtrlr.BasicAuthPassword, a passwordString of 16 to 40 characters. The 1.6 security whitepaper
(and its test case TC_073): ChangeConfiguration AuthorizationKey, whose value is the hexadecimal
encoding of a password of 16 to 20 bytes; the charger decodes it and sends the bytes in its basic-auth
header. Pure: no I/O.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from transport.versions import OcppVersion

MIN_LENGTH = 16
MAX_LENGTH_V2 = 40
MAX_LENGTH_V16 = 20
"""1.6: 16-20 bytes; the hex value in AuthorizationKey is then at most 40 characters."""
GENERATED_LENGTH_V2 = 32
GENERATED_LENGTH_V16 = 20

# Generated passwords use alphanumerics and the specials of OCPP's identifierString: every charger
# stores and sends them alike (no quoting in a basic-auth header, a URL or a configuration UI).
_GENERATED_ALPHABET = string.ascii_letters + string.digits + "*-_=:+|@."
# Given ones may be any printable ASCII but the space: what the basic-auth header carries unchanged
# and what the charger's decoding of the 1.6 hex value gives back as the same bytes.
_ALLOWED = frozenset(chr(c) for c in range(0x21, 0x7F))

SECURITY_COMPONENT = "SecurityCtrlr"
PASSWORD_VARIABLE = "BasicAuthPassword"
AUTHORIZATION_KEY = "AuthorizationKey"
REDACTED = "***"
"""What stored or shown copies of a password command carry instead of the password."""


class InvalidPassword(ValueError):
    """A password the station's OCPP version does not allow; the message says why."""


def max_length(version: OcppVersion) -> int:
    return MAX_LENGTH_V16 if version is OcppVersion.V16 else MAX_LENGTH_V2


def generate_password(version: OcppVersion) -> str:
    """A random password for a station of ``version`` (about 190 bits for 2.x, 120 for 1.6)."""
    length = GENERATED_LENGTH_V16 if version is OcppVersion.V16 else GENERATED_LENGTH_V2
    return "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(length))


def check_password(password: object, version: OcppVersion) -> str:
    """``password`` if a station of ``version`` may use it; raises ``InvalidPassword``."""
    limit = max_length(version)
    if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= limit:
        raise InvalidPassword(
            f"password must be a string of {MIN_LENGTH} to {limit} characters for {version.value}"
        )
    if not set(password) <= _ALLOWED:
        raise InvalidPassword("password must be printable ASCII without spaces")
    return password


def password_command(version: OcppVersion, password: str) -> tuple[str, dict[str, Any]]:
    """The CSMS-initiated call that gives a station its new password."""
    if version is OcppVersion.V16:
        return "ChangeConfiguration", {
            "key": AUTHORIZATION_KEY,
            "value": password.encode("ascii").hex(),
        }
    return "SetVariables", {
        "setVariableData": [
            {
                "component": {"name": SECURITY_COMPONENT},
                "variable": {"name": PASSWORD_VARIABLE},
                "attributeValue": password,
            }
        ]
    }


def password_status(action: str, response: dict[str, Any]) -> str:
    """The station's answer to ``password_command``: Accepted, RebootRequired (stored, used after
    the reboot), Rejected..."""
    if action == "ChangeConfiguration":
        return str(response.get("status"))
    results = response.get("setVariableResult") or [{}]
    return str(results[0].get("attributeStatus"))


def took_password(status: str) -> bool:
    """Whether the station stored the new password (it may connect with it from now on)."""
    return status in ("Accepted", "RebootRequired")


def _is_password(component: Any, variable: Any) -> bool:
    return (
        isinstance(component, dict)
        and isinstance(variable, dict)
        and component.get("name") == SECURITY_COMPONENT
        and variable.get("name") == PASSWORD_VARIABLE
    )


_UPLOAD_SECRET = re.compile(r"(/uploads/[^/?#]+/)(\d{1,18}-)?[^/?#]+")
"""The last segment of an upload URL voltmesh makes for a log request:
``.../uploads/<station>/<log request id>-<secret>`` (``csms.firmware.logs.upload_url``)."""


def masked_upload_path(path: str) -> str:
    """``path`` (or URL) with the secret of an upload URL replaced by ``REDACTED``; the log
    request's id is kept (``/uploads/CP-1/8-***``), so that what is shown can still be matched."""
    return _UPLOAD_SECRET.sub(lambda m: f"{m[1]}{m[2] or ''}{REDACTED}", path, count=1)


def masked_location(url: str) -> str:
    """An upload location as it may be recorded: the secret of voltmesh's upload URL masked, and
    the password of credentials embedded in it (``ftp://user:password@host/``, which an operator's
    raw GetDiagnostics may carry) too."""
    try:
        parts = urlsplit(url)
        if parts.password is not None:
            user, _, host = parts.netloc.rpartition("@")
            name = user.split(":", 1)[0]
            url = urlunsplit(parts._replace(netloc=f"{name}:{REDACTED}@{host}"))
    except ValueError:
        # Not a URL urlsplit reads (a bad port...): masked as a path.
        pass
    return masked_upload_path(url)


def _log_location_redacted(action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """GetLog (2.0.1 N01, 1.6 security whitepaper) or GetDiagnostics (1.6 section 5.9) with its
    location masked; None for any other call."""
    if action == "GetLog":
        log = payload.get("log")
        if isinstance(log, dict) and isinstance(log.get("remoteLocation"), str):
            location = masked_location(log["remoteLocation"])
            return {**payload, "log": {**log, "remoteLocation": location}}
    elif action == "GetDiagnostics" and isinstance(payload.get("location"), str):
        return {**payload, "location": masked_location(payload["location"])}
    return None


def redacted(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` of a CSMS-initiated call with any station password replaced by ``REDACTED``,
    and the secret of a log request's upload URL masked: what is recorded (station events, device
    model, configuration view) and shown to viewers holds neither. Whoever learns an upload URL
    could upload to it in the station's place."""
    location = _log_location_redacted(action, payload)
    if location is not None:
        return location
    if action == "ChangeConfiguration" and payload.get("key") == AUTHORIZATION_KEY:
        return {**payload, "value": REDACTED}
    if action == "SetVariables":
        data = payload.get("setVariableData")
        if isinstance(data, list) and any(
            isinstance(d, dict) and _is_password(d.get("component"), d.get("variable"))
            for d in data
        ):
            return {
                **payload,
                "setVariableData": [
                    {**d, "attributeValue": REDACTED}
                    if isinstance(d, dict) and _is_password(d.get("component"), d.get("variable"))
                    else d
                    for d in data
                ],
            }
    return payload
