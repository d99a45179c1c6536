"""Running and cancelling stored backfill plans: the executor wired to settings and the graph."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ripple.clients.airflow import AirflowOrchestrator
from ripple.config import Settings
from ripple.errors import ConfigError
from ripple.ingest import backfill_records
from ripple.ingest.airflow_sync import client_from
from ripple.ingest.pipeline import prepare_record
from ripple.model import EdgeKind
from ripple.remediation.executor import Executor, ExecutorOptions, Link
from ripple.remediation.state import RemediationState, UnitState
from ripple.runtime import Runtime

_TOUCHED = frozenset({"succeeded", "failed", "running", "launching"})


async def execute(
    runtime: Runtime,
    settings: Settings,
    plan_id: str,
    options: ExecutorOptions,
    say: Callable[[str], None] = lambda _: None,
) -> str:
    """Run (or resume) a stored plan against the configured Airflow; its final status."""
    if settings.airflow_url is None:
        raise ConfigError(
            "RIPPLE_AIRFLOW_URL is not set — the executor needs Airflow's api-server "
            "(and RIPPLE_AIRFLOW_USERNAME/PASSWORD or RIPPLE_AIRFLOW_TOKEN)"
        )
    airflow = AirflowOrchestrator(client_from(settings))
    executor = Executor(runtime.remediation, airflow, options, link=linker(runtime), say=say)
    return await executor.run(plan_id)


def linker(runtime: Runtime) -> Link:
    """Links an ended plan into the graph: the jobs its units reran and the datasets they write
    get `last_backfill` (a record in the event log, so replay keeps it)."""

    async def link(plan_id: str, status: str, units: list[UnitState]) -> None:
        stored = await runtime.remediation.get_plan(plan_id)
        touched = {u.unit_id for u in units if u.state in _TOUCHED}
        jobs = sorted(
            {
                job
                for unit in (stored.plan or {}).get("units", [])
                if unit.get("id") in touched
                for job in unit.get("jobs", [])
            }
        )
        edges = await runtime.store.neighbourhood(jobs) if jobs else []
        datasets = sorted({e.dst for e in edges if e.kind == EdgeKind.WRITES.value})
        payload = {
            "time": datetime.now(UTC).isoformat(timespec="microseconds"),
            "plan_id": plan_id,
            "status": status,
            "jobs": jobs,
            "datasets": datasets,
        }
        await runtime.ingestor.commit([prepare_record(backfill_records.KIND, payload)])
        await runtime.remediation.append_audit(
            "executor",
            "graph.link",
            plan_id=plan_id,
            detail=f"linked {len(jobs)} jobs and {len(datasets)} datasets in the graph",
        )

    return link


async def cancel(state: RemediationState, plan_id: str, actor: str) -> str:
    """Stop launching new units. A plan not started yet is cancelled at once; a running one
    becomes `cancelling` and its executor follows the running units to their end."""
    if await state.set_plan_status(plan_id, "cancelled", expected={"planned"}, actor=actor):
        for unit in await state.units(plan_id):
            await state.set_unit_state(
                plan_id,
                unit.unit_id,
                "cancelled",
                expected={"pending", "ready"},
                actor=actor,
                reason="plan cancelled before it ran",
            )
        return "cancelled"
    await state.set_plan_status(plan_id, "cancelling", expected={"running", "paused"}, actor=actor)
    return (await state.get_plan(plan_id)).status
