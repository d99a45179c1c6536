"""Figure e: planning a backfill over 10,000 impacted jobs across 500 DAGs (target < 1 s).

The graph is an Airflow estate as the OpenLineage provider and Ripple's Airflow sync describe
it: 500 DAGs of 20 tasks, each task a job `<dag_id>.<task_id>` writing one table. The DAGs sit in
20 layers of 25; a DAG's first task reads the last tables of two DAGs of the layer above (the
first layer reads one raw table, the root), each later task reads its predecessor's table and
sometimes one further up its DAG or from an earlier DAG, so all 10,000 jobs are downstream of the
root, with cross-DAG fan-in and diamonds. Every task has one COMPLETE run per logical date. Half
the DAGs are known through the Airflow sync (DAG and task nodes, IMPLEMENTS, PRECEDES, recent
runs) and their events carry no airflow facet; the other half only through the `airflow` run
facet of their events — the planner's two mapping paths, equally loaded.

Timed with `ripple.remediation.service.plan` (what the CLI and HTTP API call), split into its
three steps: the closure walk, gathering (neighbourhoods, node records, job -> task mapping, known
runs) and the pure planner.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.report import Figure, Section, median, ms, progress
from ripple.graph.delta import EdgeUpsert, GraphDelta, NodeUpsert
from ripple.graph.embedded import EmbeddedStore
from ripple.ingest.eventlog import SqliteEventLog
from ripple.ingest.pipeline import Ingestor
from ripple.model import DagKey, EdgeKind, JobKey, NodeKind, TaskKey
from ripple.remediation import service
from ripple.remediation.planner import Plan

NAMESPACE = "airflow-bench"
DS_NAMESPACE = "postgres://warehouse:5432"
DAGS, TASKS, LAYERS = 500, 20, 20
ROOT = f"dataset:{DS_NAMESPACE}:raw.events"
TARGET = 1.0
FIRST_DAY = datetime(2026, 3, 1, tzinfo=UTC)
PRODUCER = "urn:ripple:bench:backfill:1"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def table(dag: int, task: int) -> str:
    return f"wh.d{dag:03d}_t{task:02d}"


def estate(seed: int) -> dict[tuple[int, int], list[str]]:
    """(dag, task) -> the tables it reads."""
    rng = random.Random(f"backfill:{seed}")
    per_layer = DAGS // LAYERS
    reads: dict[tuple[int, int], list[str]] = {}
    for dag in range(DAGS):
        layer = dag // per_layer
        for task in range(TASKS):
            if task == 0:
                if layer == 0:
                    inputs = ["raw.events"]
                else:
                    above = range((layer - 1) * per_layer, layer * per_layer)
                    inputs = [table(d, TASKS - 1) for d in rng.sample(above, 2)]
            else:
                inputs = [table(dag, task - 1)]
                if task >= 2 and rng.random() < 0.2:
                    inputs.append(table(dag, rng.randrange(task - 1)))
                if layer > 0 and rng.random() < 0.05:
                    earlier = rng.randrange(layer * per_layer)
                    inputs.append(table(earlier, rng.randrange(TASKS)))
            reads[(dag, task)] = inputs
    return reads


def logical_dates(days: int) -> list[datetime]:
    return [FIRST_DAY + timedelta(days=i) for i in range(days)]


def events(reads: dict[tuple[int, int], list[str]], days: int) -> list[dict[str, Any]]:
    out = []
    for when in logical_dates(days):
        stamp = when.isoformat()
        for (dag, task), inputs in reads.items():
            dag_id, task_id = f"dag_{dag:03d}", f"task_{task:02d}"
            run: dict[str, Any] = {
                "runId": _uuid(f"{dag_id}.{task_id}@{stamp}"),
                "facets": {"nominalTime": {"nominalStartTime": stamp}},
            }
            if dag % 2:  # odd DAGs: known only through the airflow run facet
                run["facets"]["airflow"] = {
                    "dag": {"dag_id": dag_id},
                    "task": {"task_id": task_id},
                    "dagRun": {
                        "dag_id": dag_id,
                        "logical_date": stamp,
                        "run_id": f"scheduled__{stamp}",
                    },
                }
            out.append(
                {
                    "eventType": "COMPLETE",
                    "eventTime": (when + timedelta(hours=1)).isoformat(),
                    "producer": PRODUCER,
                    "schemaURL": SCHEMA_URL,
                    "run": run,
                    "job": {"namespace": NAMESPACE, "name": f"{dag_id}.{task_id}"},
                    "inputs": [{"namespace": DS_NAMESPACE, "name": name} for name in inputs],
                    "outputs": [{"namespace": DS_NAMESPACE, "name": table(dag, task)}],
                }
            )
    return out


def airflow_sync(days: int) -> list[GraphDelta]:
    """What Ripple's Airflow sync asserts for the even DAGs."""
    recent = [
        {"run_id": f"scheduled__{d.isoformat()}", "logical_date": d.isoformat()}
        for d in logical_dates(days)
    ]
    deltas = []
    for dag in range(0, DAGS, 2):
        dag_id = f"dag_{dag:03d}"
        delta = GraphDelta(f"{FIRST_DAY.isoformat()}|0", None)
        dag_node = DagKey(NAMESPACE, dag_id).node_id
        delta.nodes.append(
            NodeUpsert(dag_node, NodeKind.DAG, {"dag_id": dag_id, "recent_runs": recent})
        )
        for task in range(TASKS):
            task_id = f"task_{task:02d}"
            node = TaskKey(NAMESPACE, dag_id, task_id).node_id
            props = {"namespace": NAMESPACE, "dag_id": dag_id, "task_id": task_id}
            delta.nodes.append(NodeUpsert(node, NodeKind.TASK, props))
            delta.edges.append(EdgeUpsert(dag_node, EdgeKind.CONTAINS, node))
            job = JobKey(NAMESPACE, f"{dag_id}.{task_id}").node_id
            delta.edges.append(EdgeUpsert(node, EdgeKind.IMPLEMENTS, job))
            if task:
                before = TaskKey(NAMESPACE, dag_id, f"task_{task - 1:02d}").node_id
                delta.edges.append(EdgeUpsert(before, EdgeKind.PRECEDES, node))
        deltas.append(delta)
    return deltas


def _uuid(seed: str) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


async def build(seed: int, days: int, workdir: Path) -> tuple[EmbeddedStore, float, int]:
    log = SqliteEventLog(workdir / "events.db")
    store = EmbeddedStore()
    await log.open()
    await store.open()
    ingestor = Ingestor(log, store)
    docs = events(estate(seed), days)
    started = time.perf_counter()
    for i in range(0, len(docs), 1_000):
        outcomes = await ingestor.ingest(docs[i : i + 1_000])
        assert all(o.accepted for o in outcomes)
    await store.apply(airflow_sync(days), await log.last_seq())
    seconds = time.perf_counter() - started
    await log.close()
    return store, seconds, len(docs)


def check(plan: Plan, expected_units: int) -> list[str]:
    problems = []
    if len(plan.units) != expected_units:
        problems.append(f"{len(plan.units):,} units, expected {expected_units:,}")
    if plan.unmapped:
        problems.append(f"{len(plan.unmapped)} unmapped jobs, first {plan.unmapped[0]}")
    position = {u.id: i for i, u in enumerate(plan.units)}
    if any(position[p] >= position[u.id] for u in plan.units for p in u.parents):
        problems.append("a parent after its child")
    if any(u.action != "clear" for u in plan.units):
        problems.append("a unit without its known run")
    return problems


async def _measure(seed: int, quick: bool) -> Section:
    days = 1 if quick else 3
    repeats = 3 if quick else 5
    section = Section("e. Backfill planning")
    with tempfile.TemporaryDirectory(prefix="ripple-bench-bf-") as tmp:
        progress(f"backfill: building {DAGS} DAGs x {TASKS} tasks, {days} logical date(s)")
        store, build_seconds, n_events = await build(seed, days, Path(tmp))
    progress(f"backfill: built from {n_events:,} events in {build_seconds:.1f} s")
    cases = [("one logical date", service.parse_dates([FIRST_DAY.isoformat()]), 1)]
    if not quick:
        last = logical_dates(days)[-1].isoformat()
        cases.append(
            (f"{days}-day range", service.parse_dates((), FIRST_DAY.isoformat(), last), days)
        )
    problems: list[str] = []
    for label, dates, n_dates in cases:
        request = service.PlanRequest((ROOT,), dates)
        steps: dict[str, list[float]] = {
            "closure": [],
            "gather": [],
            "planning": [],
            "total": [],
            "cpu": [],
        }
        plan = None
        for _ in range(repeats):
            timings = service.Timings()
            cpu = time.process_time()
            plan = await service.plan(store, request, timings=timings)
            steps["cpu"].append(time.process_time() - cpu)
            steps["closure"].append(timings.closure)
            steps["gather"].append(timings.gather)
            steps["planning"].append(timings.planning)
            steps["total"].append(timings.total)
        assert plan is not None
        problems += [f"{label}: {p}" for p in check(plan, DAGS * TASKS * n_dates)]
        total = median(steps["total"])
        progress(f"backfill: {label}: {len(plan.units):,} units, median {ms(total)}")
        section.figures.append(
            Figure(
                f"backfill plan, {DAGS * TASKS:,} impacted jobs in {DAGS} DAGs, {label} "
                f"({len(plan.units):,} units, {len(plan.layers)} waves)",
                f"{ms(total)} (CPU {ms(median(steps['cpu']))})",
                target=f"< {ms(TARGET)}" if n_dates == 1 else "",
                met=total < TARGET if n_dates == 1 else None,
            )
        )
        section.notes.append(
            f"{label}: median of {repeats}: closure {ms(median(steps['closure']))}, gather "
            f"{ms(median(steps['gather']))}, planning {ms(median(steps['planning']))}, total "
            f"{ms(total)}, process CPU time {ms(median(steps['cpu']))} (wall minus CPU is time "
            "other processes held the cores); every run: "
            + ", ".join(ms(t) for t in steps["total"])
            + "."
        )
        section.data[label] = steps
    section.notes.append(
        f"Graph: {DAGS} DAGs x {TASKS} tasks in {LAYERS} layers, {n_events:,} run events "
        f"({days} logical date(s)), half the DAGs through Airflow sync nodes, half through run "
        f"facets; built in {build_seconds:.1f} s (not timed in the figure). Root {ROOT}, which "
        "every job is downstream of. Timed: `service.plan` (closure walk + gather + planner), "
        "as the CLI and `POST /api/v1/backfills` run it, without persisting."
    )
    section.notes.append(
        "Checks: every job a unit per date, none unmapped, parents before children, every unit a "
        "`clear` of its known run."
        if not problems
        else f"Checks: {len(problems)} PROBLEMS: " + "; ".join(problems[:5])
    )
    section.data["problems"] = problems
    return section


def run(seed: int, quick: bool) -> Section:
    return asyncio.run(_measure(seed, quick))


if __name__ == "__main__":
    import sys

    section = run(1, "--quick" in sys.argv)
    for figure in section.figures:
        print(f"{figure.name}: {figure.ripple} (target {figure.target}) {figure.verdict}")
    for note in section.notes:
        print("-", note)
