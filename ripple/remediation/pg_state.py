"""The backfill state (see state.py) in PostgreSQL, beside the event log of RIPPLE_DATABASE_URL.

The SQL is `SqlState`'s; here are the connection pool, the transaction (row locks with
`SELECT … FOR UPDATE`, so a compare-and-set holds between processes) and the translation of
driver errors into StoreUnavailable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, LiteralString

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ripple.errors import StoreUnavailable
from ripple.ingest.database import PostgresDatabase, redacted
from ripple.remediation.sql_state import SqlState, schema
from ripple.remediation.state import Clock, utc_now

_SCHEMA_LOCK = 0x52495050_4246  # "RIPPBF": concurrent CREATE TABLE IF NOT EXISTS collide
_CHECK = "check that PostgreSQL is running and that RIPPLE_DATABASE_URL names it"


def _sql(text: str) -> LiteralString:
    """SqlState's `?` placeholders as psycopg's `%s` (values always travel as parameters)."""
    return text.replace("?", "%s")


class _PgTx:
    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = await self._conn.execute(_sql(sql), params)
        if cursor.description is None:
            return []
        return await cursor.fetchall()

    async def many(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        if params:
            async with self._conn.cursor() as cursor:
                await cursor.executemany(_sql(sql), params)


class PostgresBackend:
    locks_rows = True

    def __init__(
        self, url: str, *, database: PostgresDatabase | None = None, timeout: float = 10.0
    ) -> None:
        self._url = url
        self.database = database or PostgresDatabase(url, max_connections=4, wait=timeout)
        self._pool: AsyncConnectionPool | None = None

    async def open(self) -> None:
        async with self._boundary("open"):
            self._pool = await self.database.acquire(
                [_sql(statement) for statement in schema("bigserial PRIMARY KEY")],
                lock=_SCHEMA_LOCK,
            )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool = None
            await self.database.release()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_PgTx]:
        if self._pool is None:
            raise StoreUnavailable("The backfill state in PostgreSQL is not open")
        async with self._boundary("use"), self._pool.connection() as conn, conn.transaction():
            yield _PgTx(conn)

    @asynccontextmanager
    async def _boundary(self, doing: str) -> AsyncIterator[None]:
        try:
            yield
        except (psycopg.Error, PoolTimeout, OSError) as exc:
            raise StoreUnavailable(
                f"Cannot {doing} the backfill state in PostgreSQL at {redacted(self._url)}: "
                f"{str(exc).strip() or type(exc).__name__} — {_CHECK}"
            ) from exc


class PostgresRemediationState(SqlState):
    def __init__(
        self,
        url: str,
        clock: Clock = utc_now,
        *,
        database: PostgresDatabase | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._backend = PostgresBackend(url, database=database, timeout=timeout)
        self.database = self._backend.database
        super().__init__(self._backend, clock)

    async def open(self) -> None:
        await self._backend.open()

    async def close(self) -> None:
        await self._backend.close()
