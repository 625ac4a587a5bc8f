"""Operator accounts: a name, a role and a password hash (scrypt; never the password)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.keyed_rows import create_or_update, delete_by_key
from persistence.models import users
from persistence.pages import Page, page_by_key
from persistence.reads import Reads
from persistence.sqltypes import utcnow


@dataclass(frozen=True, slots=True)
class UserRecord:
    """One operator account as stored."""

    name: str
    role: str
    """viewer, operator or admin."""
    password_hash: str
    created_at: datetime
    updated_at: datetime


def _user(row: RowMapping) -> UserRecord:
    return UserRecord(
        name=row["name"],
        role=row["role"],
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def get_user(db: Reads, name: str) -> UserRecord | None:
    row = await db.first(select(users).where(users.c.name == name))
    return _user(row) if row else None


async def list_users(db: Reads, *, limit: int, after: str | None) -> Page[UserRecord]:
    return await page_by_key(
        db, users.c.name, limit=limit, after=after, item=_user, key_of=lambda u: u.name
    )


async def count_users(db: Reads, *, role: str | None = None) -> int:
    query = select(func.count().label("count")).select_from(users)
    if role is not None:
        query = query.where(users.c.role == role)
    row = await db.first(query)
    return int(row["count"]) if row else 0


async def put_user(
    engine: AsyncEngine, name: str, *, role: str | None, password_hash: str | None
) -> bool:
    """Create a user or change its role and/or password (None keeps it); True when created.
    A new user needs both."""
    values: dict[str, object] = {"updated_at": utcnow()}
    if role is not None:
        values["role"] = role
    if password_hash is not None:
        values["password_hash"] = password_hash
    if role is None or password_hash is None:
        async with engine.begin() as conn:
            updated = await conn.execute(users.update().where(users.c.name == name).values(values))
        if not updated.rowcount:
            raise LookupError(name)
        return False
    return await create_or_update(engine, users.c.name, name, values, utcnow())


async def create_user_if_none(
    engine: AsyncEngine, name: str, role: str, password_hash: str
) -> bool:
    """Create ``name`` only when the store has no user at all; True when it was created.

    Two nodes starting at once on one store: the loser's insert fails on the key."""
    now = utcnow()
    try:
        async with engine.begin() as conn:
            existing = (await conn.execute(select(func.count()).select_from(users))).scalar_one()
            if existing:
                return False
            await conn.execute(
                users.insert().values(
                    name=name,
                    role=role,
                    password_hash=password_hash,
                    created_at=now,
                    updated_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


async def delete_user(engine: AsyncEngine, name: str) -> bool:
    return await delete_by_key(engine, users.c.name, name)
