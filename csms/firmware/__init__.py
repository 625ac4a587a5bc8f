"""Firmware updates and log uploads tracked to their final status (OCPP 1.6 Firmware Management
and its security extension, 2.0.1 L and N)."""

from csms.firmware import logs, tracking
from csms.firmware.loop import firmware_loop
from csms.station.features import Feature

FEATURE = Feature(
    v16={
        "FirmwareStatusNotification": tracking.firmware_status,
        "SignedFirmwareStatusNotification": tracking.firmware_status,
        "DiagnosticsStatusNotification": logs.diagnostics_status,
        "LogStatusNotification": logs.log_status,
    },
    v2={
        "FirmwareStatusNotification": tracking.firmware_status,
        "PublishFirmwareStatusNotification": tracking.publication_status,
        "LogStatusNotification": logs.log_status,
    },
    observers={
        "UpdateFirmware": tracking.update_answered,
        "SignedUpdateFirmware": tracking.update_answered,
        "PublishFirmware": tracking.publish_answered,
        "UnpublishFirmware": tracking.unpublish_answered,
        "GetLog": logs.get_log_answered,
        "GetDiagnostics": logs.get_diagnostics_answered,
    },
    background=(firmware_loop,),
)
