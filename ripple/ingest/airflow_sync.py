"""Airflow sync: DAGs, tasks, dependencies, asset links, runs and task states into the graph.

One sync reads everything it needs first (through ripple/clients/airflow.py, with bounded retries),
then appends one Airflow DAG record per changed DAG to the event log in a single transaction and
projects them (ingest/airflow_records.py) — so a sync is written whole or not at all, and replay
rebuilds it. Then the cursor beside the log moves on.

Incremental: a DAG's tasks are read only when its DAG version changed (or it is new, or its
current version has not run yet — Airflow then edits that version in place); a DAG's record is
written only when its settings, tasks or asset links changed, or it has runs or task instances
updated since the previous sync (read with `updated_at_gte`, from a little before the
previous sync began, so nothing that changed while it ran is missed; repeats are harmless).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from ripple.errors import RippleError
from ripple.ingest.airflow_records import KIND
from ripple.ingest.pipeline import Ingestor, prepare_record

if TYPE_CHECKING:  # the client itself imports apache-airflow-client, slow to import
    from ripple.clients.airflow import AirflowRest

log = logging.getLogger("ripple.sync")
OVERLAP = timedelta(minutes=1)  # read changes from a little before the previous sync began


@dataclass
class SyncReport:
    dags: int = 0  # DAGs Airflow has
    tasks_read: int = 0  # DAGs whose tasks were read (new or changed versions)
    written: int = 0  # DAG records appended
    runs: int = 0
    task_instances: int = 0
    calls: int = 0
    seconds: float = 0.0
    full: bool = False
    rejected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dags": self.dags,
            "tasksRead": self.tasks_read,
            "written": self.written,
            "runs": self.runs,
            "taskInstances": self.task_instances,
            "apiCalls": self.calls,
            "seconds": round(self.seconds, 3),
            "full": self.full,
            "rejected": self.rejected,
        }


async def sync_airflow(
    ingestor: Ingestor,
    client: AirflowRest,
    namespace: str,
    *,
    full: bool = False,
    lookback: timedelta = timedelta(hours=72),
    now: datetime | None = None,
    say: Callable[[str], None] = lambda _: None,
) -> SyncReport:
    """Sync once; raises SourceUnavailable (nothing written) when Airflow cannot be read."""
    started = time.perf_counter()
    began = now or datetime.now(UTC)
    key = f"sync.airflow.{client.url}"
    saved = await ingestor.log.get_meta(key)
    cursor: dict[str, Any] = {} if full or saved is None else orjson.loads(saved)
    report = SyncReport(full=not cursor)
    calls_before = client.calls
    since = datetime.fromisoformat(cursor["began"]) - OVERLAP if cursor else began - lookback
    versions: dict[str, int] = cursor.get("versions", {})
    digests: dict[str, str] = cursor.get("digests", {})

    say(f"reading DAGs from {client.url}")
    dags = await client.dags()
    report.dags = len(dags)
    say(f"{len(dags)} DAGs; reading versions, assets, runs and task instances since {since:%F %T}")
    latest_versions: dict[str, int] = {}
    for dag_version in await client.dag_versions():
        number = int(dag_version.version_number)
        if number > latest_versions.get(dag_version.dag_id, -1):
            latest_versions[dag_version.dag_id] = number
    asset_upstream, asset_inlets = _asset_links(await client.assets())
    runs = await client.dag_runs(since)
    task_instances = await client.task_instances(since)
    report.runs, report.task_instances = len(runs), len(task_instances)

    runs_of: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        runs_of.setdefault(run.dag_id, []).append(_run(run))
    states_of: dict[str, list[dict[str, Any]]] = {}
    for ti in task_instances:
        states_of.setdefault(ti.dag_id, []).append(_task_state(ti))

    # Airflow keeps a DAG's version number when the current version has no task instances yet
    # (it rewrites that version in place), so such a DAG's tasks are read on every sync until a
    # task instance of its current version is seen ("settled"); after that a new number tells.
    settled: set[str] = set(cursor.get("settled", []))
    ran_on_version = {
        ti.dag_id
        for ti in task_instances
        if ti.dag_version is not None
        and ti.dag_version.version_number == latest_versions.get(ti.dag_id)
    }
    task_digests: dict[str, str] = cursor.get("tasks", {})
    payloads: list[dict[str, Any]] = []
    new_digests: dict[str, str] = {}
    new_settled: set[str] = set()
    for dag in dags:
        dag_id = dag.dag_id
        settings_part = _dag(dag)
        links = asset_upstream.get(dag_id, [])
        inlets = asset_inlets.get(dag_id, [])
        digest = new_digests[dag_id] = _digest(settings_part, [links, inlets])
        version = latest_versions.get(dag_id, 0)
        same_version = dag_id in digests and versions.get(dag_id) == version
        if (same_version and dag_id in settled) or dag_id in ran_on_version:
            new_settled.add(dag_id)
        tasks: list[dict[str, Any]] | None = None
        if not (same_version and dag_id in settled):
            say(f"reading the tasks of {dag_id}")
            tasks = [_task(task) for task in await client.tasks(dag_id)]
            report.tasks_read += 1
            tasks_digest = _digest({"tasks": tasks}, [])
            if task_digests.get(dag_id) == tasks_digest:
                tasks = None  # read, and unchanged
            task_digests[dag_id] = tasks_digest
        changed = tasks is not None or digests.get(dag_id) != digest
        if not (changed or runs_of.get(dag_id) or states_of.get(dag_id)):
            continue
        payload: dict[str, Any] = {
            "time": began.isoformat(timespec="microseconds"),
            "namespace": namespace,
            "source": client.url,
            "dag": settings_part,
            "asset_upstream": links,
            "asset_inlets": inlets,
            "runs": runs_of.get(dag_id, []),
            "task_states": states_of.get(dag_id, []),
        }
        if tasks is not None:
            payload["tasks"] = tasks
        payloads.append(payload)

    say(f"writing {len(payloads)} DAG records")
    prepared = [prepare_record(KIND, payload) for payload in payloads]
    outcomes = await ingestor.commit(prepared)
    report.written = sum(1 for outcome in outcomes if outcome.accepted)
    report.rejected = [str(o.error) for o in outcomes if o.error is not None]
    await ingestor.log.set_meta(
        key,
        orjson.dumps(
            {
                "began": began.isoformat(),
                "versions": latest_versions,
                "digests": new_digests,
                "tasks": {d: task_digests[d] for d in new_digests if d in task_digests},
                "settled": sorted(new_settled),
            }
        ).decode(),
    )
    report.calls = client.calls - calls_before
    report.seconds = time.perf_counter() - started
    return report


def _dag(dag: Any) -> dict[str, Any]:
    return {
        "dag_id": dag.dag_id,
        "description": dag.description,
        "schedule": dag.timetable_summary,
        "owners": list(dag.owners or []),
        "tags": sorted(tag.name for tag in dag.tags or []),
        "is_paused": bool(dag.is_paused),
        "fileloc": dag.relative_fileloc or dag.fileloc,
    }


def _task(task: Any) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "operator": task.operator_name,
        "downstream": sorted(task.downstream_task_ids or []),
        "retries": task.retries,
    }


def _run(run: Any) -> dict[str, Any]:
    return {
        "run_id": run.dag_run_id,
        "logical_date": _iso(run.logical_date),
        "run_after": _iso(run.run_after),
        "state": _value(run.state),
        "run_type": _value(run.run_type),
        "start": _iso(run.start_date),
        "end": _iso(run.end_date),
    }


def _task_state(ti: Any) -> dict[str, Any]:
    return {
        "run_id": ti.dag_run_id,
        "task_id": ti.task_id,
        "state": _value(ti.state),
        "try_number": ti.try_number,
        "start": _iso(ti.start_date),
        "end": _iso(ti.end_date),
    }


def _asset_links(
    assets: list[Any],
) -> tuple[dict[str, list[dict[str, str]]], dict[str, list[dict[str, Any]]]]:
    """Per DAG: the tasks updating the assets it is scheduled on, and per task of it, the tasks
    updating the assets that task declares as inlets."""
    scheduled: dict[str, set[tuple[str, str]]] = {}
    inlets: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for asset in assets:
        producers = {(p.dag_id, p.task_id) for p in asset.producing_tasks or []}
        if not producers:
            continue
        for consumer in asset.scheduled_dags or []:
            scheduled.setdefault(consumer.dag_id, set()).update(producers)
        for task in asset.consuming_tasks or []:
            inlets.setdefault((task.dag_id, task.task_id), set()).update(producers)
    upstream = {
        dag_id: [{"dag_id": d, "task_id": t} for d, t in sorted(pairs)]
        for dag_id, pairs in scheduled.items()
    }
    by_task: dict[str, list[dict[str, Any]]] = {}
    for (dag_id, task_id), pairs in sorted(inlets.items()):
        producers_of = [{"dag_id": d, "task_id": t} for d, t in sorted(pairs)]
        by_task.setdefault(dag_id, []).append({"task_id": task_id, "producers": producers_of})
    return upstream, by_task


def _digest(settings_part: dict[str, Any], links: list[Any]) -> str:
    """What a DAG record depends on besides its tasks (those follow the DAG version)."""
    content = orjson.dumps([settings_part, links], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(content).hexdigest()[:16]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _value(value: Any) -> Any:
    return getattr(value, "value", value)


class PeriodicSync:
    """Airflow sync every `interval` seconds inside `ripple serve` (RIPPLE_AIRFLOW_SYNC_INTERVAL).

    `client` builds the Airflow client when the first sync starts, or is None when no Airflow is
    configured (the sync is then off). A failed sync is logged and retried at the next tick; it
    never stops the server."""

    def __init__(
        self,
        ingestor: Ingestor,
        client: Callable[[], AirflowRest] | None,
        namespace: str,
        *,
        interval: float,
        lookback: timedelta,
    ) -> None:
        self._ingestor = ingestor
        self._client = client
        self._namespace = namespace
        self._interval = interval
        self._lookback = lookback
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, Any] | None = None
        self._error: str | None = None
        self._at: str | None = None

    @property
    def enabled(self) -> bool:
        return self._client is not None and self._interval > 0

    def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._loop(), name="ripple-airflow-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def status(self) -> dict[str, Any]:
        if not self.enabled:
            return {"enabled": False}
        return {"enabled": True, "at": self._at, "last": self._last, "error": self._error}

    async def _loop(self) -> None:
        assert self._client is not None
        client = self._client()
        while True:
            self._at = datetime.now(UTC).isoformat()
            try:
                report = await sync_airflow(
                    self._ingestor, client, self._namespace, lookback=self._lookback
                )
                self._last, self._error = report.as_dict(), None
            except RippleError as exc:
                self._error = str(exc)
                log.warning("Airflow sync failed: %s", exc)
            await asyncio.sleep(self._interval)
