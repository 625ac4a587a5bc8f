"""Storage of voltmesh: the main store (stations, id tokens, transactions, meter values) behind a
group-commit writer, and the write-behind status store (presence and connector status).

Modules: ``models`` and ``status_models`` (tables), ``database`` (engines, dialect helpers),
``migrate`` (schema migrations applied on start), ``writer`` (group commit), ``ids`` (OCPP 1.6
transaction ids), ``status_store`` (coalesced status writes), ``errors``.
"""
