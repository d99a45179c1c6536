"""Planning a backfill over a GraphStore: gather the roots' downstream lineage, the Airflow
mapping and the known runs from the store, then hand them to the pure planner.

Three steps, timed apart (the benchmark reports each): `impacted` walks the closures, `gather`
reads the jobs' neighbourhoods, tasks and runs and maps jobs to tasks, `plan_backfill` plans.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ripple.errors import NotFound
from ripple.graph import queries
from ripple.graph.store import Closure, Direction, GraphStore, NodeRecord, WalkOptions
from ripple.heap import collector_paused
from ripple.model import EdgeKind, FieldKey, NodeKind, canonical, kind_of, parse_node_id
from ripple.remediation import mapping
from ripple.remediation.planner import (
    Dates,
    InvalidPlanRequest,
    KnownRun,
    Lineage,
    Plan,
    PlanOptions,
    TaskRef,
    logical_date,
    plan_backfill,
)
from ripple.remediation.state import (
    PlanStatus,
    QuarantineEntry,
    RemediationState,
    StoredPlan,
    UnitStatus,
)

_READ_BY, _WRITES = EdgeKind.READ_BY.value, EdgeKind.WRITES.value
_RUN_OF, _IMPLEMENTS = EdgeKind.RUN_OF.value, EdgeKind.IMPLEMENTS.value
_CONTAINS, _PRECEDES = EdgeKind.CONTAINS.value, EdgeKind.PRECEDES.value
_CHILD_OF = EdgeKind.CHILD_OF.value


@dataclass(frozen=True, slots=True)
class PlanRequest:
    roots: tuple[str, ...]
    dates: Dates = field(default_factory=Dates)
    options: PlanOptions = field(default_factory=PlanOptions)
    depth: int = 100
    limit: int = 1_000_000

    def as_dict(self) -> dict[str, Any]:
        return {
            "roots": list(self.roots),
            "dates": list(self.dates.explicit),
            "from": self.dates.start,
            "to": self.dates.end,
            "options": self.options.as_dict(),
        }


@dataclass(slots=True)
class Impacted:
    roots: list[str]
    jobs: set[str]
    root_dates: list[str] = field(default_factory=list)
    truncated: bool = False
    # A dataset's other names -> the canonical id its walks answered under (graph/aliases.py):
    # jobs read and write datasets by whichever name their producer used.
    names: dict[str, str] = field(default_factory=dict)

    def learn(self, closure: Closure) -> None:
        """Take a walk's jobs and the alias groups it met."""
        self.truncated |= closure.truncated
        self.jobs.update(n.id for n in closure.nodes if n.kind == NodeKind.JOB.value)
        self.names.update(dict.fromkeys(closure.aliases, closure.root))
        for node in closure.nodes:
            self.names.update(dict.fromkeys(node.aliases, node.id))


@dataclass(slots=True)
class Timings:
    closure: float = 0.0
    gather: float = 0.0
    planning: float = 0.0

    @property
    def total(self) -> float:
        return self.closure + self.gather + self.planning


async def plan(
    store: GraphStore,
    request: PlanRequest,
    quarantined: Iterable[str] = (),
    timings: Timings | None = None,
) -> Plan:
    """The backfill plan of `request` over `store` (raises NotFound for an unknown root,
    InvalidNodeId / InvalidPlanRequest for bad input)."""
    timings = timings if timings is not None else Timings()
    started = time.perf_counter()
    found = await impacted(store, request.roots, request.depth, request.limit)
    timings.closure = time.perf_counter() - started
    started = time.perf_counter()
    with collector_paused():
        lineage = await gather(store, found)
    timings.gather = time.perf_counter() - started
    started = time.perf_counter()
    result = plan_backfill(lineage, request.dates, request.options, quarantined)
    timings.planning = time.perf_counter() - started
    return result


async def impacted(store: GraphStore, roots: Sequence[str], depth: int, limit: int) -> Impacted:
    """The jobs to redo: downstream of each root, root jobs and failed runs' jobs included."""
    if not roots:
        raise InvalidPlanRequest("roots", "give at least one dataset, column, job or run id")
    out = Impacted([], set())
    options = WalkOptions(depth, limit, columns=False)
    for raw in roots:
        root = canonical(raw)
        out.roots.append(root)
        kind = kind_of(root)
        if kind is NodeKind.RUN:
            for job, when in await _failed_runs(store, root):
                if when is not None:
                    out.root_dates.append(when)
                out.learn(await store.walk(job, Direction.DOWNSTREAM, options))
                out.jobs.add(job)
            continue
        if kind in (NodeKind.DATASET, NodeKind.JOB):
            out.learn(await store.walk(root, Direction.DOWNSTREAM, options))
            if kind is NodeKind.JOB:
                out.jobs.add(root)
        elif kind is NodeKind.COLUMN:
            out.jobs |= await _column_jobs(store, root, depth, limit, out)
        else:
            raise InvalidPlanRequest(
                "roots", f"{root!r} is a {kind.value}; start from a dataset, column, job or run"
            )
    return out


async def _failed_runs(store: GraphStore, root: str) -> list[tuple[str, str | None]]:
    """(job, logical date) of a run root. A DAG-level run (Airflow's DAG run job) stands for its
    task runs that failed — all of its task runs when none failed."""
    record = (await store.nodes([root])).get(root)
    if record is None:
        raise NotFound(f"Run {root!r} not found — was its event ingested?")
    job = record.props.get("job")
    if not isinstance(job, str):
        raise InvalidPlanRequest("roots", f"run {root!r} names no job")
    job_record = (await store.nodes([job])).get(job)
    if job_record is not None and mapping.job_type(job_record.props) == "DAG":
        edges = await store.neighbourhood([root])
        children = await store.nodes(
            sorted({e.src for e in edges if e.kind == _CHILD_OF and e.dst == root})
        )
        failed = [r for r in children.values() if r.props.get("state") == "FAIL"]
        picked = [
            (r.props["job"], mapping.run_logical_date(r.props))
            for r in failed or children.values()
            if isinstance(r.props.get("job"), str)
        ]
        if picked:
            return picked
    return [(job, mapping.run_logical_date(record.props))]


async def _column_jobs(
    store: GraphStore, root: str, depth: int, limit: int, out: Impacted
) -> set[str]:
    """Jobs that write a column derived from `root`, reading the root's dataset or another
    impacted one: column lineage says exactly which jobs carry the bad values on."""
    closure = await store.walk(root, Direction.DOWNSTREAM, WalkOptions(depth, limit, columns=True))
    out.truncated |= closure.truncated
    key = parse_node_id(root)
    assert isinstance(key, FieldKey)
    own = set(await _names(store, key.dataset.node_id))  # the root's dataset, by every name
    impacted = [n for n in closure.nodes if n.kind == NodeKind.DATASET.value and n.id not in own]
    datasets = {name for n in impacted for name in (n.id, *n.aliases)}
    writers: set[str] = set()
    readers: set[str] = set()
    for edge in await store.neighbourhood(sorted(datasets | own)):
        if edge.kind == _WRITES and edge.dst in datasets:
            writers.add(edge.src)
        elif edge.kind == _READ_BY:
            readers.add(edge.dst)
    return writers & readers


async def gather(store: GraphStore, found: Impacted) -> Lineage:
    """The impacted jobs' inputs, outputs, Airflow tasks and known runs, mapped to tasks."""
    jobs = sorted(found.jobs)
    reads: dict[str, set[str]] = defaultdict(set)
    writes: dict[str, set[str]] = defaultdict(set)
    runs_of: dict[str, list[str]] = defaultdict(list)
    tasks_of: dict[str, list[str]] = defaultdict(list)
    name = found.names.get
    for edge in await store.neighbourhood(jobs):
        if edge.kind == _READ_BY:
            reads[edge.dst].add(name(edge.src, edge.src))
        elif edge.kind == _WRITES:
            writes[edge.src].add(name(edge.dst, edge.dst))
        elif edge.kind == _RUN_OF:
            runs_of[edge.dst].append(edge.src)
        elif edge.kind == _IMPLEMENTS:
            tasks_of[edge.dst].append(edge.src)
    # Runs pile up for ever, so read few: the newest run of each job Airflow's sync does not
    # map (its run facet names the task) — all of them only when that one does not — and, for
    # the DAG runs, every run of one task per DAG (the one with most runs) beside the DAG-level
    # job's runs and the sync's recent runs. Run ids are UUIDv7 from Airflow: the largest is newest.
    task_nodes = sorted({t for ts in tasks_of.values() for t in ts})
    first = {job: max(runs_of[job]) for job in jobs if job not in tasks_of and runs_of.get(job)}
    records = await store.nodes([*task_nodes, *first.values()])

    def props(ids: Iterable[str]) -> list[mapping.Props]:
        return [records[i].props for i in ids if i in records]

    task_props = {job: props(ts) for job, ts in tasks_of.items()}
    mapped, rest = mapping.map_by_airflow(
        jobs, task_props, {job: props([run]) for job, run in first.items()}
    )
    retry = [job for job in rest if len(runs_of.get(job, ())) > 1]
    if retry:
        records.update(await store.nodes(sorted({r for job in retry for r in runs_of[job]})))
        again, rest = mapping.map_by_airflow(
            rest, task_props, {job: props(runs_of[job]) for job in retry}
        )
        mapped.update(again)
    # Only the jobs Airflow's own records did not map need their names read (the usual case:
    # none), and only the DAG-level jobs of the mapped ones.
    dag_jobs = {mapping.dag_job(job, task): task.dag_id for job, task in mapped.items()}
    candidates = sorted({c for job in rest for c in mapping.prefix_candidates(job)})
    more = await store.nodes(sorted({*rest, *candidates, *dag_jobs}))
    records.update(more)
    named, unmapped = mapping.map_by_name(
        rest,
        {job: more[job].props for job in rest if job in more},
        {c: more[c].props for c in candidates if c in more},
        mapped,
    )
    for job, task in named.items():
        mapped[job] = task
        dag_jobs[mapping.dag_job(job, task)] = task.dag_id

    busiest: dict[str, str] = {}  # dag_id -> its job with the most runs
    for job, task in mapped.items():
        best = busiest.get(task.dag_id)
        if len(runs_of.get(job, ())) > (len(runs_of[best]) if best in runs_of else 0):
            busiest[task.dag_id] = job
    wanted = sorted({r for job in busiest.values() for r in runs_of[job]} - set(records))
    records.update(await store.nodes(wanted))
    runs: list[KnownRun] = []
    for dag_id, job in busiest.items():
        for one in props(runs_of[job]):
            known = mapping.known_run(one, dag_id)
            if known is not None:
                runs.append(known)
    runs += await _dag_runs(store, dag_jobs)
    precedes, dag_runs = await _airflow_dags(store, task_nodes, records)
    runs += dag_runs
    for dag_job, dag_id in dag_jobs.items():
        if dag_job in records:
            for a, b in mapping.dag_tasks(records[dag_job].props):
                precedes.add((TaskRef(dag_id, a), TaskRef(dag_id, b)))
    return Lineage(
        roots=found.roots,
        jobs=found.jobs,
        reads=dict(reads),
        writes=dict(writes),
        mapping=mapped,
        unmapped=unmapped,
        precedes=precedes,
        runs=runs,
        root_dates=found.root_dates,
        truncated=found.truncated,
    )


async def _dag_runs(store: GraphStore, dag_jobs: dict[str, str]) -> list[KnownRun]:
    """DAG runs from the DAG-level jobs' own run events (a task may have no run of its own)."""
    edges = await store.neighbourhood(sorted(dag_jobs))
    owner = {e.src: e.dst for e in edges if e.kind == _RUN_OF and e.dst in dag_jobs}
    records = await store.nodes(sorted(owner))
    runs = []
    for run_id, record in records.items():
        known = mapping.known_run(record.props, dag_jobs[owner[run_id]])
        if known is not None:
            runs.append(known)
    return runs


async def _airflow_dags(
    store: GraphStore, task_nodes: list[str], records: dict[str, NodeRecord]
) -> tuple[set[tuple[TaskRef, TaskRef]], list[KnownRun]]:
    """From the Airflow sync's nodes: task order in the DAGs of the plan's tasks (every task of
    those DAGs, so order through tasks outside the plan is kept), and the DAGs' recent runs."""
    if not task_nodes:
        return set(), []
    around = await store.neighbourhood(task_nodes)
    dags = sorted({e.src for e in around if e.kind == _CONTAINS})
    members = {e.dst for e in await store.neighbourhood(dags) if e.kind == _CONTAINS}
    others = sorted(members - set(task_nodes))  # tasks of those DAGs outside the plan
    found = {e for e in around if e.kind == _PRECEDES}
    found.update(e for e in await store.neighbourhood(others) if e.kind == _PRECEDES)
    edges = sorted(found)
    missing = sorted(({i for e in edges for i in (e.src, e.dst)} | set(dags)) - set(records))
    known = {**records, **await store.nodes(missing)}
    refs = {i: _task_ref(i, known.get(i)) for e in edges for i in (e.src, e.dst)}
    runs: list[KnownRun] = []
    for dag in dags:
        props = known[dag].props if dag in known else {}
        dag_id = props.get("dag_id")
        for run in props.get("recent_runs") or []:
            when, run_id = run.get("logical_date"), run.get("run_id")
            if isinstance(dag_id, str) and isinstance(when, str):
                try:
                    runs.append(KnownRun(dag_id, logical_date(when), _str(run_id)))
                except InvalidPlanRequest:
                    continue
    return {(refs[e.src], refs[e.dst]) for e in edges}, runs


def _task_ref(node_id: str, record: NodeRecord | None) -> TaskRef:
    props = record.props if record is not None else {}
    dag_id, task_id = props.get("dag_id"), props.get("task_id")
    if isinstance(dag_id, str) and isinstance(task_id, str):
        return TaskRef(dag_id, task_id)
    key = parse_node_id(node_id)  # the id splits at its first '.', right unless the dag_id has one
    return TaskRef(getattr(key, "dag_id", node_id), getattr(key, "task_id", ""))


def parse_dates(
    dates: Sequence[str] = (), start: str | None = None, end: str | None = None
) -> Dates:
    """Dates from request values (ISO 8601), naming the field of a bad one."""
    if dates and (start is not None or end is not None):
        raise InvalidPlanRequest("dates", "give either dates or a range (from/to), not both")
    return Dates(
        tuple(logical_date(d, "dates") for d in dates),
        None if start is None else logical_date(start, "from"),
        None if end is None else logical_date(end, "to"),
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


async def plan_and_store(
    store: GraphStore,
    state: RemediationState,
    request: PlanRequest,
    *,
    actor: str,
    save: bool,
) -> tuple[Plan, StoredPlan | None]:
    """Plan with the current quarantine; persist the plan (and its units) when `save`."""
    quarantined = {await _canonical(store, entry.dataset_id) for entry in await state.quarantined()}
    result = await plan(store, request, quarantined)
    stored = None
    if save:
        stored = await state.create_plan(result.as_dict(), request.as_dict(), actor)
    return result, stored


async def quarantine(
    store: GraphStore, state: RemediationState, dataset_id: str, actor: str, reason: str | None
) -> QuarantineEntry:
    """Quarantine a dataset the graph knows (InvalidPlanRequest for another kind of id), under
    its canonical id whichever of its names was given (graph/aliases.py)."""
    node_id = _dataset_id(dataset_id)
    if not await store.nodes([node_id]):
        raise NotFound(f"Dataset {node_id!r} not found — was it ingested under another namespace?")
    return await state.quarantine_add(await _canonical(store, node_id), actor, reason)


async def release(
    state: RemediationState, dataset_id: str, actor: str, store: GraphStore | None = None
) -> None:
    """Lift a quarantine by any name of the dataset (NotFound when it was not quarantined)."""
    node_id = _dataset_id(dataset_id)
    names = [node_id]
    if store is not None and await store.nodes([node_id]):
        names = list(dict.fromkeys([node_id, *await _names(store, node_id)]))
    for name in names:
        if await state.quarantine_remove(name, actor):
            return
    raise NotFound(f"Dataset {node_id!r} is not quarantined")


async def _canonical(store: GraphStore, dataset_id: str) -> str:
    """The canonical id of a dataset (itself when the graph does not know it)."""
    return (await _names(store, dataset_id))[0]


async def _names(store: GraphStore, dataset_id: str) -> list[str]:
    """A dataset's canonical id, then its other names (itself alone when the graph does not
    know it)."""
    try:  # the id as stored or as `_dataset_id` read it: one node, never ambiguous
        canonical_id, aliases = await queries.names(store, parse_node_id(dataset_id))
    except NotFound:
        return [dataset_id]
    return [canonical_id, *aliases]


async def cancel(state: RemediationState, plan_id: str, actor: str) -> str:
    """Stop launching new units. A plan not started yet is cancelled at once; a running one
    becomes `cancelling` and its executor follows the running units to their end."""
    if await state.set_plan_status(
        plan_id, PlanStatus.CANCELLED, expected={PlanStatus.PLANNED}, actor=actor
    ):
        for unit in await state.units(plan_id):
            await state.set_unit_state(
                plan_id,
                unit.unit_id,
                UnitStatus.CANCELLED,
                expected={UnitStatus.PENDING, UnitStatus.READY},
                actor=actor,
                reason="plan cancelled before it ran",
            )
        return PlanStatus.CANCELLED
    await state.set_plan_status(
        plan_id,
        PlanStatus.CANCELLING,
        expected={PlanStatus.RUNNING, PlanStatus.PAUSED},
        actor=actor,
    )
    return (await state.get_plan(plan_id)).status


def _dataset_id(value: str) -> str:
    node_id = canonical(value)
    if kind_of(node_id) is not NodeKind.DATASET:
        raise InvalidPlanRequest(
            "datasetId", f"{value!r} is not a dataset id ('dataset:<ns>:<name>')"
        )
    return node_id
