"""Migrations of the main store (version table ``alembic_version``)."""
