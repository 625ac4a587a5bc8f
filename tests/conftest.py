"""Shared fixtures. Each area keeps its fixtures in a module of its own and exposes them here."""

import pytest

from tests.persistence_fixtures import (
    db_url,
    main_engine,
    postgres_url,
    sqlite_url,
    status_db_url,
    status_engine,
)
from tests.timing import FACTOR

__all__ = [
    "db_url",
    "main_engine",
    "postgres_url",
    "sqlite_url",
    "status_db_url",
    "status_engine",
]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # The per-test limit stretches with the time unit on a slow machine, like every other wait
    # (unless --timeout was given).
    if FACTOR != 1 and config.option.timeout is None and config.getini("timeout"):
        config.option.timeout = float(config.getini("timeout")) * FACTOR
