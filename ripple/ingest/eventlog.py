"""The durable event log: every accepted event is appended here before it is acknowledged.

The graph is a projection of this log; `ripple replay` rebuilds it from here. The embedded log is
a SQLite file in WAL mode with `synchronous=FULL`, so an append that returned survives a crash of
the process and of the machine.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ripple.errors import StoreUnavailable
from ripple.ingest.database import connect_sqlite


class EventLog(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def append(self, bodies: Sequence[bytes]) -> list[int]:
        """Durably append events (JSON bytes) in one transaction; return their sequence numbers."""
        ...

    async def read(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to `limit` events with sequence numbers above `after`, in order."""
        ...

    async def last_seq(self) -> int: ...

    async def find(self, needle: bytes) -> list[tuple[int, bytes]]:
        """Every logged body that contains `needle` (bytes), in sequence order. A scan of the
        whole log, run by the database: for rare reads (tombstones, one run's events)."""
        ...

    async def get_meta(self, key: str) -> str | None:
        """A small named value kept beside the log (e.g. a sync cursor), or None."""
        ...

    async def set_meta(self, key: str, value: str) -> None:
        """Durably set a named value (last write wins)."""
        ...


LOG_ID = "log_id"  # meta key: a random name the log takes when created and keeps for life


async def log_identity(log: EventLog) -> str:
    """The log's lifelong name, so a graph can tell which log it was projected from."""
    identity = await log.get_meta(LOG_ID)
    if identity is None:  # every log names itself on open
        raise StoreUnavailable("The event log has no identity — was it opened?")
    return identity


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    body BLOB NOT NULL
)
"""
_META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_NAME_LOG = "INSERT OR IGNORE INTO meta (key, value) VALUES ('log_id', lower(hex(randomblob(16))))"


_ROWS = 1_000  # rows per INSERT: 2,000 parameters, far below SQLite's limit of 32,766


@functools.cache
def _insert(rows: int) -> str:
    values = ",".join(["(?, ?)"] * rows)  # placeholders only: the rows travel as parameters
    return f"INSERT INTO events (received_at, body) VALUES {values}"  # noqa: S608


class SqliteEventLog:
    """An event log in one SQLite file (`:memory:` for tests).

    Appends run in a worker thread (SQLite releases the GIL), so a server keeps parsing requests
    while a batch is fsynced. The WAL is checkpointed by a background thread with its own
    connection (PASSIVE: it never blocks an append), not inside an append, where copying
    megabytes back into the database would stall every request waiting on that commit."""

    def __init__(self, path: Path | str, checkpoint_every: float = 0.5) -> None:
        self._path = str(path)
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._checkpoint_every = checkpoint_every
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None

    async def open(self) -> None:
        try:
            db = connect_sqlite(self._path)
            db.execute(_SCHEMA)
            db.execute(_META_SCHEMA)
            db.execute(_NAME_LOG)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(
                f"Cannot open the event log at {self._path}: {exc} — check the data directory"
            ) from exc
        self._db = db
        if self._path != ":memory:":
            db.execute("PRAGMA wal_autocheckpoint=0")
            self._stop.clear()
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="ripple-wal-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA busy_timeout=10000")
            while not self._stop.wait(self._checkpoint_every):
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # the next open checkpoints; appends are unaffected either way
        finally:
            db.close()

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._stop.set()
            await asyncio.to_thread(self._checkpointer.join)
            self._checkpointer = None
        if self._db is not None:
            self._db.close()
            self._db = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreUnavailable("The event log is not open")
        return self._db

    async def append(self, bodies: Sequence[bytes]) -> list[int]:
        if not bodies:
            return []
        async with self._lock:
            return await asyncio.to_thread(self._append, bodies)

    def _append(self, bodies: Sequence[bytes]) -> list[int]:
        db = self._conn()
        now = datetime.now(UTC).isoformat()
        chunks = [bodies[at : at + _ROWS] for at in range(0, len(bodies), _ROWS)]
        try:
            # Rows go in with one INSERT of up to _ROWS rows, which SQLite writes in one call
            # with the GIL released throughout (executemany takes it back between rows), so a
            # caller parses its next batch on the other core meanwhile (ripple/ingest/bulk.py).
            # A batch of one chunk is one statement and so its own transaction: the thread takes
            # the GIL back once, not once per BEGIN, INSERT and COMMIT.
            if len(chunks) > 1:
                db.execute("BEGIN IMMEDIATE")
            for chunk in chunks:
                params: list[str | bytes] = []
                for body in chunk:
                    params.append(now)
                    params.append(body)
                last = db.execute(_insert(len(chunk)), params).lastrowid
            if len(chunks) > 1:
                db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise StoreUnavailable(f"Cannot append to the event log: {exc}") from exc
        # One statement (or one transaction) holds the database while it writes, and
        # AUTOINCREMENT numbers its rows consecutively: they end at the last one inserted.
        assert last is not None
        return list(range(last - len(bodies) + 1, last + 1))

    async def read(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        rows = self._conn().execute(
            "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        )
        return [(seq, bytes(body)) for seq, body in rows]

    async def find(self, needle: bytes) -> list[tuple[int, bytes]]:
        async with self._lock:  # off the event loop, never inside an append's transaction
            return await asyncio.to_thread(self._find, needle)

    def _find(self, needle: bytes) -> list[tuple[int, bytes]]:
        try:
            rows = self._conn().execute(
                "SELECT seq, body FROM events WHERE instr(body, ?) > 0 ORDER BY seq", (needle,)
            )
            return [(seq, bytes(body)) for seq, body in rows]
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"Cannot search the event log: {exc}") from exc

    async def last_seq(self) -> int:
        row = self._conn().execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()
        return int(row[0])

    async def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    async def set_meta(self, key: str, value: str) -> None:
        async with self._lock:
            await asyncio.to_thread(self._set_meta, key, value)

    def _set_meta(self, key: str, value: str) -> None:
        try:
            self._conn().execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"Cannot write {key!r} beside the event log: {exc}") from exc
