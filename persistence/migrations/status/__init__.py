"""Migrations of the status store (version table ``alembic_version_status``)."""
