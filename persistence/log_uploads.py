"""Log uploads (GetLog, 1.6 GetDiagnostics) to their final status, and the files stations sent."""

from __future__ import annotations
