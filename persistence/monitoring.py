"""Variable monitors a station holds, its monitoring base and level."""

from __future__ import annotations
