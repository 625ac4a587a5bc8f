"""What a station's registration lets the CSMS send it (OCPP 1.6 section 4.2.1, 2.0.1 B02/B03), one
rule for the charge point actor that sends the call and for the REST resources that refuse a call
before spending anything on it."""

from __future__ import annotations

from persistence.records import RegistrationStatus, StationRecord

# What the CSMS may send a station before it is accepted: retrieve information and change its
# configuration (OCPP 1.6 section 4.2.1; 2.0.1 B02: GetVariables, SetVariables, GetBaseReport,
# GetReport, TriggerMessage...), provision its security (a triggered SignCertificate's answer), and
# Reset it so that it boots and learns its registration. Never start or stop a transaction; nothing
# at all to a Rejected station (2.0.1 B03).
WHILE_PENDING = frozenset(
    {
        # 1.6
        "GetConfiguration",
        "ChangeConfiguration",
        "TriggerMessage",
        "ExtendedTriggerMessage",
        # 2.x
        "GetVariables",
        "SetVariables",
        "GetBaseReport",
        "GetReport",
        "GetMonitoringReport",
        "GetDisplayMessages",
        "SetNetworkProfile",
        # both
        "Reset",
        "DataTransfer",
        "CertificateSigned",
        "InstallCertificate",
        "GetInstalledCertificateIds",
    }
)


def standing_of(station: StationRecord) -> RegistrationStatus:
    """How a registered station is served now. Pending is what its next BootNotification gets; a
    station whose last boot was Accepted does not know it is held back (2.0.1 B02 and 1.6 section
    4.2.1 bind a station that was answered Pending), and goes on running its transactions: were
    they refused now, their meter values and stops would be lost once the charger gives up
    resending (1.6 TransactionMessageAttempts, 2.0.1 MessageAttemptsTransactionEvent). It is
    served as Accepted until it boots (an operator may Reset it). Rejected applies at once."""
    if (
        station.registration is RegistrationStatus.PENDING
        and station.boot_status == RegistrationStatus.ACCEPTED.value
    ):
        return RegistrationStatus.ACCEPTED
    return station.registration


def refusal(standing: RegistrationStatus | None, action: str) -> str | None:
    """Why a station served as ``standing`` (None: not booted nor registered yet, so not
    accepted) may not be sent ``action`` now, or None if it may."""
    if standing is RegistrationStatus.REJECTED:
        return "nothing may be sent to a Rejected station (OCPP 1.6 4.2.1, 2.0.1 B03)"
    if standing is not RegistrationStatus.ACCEPTED and action not in WHILE_PENDING:
        return (
            f"{action} is not allowed while the station is not accepted (OCPP 1.6 4.2.1, 2.0.1 B02)"
        )
    return None
