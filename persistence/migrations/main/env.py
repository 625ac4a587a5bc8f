"""Alembic environment of the main store; run only through ``persistence.migrate.migrate``."""

from __future__ import annotations

from persistence.migrate import run_environment
from persistence.models import metadata

run_environment(metadata, version_table="alembic_version")
