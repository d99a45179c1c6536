"""The backfill planner (pure), the job -> Airflow task mapping, and planning over a graph."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ripple.cli.render import plan_mermaid, plan_table
from ripple.errors import InvalidNodeId, NotFound
from ripple.graph.delta import EdgeUpsert, GraphDelta, NodeUpsert
from ripple.graph.embedded import EmbeddedStore
from ripple.ingest.event import parse_event
from ripple.ingest.projection import project
from ripple.model import EdgeKind, NodeKind
from ripple.remediation import mapping, service
from ripple.remediation.planner import (
    Dates,
    InvalidPlanRequest,
    KnownRun,
    Lineage,
    Plan,
    PlanOptions,
    PlanTooLarge,
    TaskRef,
    logical_date,
    plan_backfill,
    unit_id,
)
from tests.unit.builders import ds, job, run_event

D1 = logical_date("2026-03-01")
D2 = logical_date("2026-03-02")
D3 = logical_date("2026-03-03")


def lineage(
    edges: list[tuple[str, str, str]],
    mapping_: dict[str, TaskRef] | None = None,
    **extra: Any,
) -> Lineage:
    """Jobs from (reader_of, job, writes) triples: `job` reads the first, writes the third."""
    jobs = {j for _, j, _ in edges}
    reads: dict[str, set[str]] = {}
    writes: dict[str, set[str]] = {}
    for read, j, write in edges:
        if read:
            reads.setdefault(j, set()).add(read)
        if write:
            writes.setdefault(j, set()).add(write)
    if mapping_ is None:
        mapping_ = {j: TaskRef(*j.split(".", 1)) for j in jobs if "." in j}
    unmapped = {j: "not airflow" for j in jobs if j not in mapping_}
    return Lineage(["root"], jobs, reads, writes, mapping_, unmapped, **extra)


# ingest.extract -> ingest.load -> (marts.build, marts.export); marts.build -> marts.report
PIPELINE = [
    ("raw", "ingest.extract", "stg"),
    ("stg", "ingest.load", "wh"),
    ("wh", "marts.build", "mart"),
    ("mart", "marts.report", "rpt"),
    ("wh", "marts.export", "out"),
]


def by_id(plan: Plan) -> dict[str, Any]:
    return {u.id: u for u in plan.units}


def test_units_are_ordered_across_dags_by_lineage() -> None:
    plan = plan_backfill(lineage(PIPELINE), Dates((D1,)), PlanOptions())
    units = by_id(plan)
    assert set(units) == {unit_id(TaskRef(*j.split(".", 1)), D1) for _, j, _ in PIPELINE}
    build = units[unit_id(TaskRef("marts", "build"), D1)]
    assert build.parents == [unit_id(TaskRef("ingest", "load"), D1)]
    assert plan.layers == [
        ["ingest/extract/" + D1],
        ["ingest/load/" + D1],
        ["marts/build/" + D1, "marts/export/" + D1],
        ["marts/report/" + D1],
    ]
    position = {u.id: i for i, u in enumerate(plan.units)}
    for unit in plan.units:
        assert all(position[p] < position[unit.id] for p in unit.parents)
        assert unit.layer > max((units[p].layer for p in unit.parents), default=-1)


def test_each_task_instance_once_even_when_several_jobs_map_to_it() -> None:
    edges = [*PIPELINE, ("wh", "marts.build_v2", "mart2")]
    mapped = {j: TaskRef(*j.split(".", 1)) for _, j, _ in PIPELINE}
    mapped["marts.build_v2"] = TaskRef("marts", "build")
    plan = plan_backfill(lineage(edges, mapped), Dates((D1, D2)), PlanOptions())
    ids = [u.id for u in plan.units]
    assert len(ids) == len(set(ids)) == 5 * 2
    assert by_id(plan)["marts/build/" + D1].jobs == ["marts.build", "marts.build_v2"]


def test_explicit_dates_give_one_unit_per_date_with_same_date_parents() -> None:
    plan = plan_backfill(lineage(PIPELINE), Dates((D2, D1)), PlanOptions())
    assert plan.dates == [D1, D2]
    assert by_id(plan)["ingest/load/" + D2].parents == ["ingest/extract/" + D2]
    assert plan.date_source == "explicit"


def test_clear_when_the_dag_run_exists_and_trigger_when_it_does_not() -> None:
    runs = [KnownRun("ingest", D1, "scheduled__2026-03-01")]
    plan = plan_backfill(lineage(PIPELINE, runs=runs), Dates((D1, D2)), PlanOptions())
    units = by_id(plan)
    assert units["ingest/load/" + D1].action == "clear"
    assert units["ingest/load/" + D1].run_id == "scheduled__2026-03-01"
    assert units["ingest/load/" + D2].action == "trigger"
    assert units["marts/build/" + D1].action == "trigger"


def test_a_range_resolves_to_each_dags_known_runs() -> None:
    runs = [
        KnownRun("ingest", D1),
        KnownRun("ingest", D3),
        KnownRun("marts", D1),
        KnownRun("ingest", logical_date("2026-04-01")),  # outside the range
    ]
    plan = plan_backfill(lineage(PIPELINE, runs=runs), Dates((), D1, D3), PlanOptions())
    ingest = {u.logical_date for u in plan.units if u.dag_id == "ingest"}
    marts = {u.logical_date for u in plan.units if u.dag_id == "marts"}
    assert ingest == {D1, D3}
    assert marts == {D1}
    assert all(u.action == "clear" for u in plan.units)
    assert plan.range == (D1, D3)


def test_a_dag_without_runs_in_the_range_takes_the_ranges_partitions_as_triggers() -> None:
    runs = [KnownRun("ingest", D1), KnownRun("ingest", D3)]
    plan = plan_backfill(lineage(PIPELINE, runs=runs), Dates((), D1, D3), PlanOptions())
    marts = sorted(
        u.logical_date for u in plan.units if u.dag_id == "marts" and u.task_id == "build"
    )
    assert marts == [D1, D3]
    assert all(u.action == "trigger" for u in plan.units if u.dag_id == "marts")
    assert any("no known run" in note for note in plan.notes)


def test_a_range_without_any_known_run_is_daily_partitions() -> None:
    plan = plan_backfill(
        lineage(PIPELINE), Dates((), D1, logical_date("2026-03-03T12:00:00")), PlanOptions()
    )
    assert plan.dates == [D1, D2, D3]
    assert all(u.action == "trigger" for u in plan.units)


def test_other_schedules_wait_for_the_parents_units_of_their_interval() -> None:
    noon1, noon2 = logical_date("2026-03-01T12:00:00"), logical_date("2026-03-02T12:00:00")
    runs = [KnownRun("ingest", d) for d in (D1, noon1, noon2)]
    runs += [KnownRun("marts", d) for d in (D1, D2, D3)]
    plan = plan_backfill(lineage(PIPELINE, runs=runs), Dates((), D1, D3), PlanOptions())
    units = by_id(plan)
    assert units["marts/build/" + D1].parents == ["ingest/load/" + D1]  # the same date
    assert units["marts/build/" + D2].parents == ["ingest/load/" + noon1]  # since D1, up to D2
    assert units["marts/build/" + D3].parents == ["ingest/load/" + noon2]
    # a sparser parent: its latest unit before the child's date
    runs = [KnownRun("ingest", D1)] + [KnownRun("marts", d) for d in (D1, D2, D3)]
    plan = plan_backfill(lineage(PIPELINE, runs=runs), Dates((), D1, D3), PlanOptions())
    assert by_id(plan)["marts/build/" + D3].parents == ["ingest/load/" + D1]


def test_run_roots_supply_dates_and_no_dates_at_all_is_an_error() -> None:
    plan = plan_backfill(lineage(PIPELINE, root_dates=[D2]), Dates(), PlanOptions())
    assert plan.dates == [D2]
    assert plan.date_source == "run roots"
    with pytest.raises(InvalidPlanRequest) as caught:
        plan_backfill(lineage(PIPELINE), Dates(), PlanOptions())
    assert caught.value.field == "dates"


def test_bad_dates_name_the_field() -> None:
    with pytest.raises(InvalidPlanRequest) as caught:
        logical_date("yesterday", "from")
    assert caught.value.field == "from"
    assert "yesterday" in str(caught.value)
    with pytest.raises(InvalidPlanRequest) as caught:
        plan_backfill(lineage(PIPELINE), Dates((), D3, D1), PlanOptions())
    assert caught.value.field == "to"
    assert logical_date("2026-03-01T02:00:00+02:00") == "2026-03-01T00:00:00+00:00"


def test_unmapped_jobs_are_reported_and_order_passes_through_them() -> None:
    edges = [*PIPELINE, ("wh", "spark_job", "lake"), ("lake", "marts.lake_report", "rpt2")]
    plan = plan_backfill(lineage(edges), Dates((D1,)), PlanOptions())
    assert plan.unmapped == [{"job": "spark_job", "reason": "not airflow"}]
    assert by_id(plan)["marts/lake_report/" + D1].parents == ["ingest/load/" + D1]


def test_include_and_exclude_options_report_what_they_left_out() -> None:
    plan = plan_backfill(lineage(PIPELINE), Dates((D1,)), PlanOptions(exclude_dags=("ingest",)))
    assert {u.dag_id for u in plan.units} == {"marts"}
    assert {e["task"] for e in plan.excluded} == {"ingest.extract", "ingest.load"}
    plan = plan_backfill(
        lineage(PIPELINE), Dates((D1,)), PlanOptions(include_tasks=("marts.b*", "extract"))
    )
    assert {u.task_id for u in plan.units} == {"build", "extract"}
    assert by_id(plan)["marts/build/" + D1].parents == ["ingest/extract/" + D1]  # through load
    plan = plan_backfill(lineage(PIPELINE), Dates((D1,)), PlanOptions(exclude_tasks=("report",)))
    assert "marts/report/" + D1 not in by_id(plan)


def test_max_tasks_refuses_or_truncates_visibly() -> None:
    with pytest.raises(PlanTooLarge) as caught:
        plan_backfill(lineage(PIPELINE), Dates((D1, D2)), PlanOptions(max_tasks=4))
    assert caught.value.field == "options.maxTasks"
    plan = plan_backfill(
        lineage(PIPELINE), Dates((D1, D2)), PlanOptions(max_tasks=4, truncate=True)
    )
    assert plan.truncated and plan.omitted == 6 and len(plan.units) == 4
    kept = {u.id for u in plan.units}
    assert all(p in kept for u in plan.units for p in u.parents)


def test_a_default_cap_applies_when_max_tasks_is_not_set() -> None:
    """A 1,000-day range once gave 100,000 units: without maxTasks the server's default caps it."""
    capped = PlanOptions(default_max_tasks=4)
    with pytest.raises(PlanTooLarge) as caught:
        plan_backfill(lineage(PIPELINE), Dates((D1, D2)), capped)
    assert caught.value.field == "options.maxTasks"
    message = str(caught.value)
    assert "10 task instances" in message and "4 allowed by default" in message
    assert "maxTasks" in message and "truncate" in message
    plan = plan_backfill(lineage(PIPELINE), Dates((D1, D2)), replace(capped, truncate=True))
    assert plan.truncated and plan.omitted == 6 and len(plan.units) == 4
    # maxTasks, when set, is the cap, above or below the default
    assert (
        len(plan_backfill(lineage(PIPELINE), Dates((D1, D2)), replace(capped, max_tasks=10)).units)
        == 10
    )
    with pytest.raises(PlanTooLarge) as caught:
        plan_backfill(
            lineage(PIPELINE), Dates((D1,)), PlanOptions(max_tasks=2, default_max_tasks=9)
        )
    assert "more than the 2 allowed —" in str(caught.value)


def test_cycles_are_reported_and_the_plan_stays_runnable() -> None:
    edges = [("a_out", "d.b", "b_out"), ("b_out", "d.a", "a_out"), ("b_out", "d.c", "c_out")]
    edges.append(("c_out", "d.c", "c_out"))  # a self-loop: reads what it writes
    plan = plan_backfill(lineage(edges), Dates((D1,)), PlanOptions())
    assert plan.cycles == [["d.a", "d.b"], ["d.c"]]
    units = by_id(plan)
    assert units["d/a/" + D1].parents == [] and units["d/b/" + D1].parents == []
    assert units["d/c/" + D1].parents == ["d/b/" + D1]
    assert plan.notes


def test_airflow_task_order_adds_parents_through_tasks_outside_the_plan() -> None:
    edges = [("raw", "dag.first", "x"), ("raw", "dag.last", "y")]
    precedes = {
        (TaskRef("dag", "first"), TaskRef("dag", "middle")),
        (TaskRef("dag", "middle"), TaskRef("dag", "last")),
    }
    plan = plan_backfill(lineage(edges, precedes=precedes), Dates((D1,)), PlanOptions())
    assert by_id(plan)["dag/last/" + D1].parents == ["dag/first/" + D1]
    assert "dag/middle/" + D1 not in by_id(plan)  # order only: not downstream, not redone


def test_quarantine_holds_readers_and_everything_downstream_with_reasons() -> None:
    plan = plan_backfill(lineage(PIPELINE), Dates((D1,)), PlanOptions(), quarantined={"wh"})
    held = {h["unit"]: h["reason"] for h in plan.held}
    assert set(held) == {f"marts/{t}/{D1}" for t in ("build", "export", "report")}
    assert held["marts/build/" + D1] == "reads quarantined dataset wh"
    assert held["marts/report/" + D1] == "downstream of held unit marts/build/" + D1
    assert by_id(plan)["ingest/load/" + D1].held is None


def test_renderings_name_every_unit() -> None:
    plan = plan_backfill(lineage(PIPELINE), Dates((D1,)), PlanOptions(), quarantined={"mart"})
    chart = plan_mermaid(plan.as_dict())
    assert chart.startswith("flowchart LR")
    assert chart.count("-->") == sum(len(u.parents) for u in plan.units)
    assert "class " in chart  # the held unit is styled
    assert plan_table(plan.as_dict()) is not None


@st.composite
def dags(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    n = draw(st.integers(2, 12))
    edges = []
    for i in range(n):
        reads = draw(st.sets(st.integers(0, n - 1), max_size=3))
        for r in reads or {-1}:
            edges.append((f"ds{r}" if r >= 0 else "raw", f"dag{i % 3}.t{i}", f"ds{i}"))
    return edges


@settings(max_examples=60, deadline=None)
@given(dags(), st.sets(st.sampled_from([D1, D2, D3]), min_size=1))
def test_every_parent_precedes_its_child_and_every_unit_appears_once(
    edges: list[tuple[str, str, str]], dates: set[str]
) -> None:
    plan = plan_backfill(lineage(edges), Dates(tuple(dates)), PlanOptions())
    position = {u.id: i for i, u in enumerate(plan.units)}
    assert len(position) == len(plan.units) == len({j for _, j, _ in edges}) * len(dates)
    for unit in plan.units:
        for parent in unit.parents:
            assert position[parent] < position[unit.id]
    assert sorted(uid for layer in plan.layers for uid in layer) == sorted(position)


@settings(max_examples=60, deadline=None)
@given(dags(), st.sets(st.sampled_from([D1, D2, D3]), min_size=1))
def test_layers_are_as_early_as_possible_and_sorted(
    edges: list[tuple[str, str, str]], dates: set[str]
) -> None:
    plan = plan_backfill(lineage(edges), Dates(tuple(dates)), PlanOptions())
    units = by_id(plan)
    for depth, wave in enumerate(plan.layers):
        assert wave == sorted(wave)
        for uid in wave:
            assert units[uid].layer == depth
            assert depth == 1 + max((units[p].layer for p in units[uid].parents), default=-1)


# --- mapping -------------------------------------------------------------------------------


def airflow_facet(dag: str, task: str, when: str = D1, run: str = "manual__1") -> dict[str, Any]:
    return {
        "airflow": {
            "dag": {"dag_id": dag},
            "task": {"task_id": task},
            "dagRun": {"dag_id": dag, "logical_date": when, "run_id": run},
        }
    }


def test_mapping_prefers_task_nodes_then_run_facets_then_dag_names() -> None:
    evidence = mapping.Evidence(
        jobs={
            "job:ns:a.b.c": {},
            "job:ns:x.y": {},
            "job:ns:grp.dag.task.sub": {},
            "job:ns:dagjob": {"facet.jobType": {"jobType": "DAG"}},
            "job:ns:lonely": {},
        },
        tasks={"job:ns:a.b.c": [{"dag_id": "a.b", "task_id": "c"}]},
        runs={"job:ns:x.y": [{"facet.airflow": airflow_facet("x", "y")["airflow"]}]},
        candidates={
            "job:ns:grp": {"facet.jobType": {"jobType": "DAG"}},
            "job:ns:grp.dag": {"facet.jobType": {"jobType": "DAG"}},
            "job:ns:grp.dag.task": {"facet.jobType": {"jobType": "TASK"}},
        },
    )
    mapped, unmapped = mapping.map_jobs(evidence)
    assert mapped == {
        "job:ns:a.b.c": TaskRef("a.b", "c"),
        "job:ns:x.y": TaskRef("x", "y"),
        "job:ns:grp.dag.task.sub": TaskRef("grp.dag", "task.sub"),  # task group: dotted task id
    }
    assert set(unmapped) == {"job:ns:dagjob", "job:ns:lonely"}
    assert "DAG-level" in unmapped["job:ns:dagjob"]


def test_a_dag_known_from_another_task_maps_its_siblings_by_name() -> None:
    evidence = mapping.Evidence(
        jobs={"job:ns:shop.a": {}, "job:ns:shop.b": {}},
        runs={"job:ns:shop.a": [{"facet.airflow": airflow_facet("shop", "a")["airflow"]}]},
    )
    mapped, unmapped = mapping.map_jobs(evidence)
    assert mapped["job:ns:shop.b"] == TaskRef("shop", "b")
    assert unmapped == {}


def test_known_runs_come_from_airflow_facets_or_nominal_time() -> None:
    props = {"facet.airflow": airflow_facet("d", "t", "2026-03-01T00:00:00+00:00", "r1")["airflow"]}
    assert mapping.known_run(props, "d") == KnownRun("d", D1, "r1")
    assert mapping.known_run(props, "other") is None
    assert mapping.known_run({"nominal_start": "2026-03-02T00:00:00Z"}, "d") == KnownRun("d", D2)
    assert mapping.known_run({}, "d") is None


# --- over a graph --------------------------------------------------------------------------


async def store_of(*docs: dict[str, Any], deltas: list[GraphDelta] | None = None) -> EmbeddedStore:
    store = EmbeddedStore()
    await store.apply([project(parse_event(doc)) for doc in docs] + (deltas or []), len(docs))
    return store


def airflow_sync(dag: str, tasks: list[str], order: list[tuple[str, str]]) -> GraphDelta:
    """What the Airflow sync asserts for one DAG (nodes, CONTAINS, IMPLEMENTS, PRECEDES)."""
    delta = GraphDelta("2026-03-01T00:00:00+00:00|0", None)
    dag_node = f"dag:jobs:{dag}"
    delta.nodes.append(
        NodeUpsert(
            dag_node,
            NodeKind.DAG,
            {"dag_id": dag, "recent_runs": [{"run_id": "sched_d2", "logical_date": D2}]},
        )
    )
    for task in tasks:
        node = f"task:jobs:{dag}.{task}"
        delta.nodes.append(NodeUpsert(node, NodeKind.TASK, {"dag_id": dag, "task_id": task}))
        delta.nodes.append(
            NodeUpsert(job(f"{dag}.{task}"), NodeKind.JOB, {"name": f"{dag}.{task}"})
        )
        delta.edges.append(EdgeUpsert(dag_node, EdgeKind.CONTAINS, node))
        delta.edges.append(EdgeUpsert(node, EdgeKind.IMPLEMENTS, job(f"{dag}.{task}")))
    for a, b in order:
        delta.edges.append(
            EdgeUpsert(f"task:jobs:{dag}.{a}", EdgeKind.PRECEDES, f"task:jobs:{dag}.{b}")
        )
    return delta


SHOP = [
    run_event(
        "shop_raw.load",
        ["src.orders"],
        ["raw.orders"],
        run_facets=airflow_facet("shop_raw", "load"),
    ),
    run_event(
        "shop_stg.clean",
        ["raw.orders"],
        ["stg.orders"],
        run_facets=airflow_facet("shop_stg", "clean", run="scheduled__d1"),
    ),
    run_event("shop_stg.publish", ["stg.orders"], ["mart.orders"]),
    run_event("other.unrelated", ["src.customers"], ["raw.customers"]),
]


async def test_planning_over_a_graph_orders_dags_by_lineage() -> None:
    store = await store_of(*SHOP)
    request = service.PlanRequest((ds("raw.orders"),), service.parse_dates(["2026-03-01"]))
    timings = service.Timings()
    plan = await service.plan(store, request, timings=timings)
    assert [u.id for u in plan.units] == [
        "shop_stg/clean/" + D1,
        "shop_stg/publish/" + D1,  # mapped by name: shop_stg is a DAG known from `clean`
    ]
    assert plan.units[0].action == "clear" and plan.units[0].run_id == "scheduled__d1"
    assert timings.total > 0
    # The loader of the bad table is not downstream of it; a job root is part of its own plan.
    request = service.PlanRequest((job("shop_raw.load"),), service.parse_dates(["2026-03-01"]))
    plan = await service.plan(store, request)
    assert [u.task_id for u in plan.units] == ["load", "clean", "publish"]


async def test_a_failed_run_root_plans_its_task_and_downstream_at_its_date() -> None:
    failed = run_event(
        "shop_stg.clean",
        ["raw.orders"],
        ["stg.orders"],
        run="0190a000-0000-7000-8000-000000000001",
        event_type="FAIL",
        time="2026-03-02T01:00:00Z",
        run_facets=airflow_facet("shop_stg", "clean", D2, "scheduled__d2"),
    )
    store = await store_of(*SHOP, failed)
    request = service.PlanRequest(("run:0190a000-0000-7000-8000-000000000001",))
    plan = await service.plan(store, request)
    assert {u.id for u in plan.units} == {"shop_stg/clean/" + D2, "shop_stg/publish/" + D2}
    assert plan.date_source == "run roots"


async def test_a_failed_dag_run_root_stands_for_its_failed_task_runs() -> None:
    dag_run = "0190a000-0000-7000-8000-0000000000d0"
    dag_type = {"jobType": {"jobType": "DAG", "integration": "AIRFLOW", "processingType": "BATCH"}}
    docs = [
        *SHOP,
        run_event("shop_stg", run=dag_run, event_type="FAIL", job_facets=dag_type),
        run_event(
            "shop_stg.clean",
            ["raw.orders"],
            ["stg.orders"],
            run="0190a000-0000-7000-8000-0000000000d1",
            event_type="FAIL",
            run_facets={
                **airflow_facet("shop_stg", "clean", D2, "scheduled__d2"),
                "parent": {
                    "run": {"runId": dag_run},
                    "job": {"namespace": "jobs", "name": "shop_stg"},
                },
            },
        ),
    ]
    store = await store_of(*docs)
    plan = await service.plan(store, service.PlanRequest((f"run:{dag_run}",)))
    assert [u.id for u in plan.units] == ["shop_stg/clean/" + D2, "shop_stg/publish/" + D2]
    assert plan.unmapped == []


async def test_a_column_root_plans_only_the_jobs_that_carry_the_column() -> None:
    from tests.unit.builders import column_lineage, dataset, field_ref

    docs = [
        run_event(
            "d.stage",
            [dataset("raw", ["a", "b"])],
            [
                dataset(
                    "stg",
                    ["a2", "b2"],
                    lineage=column_lineage(
                        {"a2": [field_ref("raw", "a")], "b2": [field_ref("raw", "b")]}
                    ),
                )
            ],
            run_facets=airflow_facet("d", "stage"),
        ),
        run_event(
            "d.only_b",
            [dataset("stg", ["a2", "b2"])],
            [dataset("mart_b", ["b3"], lineage=column_lineage({"b3": [field_ref("stg", "b2")]}))],
        ),
        run_event(
            "d.only_a",
            [dataset("stg", ["a2", "b2"])],
            [dataset("mart_a", ["a3"], lineage=column_lineage({"a3": [field_ref("stg", "a2")]}))],
        ),
    ]
    store = await store_of(*docs)
    request = service.PlanRequest(("datasetField:db:raw:a",), service.parse_dates(["2026-03-01"]))
    plan = await service.plan(store, request)
    assert [u.task_id for u in plan.units] == ["stage", "only_a"]
    assert plan.units[1].parents == ["d/stage/" + D1]


async def test_airflow_sync_nodes_map_tasks_order_them_and_name_runs() -> None:
    docs = [
        run_event("etl.extract", ["src"], ["a"]),
        run_event("etl.transform", ["a"], ["b"]),
        run_event("etl.load", ["src"], ["c"]),  # no data from transform: ordered by PRECEDES only
    ]
    sync = airflow_sync(
        "etl",
        ["extract", "transform", "check", "load"],
        [("extract", "transform"), ("transform", "check"), ("check", "load")],
    )
    store = await store_of(*docs, deltas=[sync])
    request = service.PlanRequest((ds("src"),), service.parse_dates(["2026-03-02"]))
    plan = await service.plan(store, request)
    units = by_id(plan)
    assert units["etl/load/" + D2].parents == ["etl/check/" + D2]  # the sync's order, downstream
    assert units["etl/check/" + D2].parents == ["etl/transform/" + D2]
    assert units["etl/extract/" + D2].run_id == "sched_d2"  # from the DAG node's recent runs
    assert plan.unmapped == []


async def test_unknown_and_unsupported_roots_are_refused_by_name() -> None:
    store = await store_of(*SHOP)
    dates = service.parse_dates(["2026-03-01"])
    with pytest.raises(NotFound, match="nope"):
        await service.plan(store, service.PlanRequest((ds("nope"),), dates))
    with pytest.raises(InvalidNodeId):
        await service.plan(store, service.PlanRequest(("bogus",), dates))
    with pytest.raises(InvalidPlanRequest, match="roots"):
        await service.plan(store, service.PlanRequest((), dates))


def test_executor_helpers_find_ready_units_and_what_a_failure_blocks() -> None:
    from ripple.remediation.state import UnitState, downstream, ready

    plan = plan_backfill(lineage(PIPELINE), Dates((D1,)), PlanOptions())
    states = {u.id: "pending" for u in plan.units}

    def rows() -> list[UnitState]:
        return [
            UnitState(
                "bf-1",
                u.id,
                i,
                u.dag_id,
                u.task_id,
                u.logical_date,
                u.action,
                None,
                states[u.id],
                0,
                None,
                None,
                None,
                None,
                "now",
                u.layer,
                u.parents,
            )
            for i, u in enumerate(plan.units)
        ]

    assert [u.task_id for u in ready(rows())] == ["extract"]
    states["ingest/extract/" + D1] = "succeeded"
    states["ingest/load/" + D1] = "succeeded"
    assert {u.task_id for u in ready(rows())} == {"build", "export"}
    assert downstream(rows(), "ingest/load/" + D1) == [
        "marts/build/" + D1,
        "marts/export/" + D1,
        "marts/report/" + D1,
    ]
