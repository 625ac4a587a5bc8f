"""Readers of OCPP payloads: timestamps, meter values, device model reports. Pure functions."""
