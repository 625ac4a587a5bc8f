"""Storage of voltmesh: the main store (stations, id tokens, transactions, meter values) behind a
group-commit writer, and the write-behind status store (presence and connector status).

Modules: ``models`` and ``status_models`` (tables), ``database`` (engines, dialect helpers),
``migrate`` (schema migrations applied on start), ``writer`` (group commit), ``reads`` (where reads
run), ``records`` (rows as the domain sees them), ``ids`` (OCPP 1.6 transaction ids),
``status_store`` (coalesced status writes), ``errors``.

One module per aggregate reads it and builds its write operations: ``stations``, ``id_tokens``,
``transactions`` (with their meter samples and 2.x event log), ``events`` (station events),
``device_model``; ``pages`` paginates their listings and ``keyed_rows`` runs the operator's edits.
Nothing here imports the actors: the domain depends on storage, never the reverse.
"""
