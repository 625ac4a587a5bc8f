"""Alembic environment of the status store; run only through ``persistence.migrate.migrate``."""

from __future__ import annotations

from persistence.migrate import run_environment
from persistence.status_models import status_metadata

run_environment(status_metadata, version_table="alembic_version_status")
