"""The one composition root: builds the event log, graph store, remediation state, clients and
background work that `Settings` describe. Only the shells (ripple/cli/, ripple/api/) import it.

`open_runtime` opens the parts and catches the graph up with the log (crash recovery). A server
then calls `Runtime.start()` for what runs in the background — the group commit of single POSTs,
the log follower, the periodic Airflow sync — and backfill executors run in it through
`start_backfill`; `close()` stops all of it, then closes the parts.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ripple.config import Settings
from ripple.errors import ConfigError, NotConfigured
from ripple.graph.embedded import EmbeddedStore
from ripple.graph.store import GraphStore
from ripple.identity import TokenCache
from ripple.ingest import backfill_records
from ripple.ingest.airflow_sync import PeriodicSync
from ripple.ingest.aliases import Naming
from ripple.ingest.database import PostgresDatabase
from ripple.ingest.eventlog import EventLog, SqliteEventLog
from ripple.ingest.limits import Limits
from ripple.ingest.pipeline import GroupCommitter, Ingestor, Progress, prepare_record
from ripple.ingest.retractions import Retraction
from ripple.model import EdgeKind
from ripple.remediation.sql_state import SqliteRemediationState
from ripple.remediation.state import RemediationState, UnitState, UnitStatus

# Imported where used: apache-airflow-client, purgatory and their neighbours take a while to
# import, and a command that neither syncs Airflow nor runs a backfill should not wait for them.
if TYPE_CHECKING:
    from ripple.clients.airflow import AirflowRest
    from ripple.remediation.executor import ExecutorOptions
    from ripple.remediation.orchestrator import Orchestrator

logger = logging.getLogger("ripple.backfill")
_TOUCHED = frozenset(
    {UnitStatus.SUCCEEDED, UnitStatus.FAILED, UnitStatus.RUNNING, UnitStatus.LAUNCHING}
)


@dataclass
class Runtime:
    settings: Settings
    log: EventLog
    store: GraphStore
    ingestor: Ingestor
    remediation: RemediationState  # backfill plans, unit states, audit, quarantine
    committer: GroupCommitter | None = None  # set by start(): single POSTs share a transaction
    airflow_sync: PeriodicSync | None = None
    executors: dict[str, asyncio.Task[str]] = field(default_factory=dict)  # plan id -> its run
    _follower: asyncio.Task[None] | None = None
    tokens: TokenCache = field(init=False)  # who may call the API (ripple/api/auth.py)

    def __post_init__(self) -> None:
        self.tokens = TokenCache(self.remediation.tokens)

    async def start(self, *, follow: bool = True) -> None:
        """Start a server's background work. `follow` keeps up with what other processes append
        to the log (servers sharing a PostgreSQL log, `ripple ingest` into this data directory)."""
        self.committer = GroupCommitter(self.ingestor)
        self.committer.start()
        settings = self.settings
        self.airflow_sync = PeriodicSync(
            self.ingestor,
            self.airflow_client if settings.airflow_url is not None else None,
            settings.airflow_namespace,
            interval=settings.airflow_sync_interval,
            lookback=timedelta(hours=settings.airflow_lookback_hours),
        )
        self.airflow_sync.start()
        if follow:
            self._follower = asyncio.create_task(self.ingestor.follow(), name="ripple-follow-log")

    async def close(self) -> None:
        """Stop the background work (executors resume from the state store next time), then
        close the parts."""
        if self._follower is not None:
            self._follower.cancel()
            await asyncio.gather(self._follower, return_exceptions=True)
        if self.airflow_sync is not None:
            await self.airflow_sync.stop()
        for task in self.executors.values():
            task.cancel()
        await asyncio.gather(*self.executors.values(), return_exceptions=True)
        if self.committer is not None:
            await self.committer.stop()
        await self.remediation.close()
        await self.store.close()
        await self.log.close()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- Airflow and backfills ------------------------------------------------------------------

    async def readiness(self, min_free_bytes: int = 256 * 1024 * 1024) -> dict[str, dict[str, Any]]:
        """Whether this server can take work: the event log takes a write, the graph store
        answers, the data directory's disk has room. Each check: ok, and why not."""
        checks: dict[str, dict[str, Any]] = {}
        try:
            await self.log.set_meta("ready_probe", datetime.now(UTC).isoformat())
            checks["eventLog"] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 (any failure is "not ready", said plainly)
            checks["eventLog"] = {"ok": False, "reason": f"not writable: {exc}"}
        try:
            await self.store.projected_through()
            checks["store"] = {"ok": True}
        except Exception as exc:  # noqa: BLE001
            checks["store"] = {"ok": False, "reason": f"not reachable: {exc}"}
        if self.settings.database_url is None:
            where = self.settings.data_dir.absolute()
            while not where.exists():  # not made yet: the disk it will be made on
                where = where.parent
            free = shutil.disk_usage(where).free
            checks["disk"] = {"ok": free >= min_free_bytes, "freeBytes": free}
            if free < min_free_bytes:
                checks["disk"]["reason"] = (
                    f"{free} bytes free in {self.settings.data_dir}, under {min_free_bytes}"
                )
        return checks

    def airflow_client(self) -> AirflowRest:
        """The client of the configured Airflow; ConfigError when none is configured."""
        return airflow_client(self.settings)

    async def run_backfill(
        self, plan_id: str, options: ExecutorOptions, say: Callable[[str], None] = lambda _: None
    ) -> str:
        """Run (or resume) a stored plan against the configured Airflow; its final status."""
        return await self._execute(self._orchestrator(), plan_id, options, say)

    def start_backfill(self, plan_id: str, options: ExecutorOptions) -> None:
        """Run a plan in the background of this server, unless it is running here already."""
        task = self.executors.get(plan_id)
        if task is not None and not task.done():
            return
        orchestrator = self._orchestrator()  # ConfigError now, not in the background
        task = asyncio.create_task(
            self._execute(orchestrator, plan_id, options), name=f"backfill-{plan_id}"
        )
        task.add_done_callback(_report)
        self.executors[plan_id] = task

    def _orchestrator(self) -> Orchestrator:
        from ripple.clients.airflow import AirflowOrchestrator

        return AirflowOrchestrator(self.airflow_client())

    async def _execute(
        self,
        orchestrator: Orchestrator,
        plan_id: str,
        options: ExecutorOptions,
        say: Callable[[str], None] = lambda _: None,
    ) -> str:
        from ripple.remediation.executor import Executor

        executor = Executor(
            self.remediation, orchestrator, options, link=self.link_backfill, say=say
        )
        return await executor.run(plan_id)

    async def link_backfill(self, plan_id: str, status: str, units: list[UnitState]) -> None:
        """Link an ended plan into the graph: the jobs its units reran and the datasets they write
        get `last_backfill` (a record in the event log, so replay keeps it)."""
        stored = await self.remediation.get_plan(plan_id)
        touched = {u.unit_id for u in units if u.state in _TOUCHED}
        jobs = sorted(
            {
                job
                for unit in (stored.plan or {}).get("units", [])
                if unit.get("id") in touched
                for job in unit.get("jobs", [])
            }
        )
        edges = await self.store.neighbourhood(jobs) if jobs else []
        datasets = sorted({e.dst for e in edges if e.kind == EdgeKind.WRITES.value})
        payload = {
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            "plan_id": plan_id,
            "status": status,
            "jobs": jobs,
            "datasets": datasets,
        }
        await self.ingestor.commit([prepare_record(backfill_records.KIND, payload)])
        await self.remediation.append_audit(
            "executor",
            "graph.link",
            plan_id=plan_id,
            detail=f"linked {len(jobs)} jobs and {len(datasets)} datasets in the graph",
        )

    # -- retraction ----------------------------------------------------------------------------

    async def retract(
        self, actor: str, reason: str, *, run_id: uuid.UUID | None = None, seq: int | None = None
    ) -> Retraction:
        """Retract a run's events (or one log record) and audit it; see `Ingestor.retract`."""
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        retraction, created = await self.ingestor.retract(
            run_id=run_id, seq=seq, actor=actor, reason=reason, at=at
        )
        asked = {"runId": None if run_id is None else str(run_id), "seq": seq, "reason": reason}
        await self.remediation.append_audit(
            actor,
            "event.retract",
            request=asked,
            response={**retraction.as_dict(), "created": created},
            detail=reason,
        )
        return retraction


def airflow_client(settings: Settings) -> AirflowRest:
    """The client of the Airflow `settings` name; ConfigError when none is configured."""
    if settings.airflow_url is None:
        raise NotConfigured(
            "RIPPLE_AIRFLOW_URL is not set — point it at Airflow's api-server (and set "
            "RIPPLE_AIRFLOW_USERNAME/PASSWORD or RIPPLE_AIRFLOW_TOKEN)"
        )
    # Imported here: apache-airflow-client takes seconds to import, and only commands that
    # talk to Airflow should pay for it.
    from ripple.clients.airflow import AirflowRest

    return AirflowRest(
        settings.airflow_url,
        username=settings.airflow_username,
        password=settings.airflow_password,
        token=settings.airflow_token,
    )


def _report(task: asyncio.Task[str]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("backfill executor %s stopped: %s", task.get_name(), task.exception())


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
    skips both steps, for a caller about to rebuild the graph (`Ingestor.replay`). `in_memory`
    keeps everything in memory (tests)."""
    settings = settings or Settings()
    # The event log and the remediation state share one pool when they live in PostgreSQL.
    database = None
    if settings.database_url is not None and not in_memory:
        database = PostgresDatabase(settings.database_url)
    if in_memory:
        log: EventLog = SqliteEventLog(":memory:")
        store: GraphStore = EmbeddedStore()
    else:
        if read_only:
            _require_data(settings)
        log = _log(settings, database)
        store = _store(settings, read_only=read_only)
    await log.open()
    await store.open()
    limits = Limits(
        settings.max_name_length,
        settings.max_facets,
        settings.max_datasets,
        settings.max_clock_skew,
    )
    ingestor = Ingestor(log, store, limits, naming(settings))
    remediation = _remediation(settings, database, in_memory=in_memory)
    try:
        if not replaying:
            await ingestor.adopt_log()
            await ingestor.catch_up(progress)
        await remediation.open()
    except BaseException:
        await store.close()
        await log.close()
        raise
    return Runtime(settings, log, store, ingestor, remediation)


def naming(settings: Settings) -> Naming:
    """The dataset naming rules the settings ask for (ingest/aliases.py)."""
    default = Naming()
    return Naming(
        settings.normalize_names,
        default.schemes if settings.scheme_aliases is None else settings.scheme_aliases,
        default.ports if settings.default_ports is None else settings.default_ports,
        tuple(settings.case_insensitive_namespaces),
    )


@asynccontextmanager
async def open_state(settings: Settings) -> AsyncIterator[RemediationState]:
    """The remediation state alone (plans, audit, quarantine, API tokens), without loading the
    graph: what `ripple token` and `ripple serve`'s pre-flight checks need."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    state = _remediation(settings, None, in_memory=False)
    await state.open()
    try:
        yield state
    finally:
        await state.close()


def _require_data(settings: Settings) -> None:
    """A query on a directory without an event log would find no node at all (and leave an empty
    log behind): a mistyped data directory, most likely. Say so instead."""
    if settings.database_url is None and not settings.event_log_path.exists():
        raise ConfigError(
            f"No Ripple data in {settings.data_dir} (no event log there) — pass the data "
            "directory your events went to with --data-dir or RIPPLE_DATA_DIR, or load events "
            "first (`ripple ingest`, or post them to `ripple serve`)"
        )


def _log(settings: Settings, database: PostgresDatabase | None) -> EventLog:
    """PostgreSQL when configured (a log several processes share), else SQLite in the data dir."""
    if settings.database_url is not None:
        from ripple.ingest.pg_eventlog import PostgresEventLog

        return PostgresEventLog(settings.database_url, database=database)
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


def _remediation(
    settings: Settings, database: PostgresDatabase | None, *, in_memory: bool
) -> RemediationState:
    """Backfill state in the event log's database: PostgreSQL when configured, else its file."""
    if in_memory:
        return SqliteRemediationState(":memory:")
    if settings.database_url is not None:
        from ripple.remediation.pg_state import PostgresRemediationState

        return PostgresRemediationState(settings.database_url, database=database)
    return SqliteRemediationState(settings.event_log_path)
