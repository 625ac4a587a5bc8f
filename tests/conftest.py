"""Shared fixtures. Each area keeps its fixtures in a module of its own and exposes them here."""

from tests.persistence_fixtures import (
    db_url,
    main_engine,
    postgres_url,
    sqlite_url,
    status_db_url,
    status_engine,
)

__all__ = [
    "db_url",
    "main_engine",
    "postgres_url",
    "sqlite_url",
    "status_db_url",
    "status_engine",
]
