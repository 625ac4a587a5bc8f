"""Sites: grid connections, their limits, and the stations and EVSEs behind them."""

from __future__ import annotations
