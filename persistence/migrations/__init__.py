"""Alembic migration trees: ``main`` (the main store) and ``status`` (the status store).

They run from code (``persistence.migrate.migrate``); there is no alembic.ini. To write a new
revision, copy the latest file of the tree's ``versions`` package, set ``down_revision`` to its
``revision`` and write ``upgrade``/``downgrade`` by hand; the schema test compares the result with
the metadata.
"""
