"""Backfill planning (pure, no I/O): from the impacted lineage of some roots to the minimal,
ordered set of Airflow task instances to redo.

A unit is one task instance `(dag_id, task_id, logical_date)`. Only jobs downstream of the roots
become units, each task instance once. Unit B lists unit A as a parent when a job of A writes a
dataset a job of B reads (at the same logical date; other schedules: see `_date_parents`), or
when Airflow's own task dependencies put A's task before B's (PRECEDES, which the Airflow sync
also draws across DAGs linked by assets). Dependencies pass through jobs that are not
units (unmapped, or excluded by an option), so excluding a task never reorders the rest.
Execution is readiness-driven: a unit may start once every parent has succeeded; `layers` (Kahn
waves) are for people. Lineage cycles are reported; parents inside one cycle are dropped, so the
plan stays runnable, and the cycle says so. Units that read a quarantined dataset, and everything
downstream of them, are held (not runnable), each with its reason.

Logical dates: explicit dates apply to every DAG of the plan. A range (inclusive) resolves, per
DAG, to the logical dates of its runs known in the graph; a DAG with no known run in the range
gets the range's partitions (the union of every plan DAG's known dates there, or one per day at
midnight UTC when none is known) as `trigger` units. Without dates, failed-run roots supply their
own logical dates. A unit is `clear` when its DAG has a run at that logical date (Airflow's run id
is kept when known), `trigger` otherwise.
"""

from __future__ import annotations

import bisect
import fnmatch
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple, TypeVar

from ripple.errors import MalformedInput
from ripple.graph.order import is_acyclic, layer, strongly_connected
from ripple.heap import collector_paused

MAX_PARTITIONS = 1_000  # logical dates one plan may span
N = TypeVar("N")


class InvalidPlanRequest(MalformedInput):
    """A plan request with a bad field; `field` names it (`roots`, `options.maxTasks`, …)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"Field '{field}': {reason}")


class PlanTooLarge(InvalidPlanRequest):
    """The plan has more units than `maxTasks` allows and truncation was not asked for."""


class TaskRef(NamedTuple):  # a tuple: hashed and compared in C, planning hashes it a lot
    dag_id: str
    task_id: str

    @property
    def name(self) -> str:
        return f"{self.dag_id}.{self.task_id}"


@dataclass(frozen=True, slots=True)
class KnownRun:
    """A DAG run the graph knows of (from a task's or the DAG's run events)."""

    dag_id: str
    logical_date: str  # canonical, see `logical_date`
    run_id: str | None = None  # Airflow's dag run id, when the run facet names it


@dataclass(frozen=True, slots=True)
class Dates:
    explicit: tuple[str, ...] = ()  # canonical logical dates
    start: str | None = None  # an inclusive range
    end: str | None = None


@dataclass(frozen=True, slots=True)
class PlanOptions:
    include_dags: tuple[str, ...] = ()  # glob patterns on dag_id
    exclude_dags: tuple[str, ...] = ()
    include_tasks: tuple[str, ...] = ()  # glob patterns on `dag_id.task_id` or on task_id
    exclude_tasks: tuple[str, ...] = ()
    max_tasks: int | None = None  # units; over it: PlanTooLarge, or truncation when `truncate`
    max_parallel: int | None = None  # units running at once (the executor's cap)
    truncate: bool = False
    default_max_tasks: int | None = None  # the cap when `max_tasks` is not set (a setting)

    @property
    def task_cap(self) -> int | None:
        """The most units a plan may have: `max_tasks` if asked, else the default."""
        return self.max_tasks if self.max_tasks is not None else self.default_max_tasks

    def as_dict(self) -> dict[str, Any]:
        return {
            "includeDags": list(self.include_dags),
            "excludeDags": list(self.exclude_dags),
            "includeTasks": list(self.include_tasks),
            "excludeTasks": list(self.exclude_tasks),
            "maxTasks": self.max_tasks,
            "maxParallel": self.max_parallel,
            "truncate": self.truncate,
        }


@dataclass(slots=True)
class Lineage:
    """What the caller gathered from the graph for the planner."""

    roots: list[str]
    jobs: set[str]  # impacted jobs: downstream of the roots, root jobs included
    reads: dict[str, set[str]]  # job -> every dataset it reads
    writes: dict[str, set[str]]  # job -> every dataset it writes
    mapping: dict[str, TaskRef]  # job -> the Airflow task that runs it
    unmapped: dict[str, str]  # job -> why no task could be found
    precedes: set[tuple[TaskRef, TaskRef]] = field(default_factory=set)  # Airflow task deps
    runs: list[KnownRun] = field(default_factory=list)
    root_dates: list[str] = field(default_factory=list)  # logical dates of failed-run roots
    truncated: bool = False  # a closure hit its node cap


@dataclass(slots=True)
class Unit:
    id: str
    dag_id: str
    task_id: str
    logical_date: str
    action: str  # "clear" (the DAG run exists) or "trigger" (no run known)
    run_id: str | None  # Airflow's dag run id, when known
    jobs: list[str]
    parents: list[str]
    layer: int = 0
    held: str | None = None  # why the unit is not runnable

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "dagId": self.dag_id,
            "taskId": self.task_id,
            "logicalDate": self.logical_date,
            "action": self.action,
            "runId": self.run_id,
            "jobs": self.jobs,
            "parents": self.parents,
            "layer": self.layer,
            "held": self.held,
        }


@dataclass(slots=True)
class Plan:
    roots: list[str]
    dates: list[str]  # every logical date of the plan
    date_source: str  # "explicit", "range", "run roots"
    options: PlanOptions
    units: list[Unit]  # in a topological order (layer, dag, task, date)
    layers: list[list[str]]  # unit ids, Kahn waves
    cycles: list[list[str]]  # lineage cycles, as job ids
    unmapped: list[dict[str, str]]  # {"job", "reason"}
    excluded: list[dict[str, str]]  # {"task", "reason"}: left out by an option
    held: list[dict[str, str]]  # {"unit", "reason"}
    notes: list[str]
    truncated: bool = False  # units left out by maxTasks (see `omitted`)
    omitted: int = 0
    closure_truncated: bool = False  # the lineage walk hit its cap: the plan may be incomplete
    range: tuple[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The canonical JSON-able form (stored, hashed, served)."""
        return {
            "roots": self.roots,
            "dates": self.dates,
            "dateSource": self.date_source,
            "range": None if self.range is None else {"from": self.range[0], "to": self.range[1]},
            "options": self.options.as_dict(),
            "units": [unit.as_dict() for unit in self.units],
            "layers": self.layers,
            "cycles": self.cycles,
            "unmapped": self.unmapped,
            "excluded": self.excluded,
            "held": self.held,
            "notes": self.notes,
            "truncated": self.truncated,
            "omitted": self.omitted,
            "closureTruncated": self.closure_truncated,
        }


def logical_date(value: str | date | datetime, field: str = "dates") -> str:
    """The canonical form of a logical date: UTC ISO 8601 (`2026-03-02T00:00:00+00:00`).

    A bare date means midnight UTC; a time without a zone is taken as UTC."""
    if isinstance(value, str):
        try:
            parsed: date | datetime = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidPlanRequest(
                field, f"{value!r} is not an ISO 8601 date or date-time (e.g. 2026-03-02)"
            ) from None
        if len(value.strip()) == 10:
            parsed = parsed.date() if isinstance(parsed, datetime) else parsed
    else:
        parsed = value
    if not isinstance(parsed, datetime):
        parsed = datetime.combine(parsed, time(), tzinfo=UTC)
    elif parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat()


def unit_id(task: TaskRef, when: str) -> str:
    """`dag_id/task_id/logical_date` — Airflow ids cannot hold '/', so this never collides."""
    return f"{task.dag_id}/{task.task_id}/{when}"


def plan_backfill(
    lineage: Lineage,
    dates: Dates,
    options: PlanOptions,
    quarantined: Iterable[str] = (),
) -> Plan:
    """The backfill plan for `lineage` (see the module docstring for the rules).

    Raises InvalidPlanRequest for dates that cannot be resolved, PlanTooLarge past maxTasks."""
    with collector_paused():  # many small acyclic objects: reference counting frees them
        return _plan(lineage, dates, options, set(quarantined))


def _plan(lineage: Lineage, dates: Dates, options: PlanOptions, quarantined: set[str]) -> Plan:
    notes: list[str] = []
    job_graph = _job_graph(lineage)
    cycles = _cycles(job_graph)

    excluded: list[dict[str, str]] = []
    tasks: dict[TaskRef, list[str]] = defaultdict(list)
    dropped: set[TaskRef] = set()
    for job in sorted(lineage.jobs):
        task = lineage.mapping.get(job)
        if task is None:
            continue
        reason = _excluded_by(task, options)
        if reason is not None:
            if task not in dropped:
                dropped.add(task)
                excluded.append({"task": task.name, "reason": reason})
            continue
        tasks[task].append(job)
    kept_jobs = {job: task for task, jobs in tasks.items() for job in jobs}
    task_parents = _task_parents(job_graph, kept_jobs, lineage.precedes, set(tasks))

    per_dag, date_source = _resolve_dates(dates, lineage, {t.dag_id for t in tasks}, notes)
    known: dict[str, dict[str, str | None]] = defaultdict(dict)
    for run in lineage.runs:
        slot = known[run.dag_id]
        if run.run_id is not None or run.logical_date not in slot:
            slot[run.logical_date] = run.run_id

    # Units, and their parents at matching logical dates.
    units: dict[str, Unit] = {}
    dates_of: dict[TaskRef, list[str]] = {}
    for task in sorted(tasks):
        dates_of[task] = per_dag.get(task.dag_id, [])
        runs = known.get(task.dag_id, {})
        for when in dates_of[task]:
            uid = unit_id(task, when)
            has_run = when in runs
            units[uid] = Unit(
                uid,
                task.dag_id,
                task.task_id,
                when,
                "clear" if has_run else "trigger",
                runs.get(when),
                sorted(tasks[task]),
                [],
            )
    component = _components({t: ps for t, ps in task_parents.items()})
    successors: dict[str, set[str]] = {uid: set() for uid in units}
    present = {dag: set(values) for dag, values in per_dag.items()}
    for task, parents in task_parents.items():
        mine = dates_of[task]
        for i, when in enumerate(mine):
            child = unit_id(task, when)
            since = mine[i - 1] if i else None
            found: set[str] = set()
            for parent in parents:
                theirs = dates_of[parent]
                for pdate in _date_parents(theirs, present[parent.dag_id], when, since):
                    if pdate == when and component[parent] == component[task]:
                        continue  # inside one cycle: no order among its members
                    found.add(unit_id(parent, pdate))
            units[child].parents = sorted(found)
            for parent_uid in found:
                successors[parent_uid].add(child)

    # Acyclic by construction (parents inside a cycle are dropped, and other dates only point
    # forward in time); layer() would condense a cycle should that ever not hold.
    waves = layer(successors)[0]
    ordered: list[Unit] = []
    for depth, wave in enumerate(waves):
        for uid in wave:
            units[uid].layer = depth
            ordered.append(units[uid])

    truncated, omitted = False, 0
    cap = options.task_cap
    if cap is not None and len(ordered) > cap:
        if not options.truncate:
            allowed = (
                f"{cap:,} allowed"
                if options.max_tasks is not None
                else f"{cap:,} allowed by default (maxTasks not set)"
            )
            raise PlanTooLarge(
                "options.maxTasks",
                f"the plan has {len(ordered):,} task instances, more than the {allowed} — "
                "narrow the roots, dates or DAGs, raise maxTasks, or ask for truncate",
            )
        truncated, omitted = True, len(ordered) - cap
        ordered = ordered[:cap]  # topological: every kept unit keeps its parents
        notes.append(f"Truncated to maxTasks={cap:,}: {omitted:,} later units left out.")
        kept = {unit.id for unit in ordered}
        waves = [[uid for uid in wave if uid in kept] for wave in waves]
        waves = [wave for wave in waves if wave]

    held = _hold(ordered, lineage.reads, quarantined)
    unmapped = [{"job": job, "reason": reason} for job, reason in sorted(lineage.unmapped.items())]
    if cycles:
        notes.append(
            f"{len(cycles)} lineage cycle(s): their members run without order among themselves."
        )
    if lineage.truncated:
        notes.append("A lineage walk hit its node cap: the plan may miss downstream tasks.")
    all_dates = sorted({when for values in per_dag.values() for when in values})
    return Plan(
        roots=list(lineage.roots),
        dates=all_dates,
        date_source=date_source,
        options=options,
        units=ordered,
        layers=waves,
        cycles=cycles,
        unmapped=unmapped,
        excluded=excluded,
        held=held,
        notes=notes,
        truncated=truncated,
        omitted=omitted,
        closure_truncated=lineage.truncated,
        range=(dates.start, dates.end) if dates.start and dates.end else None,
    )


def _job_graph(lineage: Lineage) -> dict[str, set[str]]:
    """Impacted job -> impacted jobs that read a dataset it writes."""
    readers: dict[str, set[str]] = defaultdict(set)
    for job in lineage.jobs:
        for dataset in lineage.reads.get(job, ()):
            readers[dataset].add(job)
    graph: dict[str, set[str]] = {job: set() for job in lineage.jobs}
    for job in lineage.jobs:
        for dataset in lineage.writes.get(job, ()):
            graph[job].update(readers.get(dataset, ()))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    if is_acyclic(graph):
        return []
    found = [
        sorted(members)
        for members in strongly_connected(graph)
        if len(members) > 1 or members[0] in graph[members[0]]
    ]
    return sorted(found)


def _components(parents: Mapping[TaskRef, set[TaskRef]]) -> dict[TaskRef, int]:
    """Task -> the index of its strongly connected component (tasks in one cycle share one)."""
    if is_acyclic(parents):
        return {task: i for i, task in enumerate(parents)}
    graph: dict[str, set[str]] = {t.name: set() for t in parents}
    by_name = {t.name: t for t in parents}
    for task, ps in parents.items():
        for parent in ps:
            graph[parent.name].add(task.name)
    component: dict[TaskRef, int] = {}
    for i, members in enumerate(strongly_connected(graph)):
        for member in members:
            component[by_name[member]] = i
    return component


def _task_parents(
    job_graph: dict[str, set[str]],
    kept: dict[str, TaskRef],
    precedes: set[tuple[TaskRef, TaskRef]],
    tasks: set[TaskRef],
) -> dict[TaskRef, set[TaskRef]]:
    """Task -> in-plan tasks it must follow: lineage through jobs that are not units, and Airflow
    task order through tasks that are not in the plan."""
    parents: dict[TaskRef, set[TaskRef]] = {task: set() for task in tasks}
    for src, dsts in _contract(job_graph, set(kept)).items():
        for dst in dsts:
            a, b = kept[src], kept[dst]
            if a != b:
                parents[b].add(a)
    task_graph: dict[TaskRef, set[TaskRef]] = defaultdict(set)
    for before, after in precedes:
        task_graph[before].add(after)
    for first, nexts in _contract(task_graph, tasks).items():
        for task in nexts:
            if task != first:
                parents[task].add(first)
    return parents


def _contract(graph: Mapping[N, set[N]], kept: set[N]) -> dict[N, set[N]]:
    """Kept node -> the kept nodes it reaches directly or through nodes that are not kept."""
    beyond: dict[N, set[N]] = {}  # a dropped node -> kept nodes it reaches (memoised)

    def reach(node: N) -> set[N]:
        if node in beyond:
            return beyond[node]
        beyond[node] = set()  # cycles among dropped nodes terminate here
        found: set[N] = set()
        stack = [node]
        seen = {node}
        while stack:
            current = stack.pop()
            for nxt in graph.get(current, ()):
                if nxt in kept:
                    found.add(nxt)
                elif nxt not in seen:
                    if beyond.get(nxt):
                        found.update(beyond[nxt])
                        continue
                    seen.add(nxt)
                    stack.append(nxt)
        beyond[node] = found
        return found

    out: dict[N, set[N]] = {}
    for node in kept:
        targets: set[N] = set()
        for nxt in graph.get(node, ()):
            if nxt in kept:
                targets.add(nxt)
            else:
                targets |= reach(nxt)
        out[node] = targets
    return out


def _date_parents(dates: list[str], present: set[str], when: str, since: str | None) -> list[str]:
    """The parent's units a unit at `when` waits for: the one at the same logical date. When the
    parent has none there (another schedule): those since the unit's previous logical date, up
    to `when` — or, if none, the parent's latest unit before `when`. `dates` is sorted."""
    if when in present:
        return [when]
    high = bisect.bisect_right(dates, when)
    low = 0 if since is None else bisect.bisect_right(dates, since)
    return dates[low:high] or dates[max(0, high - 1) : high]


def _excluded_by(task: TaskRef, options: PlanOptions) -> str | None:
    def matches(patterns: tuple[str, ...], *names: str) -> str | None:
        for pattern in patterns:
            if any(fnmatch.fnmatchcase(name, pattern) for name in names):
                return pattern
        return None

    if options.include_dags and matches(options.include_dags, task.dag_id) is None:
        return "its DAG matches no includeDags pattern"
    pattern = matches(options.exclude_dags, task.dag_id)
    if pattern is not None:
        return f"its DAG matches excludeDags {pattern!r}"
    names = (task.name, task.task_id)
    if options.include_tasks and matches(options.include_tasks, *names) is None:
        return "it matches no includeTasks pattern"
    pattern = matches(options.exclude_tasks, *names)
    if pattern is not None:
        return f"it matches excludeTasks {pattern!r}"
    return None


def _resolve_dates(
    dates: Dates, lineage: Lineage, dags: set[str], notes: list[str]
) -> tuple[dict[str, list[str]], str]:
    if dates.explicit:
        every = sorted(set(dates.explicit))
        return {dag: every for dag in dags}, "explicit"
    if dates.start is not None or dates.end is not None:
        if dates.start is None or dates.end is None:
            missing = "from" if dates.start is None else "to"
            raise InvalidPlanRequest(missing, "a range needs both 'from' and 'to'")
        if dates.end < dates.start:
            raise InvalidPlanRequest("to", f"{dates.end} is before 'from' {dates.start}")
        in_range: dict[str, set[str]] = defaultdict(set)
        for run in lineage.runs:
            if dates.start <= run.logical_date <= dates.end:
                in_range[run.dag_id].add(run.logical_date)
        partitions = sorted({d for dag in dags for d in in_range.get(dag, ())})
        if not partitions:
            partitions = _daily(dates.start, dates.end)
            if dags:
                notes.append(
                    "No run of these DAGs is known in the range: one partition per day at "
                    "midnight UTC is assumed, and every unit triggers a new run."
                )
        per_dag: dict[str, list[str]] = {}
        assumed = []
        for dag in dags:
            found = sorted(in_range.get(dag, ()))
            if not found:
                assumed.append(dag)
            per_dag[dag] = found or partitions
        if assumed and len(assumed) < len(dags):
            notes.append(
                f"{len(assumed)} DAG(s) have no known run in the range and take the range's "
                f"partitions as new runs: {', '.join(sorted(assumed)[:10])}"
                + (" …" if len(assumed) > 10 else "")
            )
        if sum(len(v) for v in per_dag.values()) > MAX_PARTITIONS * max(1, len(dags)):
            raise InvalidPlanRequest("from", "the range spans too many logical dates")
        return per_dag, "range"
    if lineage.root_dates:
        every = sorted(set(lineage.root_dates))
        return {dag: every for dag in dags}, "run roots"
    raise InvalidPlanRequest(
        "dates",
        "no logical dates — give dates, or a range with 'from' and 'to', or start from a "
        "failed run",
    )


def _daily(start: str, end: str) -> list[str]:
    first = datetime.fromisoformat(start)
    last = datetime.fromisoformat(end)
    day = datetime.combine(first.date(), time(), tzinfo=UTC)
    if day < first:
        day += timedelta(days=1)
    out: list[str] = []
    while day <= last:
        out.append(day.isoformat())
        if len(out) > MAX_PARTITIONS:
            raise InvalidPlanRequest(
                "to", f"the range spans more than {MAX_PARTITIONS:,} daily partitions"
            )
        day += timedelta(days=1)
    return out


def _hold(
    units: list[Unit], reads: dict[str, set[str]], quarantined: set[str]
) -> list[dict[str, str]]:
    """Hold units that read a quarantined dataset, and everything downstream of a held unit."""
    held: list[dict[str, str]] = []
    if not quarantined:
        return held
    by_id = {unit.id: unit for unit in units}
    for unit in units:  # topological order: parents are decided first
        bad = sorted({d for job in unit.jobs for d in reads.get(job, ()) if d in quarantined})
        if bad:
            unit.held = f"reads quarantined dataset {bad[0]}"
        else:
            blocked = next((p for p in unit.parents if p in by_id and by_id[p].held), None)
            if blocked is not None:
                unit.held = f"downstream of held unit {blocked}"
        if unit.held is not None:
            held.append({"unit": unit.id, "reason": unit.held})
    return held
