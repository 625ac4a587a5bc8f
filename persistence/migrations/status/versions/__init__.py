"""Revisions of the status store, oldest first by ``down_revision``."""
