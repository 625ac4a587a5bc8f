"""The integers of a station's payload that are kept in 32-bit columns: monitor and message ids,
request ids, EVSE and connector ids, severities.

The bound and its check live with the other payload readers (``csms.payloads.fields``); they are
named here too for the modules that import them from this one.
"""

from __future__ import annotations

from csms.payloads.fields import INT32_MAX, INT32_MIN, fits_int32, require_int32

__all__ = ["INT32_MAX", "INT32_MIN", "fits_int32", "require_int32"]
