"""What a station model does beyond charging (``[fleet.behaviour]``): which OCPP features it has,
how its firmware updates and log uploads end, and which calls it refuses or leaves unanswered, so
that a scenario (or a test) can give a fleet the unhappy paths of real chargers."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import StrictBool, StrictInt, StrictStr

from sim.fleet.scenario_fields import Positive, check, table

FIRMWARE_OUTCOMES: Final = ("Installed", "DownloadFailed", "InstallationFailed", "InvalidSignature")
"""How a firmware update ends: installed (and the station reboots on the new version), or the
failure a station reports (2.0.1 L01, 1.6 section 6.25, 1.6 security section 4.3)."""
LOG_OUTCOMES: Final = ("Uploaded", "UploadFailure")
"""How a log upload ends; a real HTTP failure also ends in UploadFailure (1.6: UploadFailed)."""
UPLOAD_METHODS: Final = ("PUT", "POST")

REFUSALS: Final[dict[str, str]] = {
    "SetChargingProfile": "Rejected",
    "ClearChargingProfile": "Unknown",
    "GetCompositeSchedule": "Rejected",
    "GetChargingProfiles": "NoProfiles",
    "ReserveNow": "Rejected",
    "CancelReservation": "Rejected",
    "SendLocalList": "Failed",
    "SignedUpdateFirmware": "Rejected",
    "GetLog": "Rejected",
    "SetDisplayMessage": "Rejected",
    "PublishFirmware": "Rejected",
    "GetDisplayMessages": "Unknown",
    "ClearDisplayMessage": "Unknown",
    "RemoteStartTransaction": "Rejected",
    "RemoteStopTransaction": "Rejected",
    "RequestStartTransaction": "Rejected",
    "RequestStopTransaction": "Rejected",
    "Reset": "Rejected",
    "ChangeAvailability": "Rejected",
    "ChangeConfiguration": "Rejected",
    "ClearCache": "Rejected",
    "TriggerMessage": "Rejected",
}
"""What a station answers to an action in ``behaviour.reject``: the refusal of that action's
status enumeration (2.x UpdateFirmware is also Rejected; 1.6 UpdateFirmware and GetDiagnostics
have no status and cannot be refused, only left unanswered or unsupported)."""
_REFUSABLE = frozenset(REFUSALS) | {"UpdateFirmware"}


def refusal(action: str, *, is_2x: bool) -> str | None:
    """The status a station answers to ``action`` when its behaviour refuses it; None when the
    action has no refusal to give (1.6 UpdateFirmware)."""
    if action == "UpdateFirmware":
        return "Rejected" if is_2x else None
    return REFUSALS.get(action)


def _one_of(choices: tuple[str, ...]) -> object:
    return check(lambda v: v in choices, f"must be one of {', '.join(choices)}")


_Actions = tuple[StrictStr, ...]


@table
class Behaviour:
    """A station model's features and faults (``[fleet.behaviour]``); every key is optional."""

    smart_charging: StrictBool = True
    """Keeps and obeys charging profiles (1.6 Smart Charging profile, 2.x K)."""
    reservations: StrictBool = True
    """Holds reservations (1.6 Reservation profile, 2.x H)."""
    local_list: StrictBool = True
    """Keeps a local authorization list (1.6 Local Auth List Management, 2.x D)."""
    display_messages: StrictBool = True
    """2.x only: shows display messages (O)."""
    local_controller: StrictBool = False
    """2.x only: a local controller, which publishes firmware for the stations behind it
    (PublishFirmware / UnpublishFirmware, L03 / L04)."""
    firmware_outcome: Annotated[StrictStr, _one_of(FIRMWARE_OUTCOMES)] = "Installed"
    """How a firmware update ends; see `FIRMWARE_OUTCOMES`."""
    log_outcome: Annotated[StrictStr, _one_of(LOG_OUTCOMES)] = "Uploaded"
    """How a log upload ends; see `LOG_OUTCOMES`."""
    log_upload_method: Annotated[StrictStr, _one_of(UPLOAD_METHODS)] = "PUT"
    """HTTP method of a log upload."""
    step_seconds: Positive = 10.0
    """Simulated seconds between two statuses of a firmware update or a log upload."""
    voltage: Positive = 230.0
    """Volts per phase: an A limit is ``A x voltage x phases`` W."""
    phases: Annotated[StrictInt, check(lambda n: 1 <= n <= 3, "must be 1, 2 or 3")] = 3
    reject: tuple[
        Annotated[
            StrictStr,
            check(lambda a: a in _REFUSABLE, f"must be one of {', '.join(sorted(_REFUSABLE))}"),
        ],
        ...,
    ] = ()
    """CSMS actions the station refuses with the refusal status of that action (Rejected,
    Unknown, Failed...)."""
    unsupported: _Actions = ()
    """CSMS actions answered with a CALLERROR NotImplemented (1.6) / NotSupported (2.x)."""
    ignore: _Actions = ()
    """CSMS actions the station never answers (the CSMS's timeout path)."""
