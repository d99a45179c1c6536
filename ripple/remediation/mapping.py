"""Which Airflow task runs a lineage job, and which DAG runs the graph knows of (pure, no I/O).

The OpenLineage Airflow provider names a DAG's job `<dag_id>` (job facet `jobType` says DAG) and a
task's job `<dag_id>.<task_id>`; both ids may contain dots (task groups make task ids dotted), so
the name alone is ambiguous. Evidence, strongest first:

1. an Airflow task node (from the Airflow sync) linked to the job by IMPLEMENTS, with props
   `dag_id` and `task_id`;
2. a run of the job whose `airflow` run facet names `dag.dag_id` and `task.task_id`;
3. the longest existing job of the same namespace whose name, followed by '.', prefixes the job's
   name and that is not itself a task (a DAG-typed job wins over an untyped one).

A job none of these maps is returned with the reason, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ripple.model import JobKey, parse_node_id
from ripple.remediation.planner import InvalidPlanRequest, KnownRun, TaskRef, logical_date

Props = Mapping[str, Any]


@dataclass(slots=True)
class Evidence:
    """What the graph says about the impacted jobs, gathered by the caller."""

    jobs: dict[str, Props]  # impacted job id -> props
    tasks: dict[str, list[Props]] = field(default_factory=dict)  # job -> implementing task nodes
    runs: dict[str, list[Props]] = field(default_factory=dict)  # job -> its runs' props
    candidates: dict[str, Props] = field(default_factory=dict)  # prefix job id -> props (exist)


def job_type(props: Props) -> str | None:
    facet = props.get("facet.jobType")
    if isinstance(facet, dict):
        value = facet.get("jobType")
        return value.upper() if isinstance(value, str) else None
    return None


def prefix_candidates(job_id: str) -> list[str]:
    """Job ids that could be the DAG of `job_id` (`job:ns:a.b.c` -> `job:ns:a`, `job:ns:a.b`)."""
    key = parse_node_id(job_id)
    if not isinstance(key, JobKey) or "." not in key.name:
        return []
    parts = key.name.split(".")
    return [JobKey(key.namespace, ".".join(parts[:i])).node_id for i in range(1, len(parts))]


def map_jobs(evidence: Evidence) -> tuple[dict[str, TaskRef], dict[str, str]]:
    """Job -> Airflow task for every job the evidence maps, and job -> reason for the rest.

    DAGs found through task nodes or run facets count as known DAG jobs for the name rule."""
    mapped, rest = map_by_airflow(evidence.jobs, evidence.tasks, evidence.runs)
    named, unmapped = map_by_name(rest, evidence.jobs, evidence.candidates, mapped)
    return {**mapped, **named}, unmapped


def map_by_airflow(
    jobs: Iterable[str],
    tasks: Mapping[str, Iterable[Props]],
    runs: Mapping[str, Iterable[Props]],
) -> tuple[dict[str, TaskRef], list[str]]:
    """The first two rules: task nodes, then run facets. Returns the mapped jobs and the rest."""
    mapped: dict[str, TaskRef] = {}
    rest: list[str] = []
    for job in sorted(jobs):
        task = _from_task_nodes(tasks.get(job, ()))
        if task is None:
            task = next((t for t in map(task_of_run, runs.get(job, ())) if t is not None), None)
        if task is None:
            rest.append(job)
        else:
            mapped[job] = task
    return mapped, rest


def map_by_name(
    rest: Iterable[str],
    jobs: Mapping[str, Props],
    candidates: Mapping[str, Props],
    mapped: Mapping[str, TaskRef],
) -> tuple[dict[str, TaskRef], dict[str, str]]:
    """The name rule for jobs the first two rules left; DAGs of `mapped` count as known."""
    rest = list(rest)
    if not rest:
        return {}, {}
    known = dict(candidates)
    for job, task in mapped.items():
        known.setdefault(dag_job(job, task), {"facet.jobType": {"jobType": "DAG"}})
    named: dict[str, TaskRef] = {}
    unmapped: dict[str, str] = {}
    for job in rest:
        if job_type(jobs.get(job, {})) == "DAG":
            unmapped[job] = "an Airflow DAG-level job: its tasks carry the lineage"
            continue
        found = _from_prefix(job, known)
        if found is not None:
            named[job] = found
        else:
            unmapped[job] = (
                "no Airflow task implements it (no IMPLEMENTS edge, no airflow run facet, and no "
                "known DAG prefixes its name) — is it run by Airflow?"
            )
    return named, unmapped


def dag_job(job: str, task: TaskRef) -> str:
    """The id of the DAG-level job of `task`'s DAG, in `job`'s namespace."""
    suffix = f":{task.dag_id}.{task.task_id}"
    if job.endswith(suffix):  # the provider's naming: no need to parse the namespace
        return f"{job[: -len(suffix)]}:{task.dag_id}"
    key = parse_node_id(job)
    assert isinstance(key, JobKey)
    return JobKey(key.namespace, task.dag_id).node_id


def task_of_run(props: Props) -> TaskRef | None:
    """The task an Airflow task run ran, from its raw `airflow` run facet."""
    facet = props.get("facet.airflow")
    if not isinstance(facet, dict):
        return None
    dag, task = facet.get("dag"), facet.get("task")
    dag_id = dag.get("dag_id") if isinstance(dag, dict) else None
    if dag_id is None:
        dag_run = facet.get("dagRun")
        dag_id = dag_run.get("dag_id") if isinstance(dag_run, dict) else None
    task_id = task.get("task_id") if isinstance(task, dict) else None
    if isinstance(dag_id, str) and isinstance(task_id, str) and dag_id and task_id:
        return TaskRef(dag_id, task_id)
    return None


def known_run(props: Props, dag_id: str) -> KnownRun | None:
    """The run of `dag_id` a run record belongs to, if it names one: its logical date and
    Airflow's run id when the run facet names it."""
    dag_run = _dag_run(props)
    if dag_run is not None and dag_run.get("dag_id") not in (None, dag_id):
        return None
    when = run_logical_date(props)
    if when is None:
        return None
    run_id = dag_run.get("run_id") if dag_run is not None else None
    return KnownRun(dag_id, when, run_id if isinstance(run_id, str) else None)


def run_logical_date(props: Props) -> str | None:
    """A run's logical date: the airflow facets' `dagRun.logical_date`, else its nominal start."""
    dag_run = _dag_run(props)
    when: Any = None
    if dag_run is not None:
        when = dag_run.get("logical_date") or dag_run.get("data_interval_start")
    if not isinstance(when, str):
        when = props.get("nominal_start")
    if not isinstance(when, str):
        return None
    try:
        return logical_date(when)
    except InvalidPlanRequest:
        return None


def _dag_run(props: Props) -> dict[str, Any] | None:
    for name in ("facet.airflow", "facet.airflowDagRun"):
        facet = props.get(name)
        dag_run = facet.get("dagRun") if isinstance(facet, dict) else None
        if isinstance(dag_run, dict):
            return dag_run
    return None


def dag_tasks(props: Props) -> list[tuple[str, str]]:
    """Task order `(upstream, downstream)` from a DAG job's `airflow` job facet, when present."""
    facet = props.get("facet.airflow")
    tasks = facet.get("tasks") if isinstance(facet, dict) else None
    if not isinstance(tasks, dict):
        return []
    pairs: list[tuple[str, str]] = []
    for task_id, info in tasks.items():
        after = info.get("downstream_task_ids") if isinstance(info, dict) else None
        if isinstance(after, list):
            pairs.extend((task_id, d) for d in after if isinstance(d, str))
    return pairs


def _from_task_nodes(tasks: Iterable[Props]) -> TaskRef | None:
    found = sorted(
        TaskRef(p["dag_id"], p["task_id"])
        for p in tasks
        if isinstance(p.get("dag_id"), str) and isinstance(p.get("task_id"), str)
    )
    return found[0] if found else None


def _from_prefix(job: str, candidates: Mapping[str, Props]) -> TaskRef | None:
    best: tuple[int, int, str] | None = None
    for candidate in prefix_candidates(job):
        props = candidates.get(candidate)
        if props is None:
            continue
        kind = job_type(props)
        if kind == "TASK":
            continue
        rank = (1 if kind == "DAG" else 0, len(candidate), candidate)
        if best is None or rank > best:
            best = rank
    if best is None:
        return None
    dag = parse_node_id(best[2])
    key = parse_node_id(job)
    assert isinstance(dag, JobKey) and isinstance(key, JobKey)
    return TaskRef(dag.name, key.name[len(dag.name) + 1 :])
