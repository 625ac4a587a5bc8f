"""Local authorization lists: the version each station holds and what it was sent."""

from __future__ import annotations
