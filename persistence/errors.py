"""Errors of the persistence package.

Exception tree::

    PersistenceError                 root: anything this package raises on purpose
     ├── WriterClosed                the group-commit writer is not accepting writes
     ├── UnsupportedDatabase         a URL or dialect other than SQLite or PostgreSQL
     ├── IdSpaceExhausted            an id counter passed what its protocol field can carry
     └── StaleEpoch                  a write of a member that no longer holds the station

Database errors of a write (constraint violations, lost connections after the retries) reach the
submitter as the SQLAlchemy exception itself, so that callers can tell them apart.
"""

from __future__ import annotations


class PersistenceError(Exception):
    """Root of the errors raised by the persistence package."""


class WriterClosed(PersistenceError):
    """The writer was not started yet, or was stopped: the write was not queued."""


class UnsupportedDatabase(PersistenceError):
    """Only SQLite (aiosqlite) and PostgreSQL (asyncpg) are supported."""


class IdSpaceExhausted(PersistenceError):
    """The counter reached the largest value its field allows (int32 for OCPP 1.6 transactionId)."""


class StaleEpoch(PersistenceError):
    """The station connected again (to this member or another) after the writer of this submission
    took its lease: the write was not applied, so that a stale owner never overwrites newer state."""
