"""The event log in PostgreSQL, so several API processes can share one durable log.

Same contract as `SqliteEventLog`: an append that returned is committed with
`synchronous_commit=on` (its WAL record is flushed), sequence numbers are strictly increasing,
and `read` returns events in sequence order. Bodies are stored as `bytea`, exactly as received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import LiteralString

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ripple.errors import StoreUnavailable
from ripple.ingest.database import PostgresDatabase, redacted

# Appends take this transaction-scoped advisory lock before drawing sequence numbers, so commits
# happen in sequence order across processes: a reader that has seen seq N will never later find
# a smaller seq committed behind it (bigserial alone leaves such gaps under concurrency).
_APPEND_LOCK = 0x52495050_4C45  # "RIPPLE"

_SCHEMA: LiteralString = """
CREATE TABLE IF NOT EXISTS events (
    seq bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    body bytea NOT NULL
)
"""
_META_SCHEMA: LiteralString = (
    "CREATE TABLE IF NOT EXISTS ripple_meta (key text PRIMARY KEY, value text NOT NULL)"
)
_NAME_LOG: LiteralString = (
    "INSERT INTO ripple_meta (key, value) VALUES ('log_id', gen_random_uuid()::text) "
    "ON CONFLICT (key) DO NOTHING"
)
_GET_META: LiteralString = "SELECT value FROM ripple_meta WHERE key = %s"
_SET_META: LiteralString = (
    "INSERT INTO ripple_meta (key, value) VALUES (%s, %s) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)
_LOCK: LiteralString = "SELECT pg_advisory_xact_lock(%s)"
_APPEND: LiteralString = """
INSERT INTO events (body)
SELECT body FROM unnest(%s::bytea[]) WITH ORDINALITY AS batch(body, position)
ORDER BY position
RETURNING seq
"""
_READ: LiteralString = "SELECT seq, body FROM events WHERE seq > %s ORDER BY seq LIMIT %s"
_FIND: LiteralString = (
    "SELECT seq, body FROM events WHERE position(%s::bytea in body) > 0 ORDER BY seq"
)
_LAST_SEQ: LiteralString = "SELECT COALESCE(MAX(seq), 0) FROM events"

_CHECK = "check that PostgreSQL is running and that RIPPLE_DATABASE_URL names it"


class PostgresEventLog:
    """An event log in the `events` table of a PostgreSQL database (created on open)."""

    def __init__(
        self, url: str, *, database: PostgresDatabase | None = None, timeout: float = 10.0
    ) -> None:
        """`database` is the pool shared with the remediation state (the runtime's); without
        one the log opens a pool of its own."""
        self._url = url
        self.database = database or PostgresDatabase(url, max_connections=4, wait=timeout)
        self._pool: AsyncConnectionPool | None = None

    async def open(self) -> None:
        async with self._boundary("open"):
            self._pool = await self.database.acquire(
                (_SCHEMA, _META_SCHEMA, _NAME_LOG), lock=_APPEND_LOCK
            )

    async def close(self) -> None:
        if self._pool is not None:
            self._pool = None
            await self.database.release()

    async def append(self, bodies: Sequence[bytes]) -> list[int]:
        if not bodies:
            return []
        pool = self._require_pool()
        async with self._boundary("append to"), pool.connection() as conn, conn.transaction():
            await conn.execute(_LOCK, (_APPEND_LOCK,))
            cursor = await conn.execute(_APPEND, (list(bodies),))
            seqs = [int(row[0]) for row in await cursor.fetchall()]
        return sorted(seqs)  # drawn in position order; sorted whatever order RETURNING uses

    async def read(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        async with self._boundary("read"), self._require_pool().connection() as conn:
            cursor = await conn.execute(_READ, (after, limit))
            rows = await cursor.fetchall()
        return [(int(seq), bytes(body)) for seq, body in rows]

    async def find(self, needle: bytes) -> list[tuple[int, bytes]]:
        async with self._boundary("search"), self._require_pool().connection() as conn:
            cursor = await conn.execute(_FIND, (needle,))
            rows = await cursor.fetchall()
        return [(int(seq), bytes(body)) for seq, body in rows]

    async def last_seq(self) -> int:
        async with self._boundary("read"), self._require_pool().connection() as conn:
            cursor = await conn.execute(_LAST_SEQ)
            row = await cursor.fetchone()
        return int(row[0]) if row is not None else 0

    async def get_meta(self, key: str) -> str | None:
        async with self._boundary("read"), self._require_pool().connection() as conn:
            cursor = await conn.execute(_GET_META, (key,))
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    async def set_meta(self, key: str, value: str) -> None:
        async with self._boundary("write to"), self._require_pool().connection() as conn:
            await conn.execute(_SET_META, (key, value))

    def _require_pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise StoreUnavailable("The PostgreSQL event log is not open")
        return self._pool

    @asynccontextmanager
    async def _boundary(self, doing: str) -> AsyncIterator[None]:
        """Translate driver and pool errors into StoreUnavailable, once, here."""
        try:
            yield
        except (psycopg.Error, PoolTimeout, OSError) as exc:
            raise StoreUnavailable(
                f"Cannot {doing} the event log in PostgreSQL at {redacted(self._url)}: "
                f"{str(exc).strip() or type(exc).__name__} — {_CHECK}"
            ) from exc
