"""Variable monitors and display messages kept per station (OCPP 2.0.1 N and O; 2.x only)."""

from csms.monitoring import display, monitors
from csms.station.features import Feature

FEATURE = Feature(
    v2={
        "NotifyMonitoringReport": monitors.notify_monitoring_report,
        "NotifyDisplayMessages": display.notify_display_messages,
    },
    observers={
        "SetVariableMonitoring": monitors.set_variable_monitoring,
        "ClearVariableMonitoring": monitors.clear_variable_monitoring,
        "SetMonitoringBase": monitors.set_monitoring_base,
        "SetMonitoringLevel": monitors.set_monitoring_level,
        "GetMonitoringReport": monitors.get_monitoring_report,
        "SetDisplayMessage": display.set_display_message,
        "ClearDisplayMessage": display.clear_display_message,
        "GetDisplayMessages": display.get_display_messages,
    },
)
