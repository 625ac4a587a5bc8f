"""Display messages a station holds."""

from __future__ import annotations
