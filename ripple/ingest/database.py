"""Opening the databases Ripple keeps its state in, the same way for every user of them.

SQLite: `connect_sqlite` opens the data directory's file with the settings durability needs
(WAL, `synchronous=FULL`, a busy timeout for other processes), for the event log and the
remediation state alike. PostgreSQL: one `PostgresDatabase` per URL holds one connection pool
that the event log and the remediation state share; each user creates its tables through it,
the first opens the pool and the last closes it. Driver and pool errors propagate; each user
translates them at its own boundary, where it can say what it was doing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, LiteralString
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:  # psycopg is imported when PostgreSQL is used: SQLite users skip its import
    import psycopg
    from psycopg_pool import AsyncConnectionPool

_LOCK: LiteralString = "SELECT pg_advisory_xact_lock(%s)"


def connect_sqlite(path: str) -> sqlite3.Connection:
    """A connection to the SQLite file at `path` (its directory made; `:memory:` for tests) in
    autocommit mode, WAL, every commit synced to disk."""
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA busy_timeout=10000")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
    except BaseException:
        db.close()
        raise
    return db


class PostgresDatabase:
    """One PostgreSQL database and the one pool of autocommit connections its users share.

    `wait` bounds connecting and waiting for a pooled connection (seconds). Every connection
    runs with `synchronous_commit = on`: durability must not depend on the server's or the
    role's defaults."""

    def __init__(self, url: str, *, max_connections: int = 6, wait: float = 10.0) -> None:
        self.url = url
        self._max_connections = max_connections
        self._wait = wait
        self._pool: AsyncConnectionPool | None = None
        self._users = 0

    @property
    def users(self) -> int:
        """How many users hold the pool open."""
        return self._users

    async def acquire(self, schema: Sequence[LiteralString], *, lock: int) -> AsyncConnectionPool:
        """Create `schema` (idempotent DDL) under the advisory lock `lock` — concurrent `CREATE
        … IF NOT EXISTS` from several processes collide otherwise — then the shared pool (opened
        by the first user). Pair each call with `release`."""
        import psycopg
        from psycopg_pool import AsyncConnectionPool

        conn = await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=max(1, round(self._wait))
        )
        async with conn, conn.transaction():
            await conn.execute(_LOCK, (lock,))
            for statement in schema:
                await conn.execute(statement)
        if self._pool is None:
            pool = AsyncConnectionPool(
                self.url,
                min_size=1,
                max_size=self._max_connections,
                kwargs={"autocommit": True},
                configure=_configure,
                timeout=self._wait,
                open=False,
            )
            try:
                await pool.open(wait=True, timeout=self._wait)
            except BaseException:
                await pool.close()
                raise
            self._pool = pool
        self._users += 1
        return self._pool

    async def release(self) -> None:
        """One user is done; the last one closes the pool."""
        self._users = max(0, self._users - 1)
        if self._users == 0 and self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.execute("SET synchronous_commit = on")


def redacted(url: str) -> str:
    """The URL without its password, fit for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
    except ValueError:
        return "<unparsable URL>"
