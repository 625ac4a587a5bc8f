"""Revisions of the main store, oldest first by ``down_revision``."""
