"""Wiring: build the event log, graph store and ingest pipeline that settings describe."""

from __future__ import annotations

from dataclasses import dataclass

from ripple.config import Settings
from ripple.errors import ConfigError
from ripple.graph.embedded import EmbeddedStore
from ripple.graph.store import GraphStore
from ripple.ingest.eventlog import EventLog, SqliteEventLog
from ripple.ingest.pipeline import Ingestor, Progress
from ripple.remediation.sql_state import SqliteRemediationState
from ripple.remediation.state import RemediationState


@dataclass
class Runtime:
    log: EventLog
    store: GraphStore
    ingestor: Ingestor
    remediation: RemediationState  # backfill plans, unit states, audit, quarantine

    async def close(self) -> None:
        await self.remediation.close()
        await self.store.close()
        await self.log.close()


async def open_runtime(
    settings: Settings | None = None,
    *,
    in_memory: bool = False,
    read_only: bool = False,
    replaying: bool = False,
    progress: Progress | None = None,
) -> Runtime:
    """Open the log and store, check the graph belongs to the log, then catch it up with the log
    (the crash-recovery step).

    `read_only` never writes a snapshot, so queries can run beside a live server. `replaying`
    skips both steps, for a caller about to rebuild the graph (`Ingestor.replay`)."""
    if in_memory:
        log: EventLog = SqliteEventLog(":memory:")
        store: GraphStore = EmbeddedStore()
    else:
        settings = settings or Settings()
        if read_only:
            _require_data(settings)
        log = _log(settings)
        store = _store(settings, read_only=read_only)
    await log.open()
    await store.open()
    ingestor = Ingestor(log, store)
    if not replaying:
        try:
            await ingestor.adopt_log()
            await ingestor.catch_up(progress)
        except BaseException:
            await store.close()
            await log.close()
            raise
    remediation = _remediation(settings, in_memory=in_memory)
    try:
        await remediation.open()
    except BaseException:
        await store.close()
        await log.close()
        raise
    return Runtime(log, store, ingestor, remediation)


def _require_data(settings: Settings) -> None:
    """A query on a directory without an event log would find no node at all (and leave an empty
    log behind): a mistyped data directory, most likely. Say so instead."""
    if settings.database_url is None and not settings.event_log_path.exists():
        raise ConfigError(
            f"No Ripple data in {settings.data_dir} (no event log there) — pass the data "
            "directory your events went to with --data-dir or RIPPLE_DATA_DIR, or load events "
            "first (`ripple ingest`, or post them to `ripple serve`)"
        )


def _log(settings: Settings) -> EventLog:
    """PostgreSQL when configured (a log several processes share), else SQLite in the data dir."""
    if settings.database_url is not None:
        from ripple.ingest.pg_eventlog import PostgresEventLog

        return PostgresEventLog(settings.database_url)
    return SqliteEventLog(settings.event_log_path)


def _store(settings: Settings, *, read_only: bool) -> GraphStore:
    """Neo4j when configured, else the embedded store in the data directory."""
    if settings.neo4j_uri is not None:
        from ripple.graph.neo4j import Neo4jStore

        auth = None
        if settings.neo4j_user is not None:
            auth = (settings.neo4j_user, settings.neo4j_password)
        return Neo4jStore(settings.neo4j_uri, auth=auth, database=settings.neo4j_database)
    return EmbeddedStore(
        settings.snapshot_path, settings.snapshot_every, save_on_close=not read_only
    )


def _remediation(settings: Settings | None, *, in_memory: bool) -> RemediationState:
    """Backfill state in the event log's database: PostgreSQL when configured, else its file."""
    if in_memory or settings is None:
        return SqliteRemediationState(":memory:")
    if settings.database_url is not None:
        from ripple.remediation.pg_state import PostgresRemediationState

        return PostgresRemediationState(settings.database_url)
    return SqliteRemediationState(settings.event_log_path)
