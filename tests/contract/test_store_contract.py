"""The GraphStore contract: one suite, every store (see conftest.STORES)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ripple.errors import NotFound
from ripple.graph.budget import Budget
from ripple.graph.delta import GraphDelta
from ripple.graph.order import backfill_order
from ripple.graph.store import GraphStore, WalkOptions
from ripple.ingest import airflow_records, pipeline, records
from ripple.ingest.event import parse_event
from ripple.ingest.projection import project
from ripple.model import DatasetKey, FieldKey


def run_event(
    job: str,
    inputs: list[str],
    outputs: list[str],
    *,
    state: str = "COMPLETE",
    time: str = "2024-01-01T00:00:00Z",
    lineage: dict[str, list[tuple[str, str, str]]] | None = None,
) -> dict[str, Any]:
    """A RunEvent in namespace `ns`; lineage maps 'out_ds.col' to [(in_ds, col, type)]."""
    outs = []
    for name in outputs:
        facets: dict[str, Any] = {}
        fields = {
            key.split(".", 1)[1]: sources
            for key, sources in (lineage or {}).items()
            if key.split(".", 1)[0] == name
        }
        if fields:
            facets["columnLineage"] = {
                "fields": {
                    col: {
                        "inputFields": [
                            {
                                "namespace": "ns",
                                "name": ds,
                                "field": f,
                                "transformations": [{"type": t}],
                            }
                            for ds, f, t in sources
                        ]
                    }
                    for col, sources in fields.items()
                }
            }
        outs.append({"namespace": "ns", "name": name, "facets": facets})
    return {
        "eventType": state,
        "eventTime": time,
        "run": {"runId": str(uuid.uuid5(uuid.NAMESPACE_DNS, job + time))},
        "job": {"namespace": "ns", "name": job},
        "inputs": [{"namespace": "ns", "name": name} for name in inputs],
        "outputs": outs,
    }


def deltas(*events: dict[str, Any]) -> list[GraphDelta]:
    return [project(parse_event(e)) for e in events]


# a -> j1 -> b -> j2 -> d ;  a -> j3 -> c -> j2 (a diamond into j2)
DIAMOND = [
    run_event("j1", ["a"], ["b"], lineage={"b.x": [("a", "x", "DIRECT")]}),
    run_event("j3", ["a"], ["c"], lineage={"c.y": [("a", "x", "INDIRECT")]}),
    run_event(
        "j2", ["b", "c"], ["d"], lineage={"d.z": [("b", "x", "DIRECT"), ("c", "y", "DIRECT")]}
    ),
]


async def load(store: GraphStore, events: list[dict[str, Any]]) -> None:
    await store.apply(deltas(*events), through=len(events))


async def test_apply_records_log_position(store: GraphStore) -> None:
    assert await store.projected_through() == 0
    await load(store, DIAMOND)
    assert await store.projected_through() == 3


async def test_counts(store: GraphStore) -> None:
    await load(store, DIAMOND)
    counts = await store.counts()
    assert counts["dataset"] == 4
    assert counts["job"] == 3
    assert counts["run"] == 3
    assert counts["READ_BY"] == 4
    assert counts["WRITES"] == 3


async def test_downstream_distances_and_paths(store: GraphStore) -> None:
    await load(store, DIAMOND)
    closure = await store.walk("dataset:ns:a", "downstream", WalkOptions(columns=False))
    got = {n.id: (n.distance, n.path) for n in closure.nodes}
    assert got["dataset:ns:d"][0] == 4
    assert got["dataset:ns:d"][1][0] == "dataset:ns:a"
    assert got["job:ns:j2"][0] == 3
    assert set(got) == {f"job:ns:{j}" for j in ("j1", "j2", "j3")} | {
        f"dataset:ns:{d}" for d in "bcd"
    }
    assert closure.truncated is False


async def test_a_spent_time_budget_answers_partial(store: GraphStore) -> None:
    """Issue 19: a query past its budget answers what it has, flagged partial, on every store."""
    fan = [run_event(f"j{i}", ["raw"], [f"out{i}"]) for i in range(600)]
    await load(store, fan)
    whole = await store.walk("dataset:ns:raw", "downstream", WalkOptions(columns=False))
    assert not whole.partial and len(whole.nodes) == 1200
    spent = Budget(seconds=0.5, deadline=0.0, clock=lambda: 1.0)
    cut = await store.walk("dataset:ns:raw", "downstream", WalkOptions(columns=False, budget=spent))
    assert cut.partial and cut.partial_reason is not None
    assert "0.5 s" in cut.partial_reason
    assert len(cut.nodes) < len(whole.nodes)


async def test_depth_bound(store: GraphStore) -> None:
    await load(store, DIAMOND)
    closure = await store.walk("dataset:ns:a", "downstream", WalkOptions(depth=2, columns=False))
    assert {n.id for n in closure.nodes} == {
        "job:ns:j1",
        "job:ns:j3",
        "dataset:ns:b",
        "dataset:ns:c",
    }
    assert closure.truncated is False


async def test_limit_truncates(store: GraphStore) -> None:
    await load(store, DIAMOND)
    closure = await store.walk("dataset:ns:a", "downstream", WalkOptions(limit=2, columns=False))
    assert closure.truncated is True
    assert len(closure.nodes) == 2


async def test_column_walk_and_dependence(store: GraphStore) -> None:
    await load(store, DIAMOND)
    closure = await store.walk("datasetField:ns:a:x", "downstream", WalkOptions())
    dep = {n.id: (n.distance, n.dependence) for n in closure.nodes}
    assert dep["datasetField:ns:b:x"] == (1, "DIRECT")
    assert dep["datasetField:ns:c:y"] == (1, "INDIRECT")
    assert dep["datasetField:ns:d:z"] == (2, "DIRECT")
    assert dep["dataset:ns:d"] == (3, "DIRECT")  # one HAS_COLUMN hop beyond d.z
    assert "dataset:ns:a" not in dep


async def test_upstream_with_states(store: GraphStore) -> None:
    events = [
        *DIAMOND,
        run_event("j2", ["b", "c"], ["d"], state="FAIL", time="2024-01-02T00:00:00Z"),
    ]
    await load(store, events)
    closure = await store.walk("dataset:ns:d", "upstream", WalkOptions(columns=False))
    states = {n.id: n.state for n in closure.nodes}
    assert states["job:ns:j2"] == "FAIL"
    assert states["job:ns:j1"] == "COMPLETE"
    assert "dataset:ns:a" in states


async def test_order_from_closure(store: GraphStore) -> None:
    await load(store, DIAMOND)
    closure = await store.walk("dataset:ns:a", "downstream", WalkOptions(columns=False))
    order = backfill_order(closure)
    assert order.layers == [["job:ns:j1", "job:ns:j3"], ["job:ns:j2"]]
    assert order.cycles == []


async def test_cycle_is_reported(store: GraphStore) -> None:
    await load(store, [run_event("p", ["x"], ["y"]), run_event("q", ["y"], ["x"])])
    order = backfill_order(await store.walk("dataset:ns:x", "downstream", WalkOptions()))
    assert order.cycles == [["job:ns:p", "job:ns:q"]]
    assert sorted(j for layer in order.layers for j in layer) == ["job:ns:p", "job:ns:q"]


async def test_unknown_root(store: GraphStore) -> None:
    with pytest.raises(NotFound):
        await store.walk("dataset:ns:nope", "downstream", WalkOptions())


async def test_jobs_of_runs(store: GraphStore) -> None:
    """The job each known run is bound to, in one lookup; unknown runs are left out."""
    await load(store, DIAMOND)
    runs = {f"run:{e['run']['runId']}": f"job:ns:{e['job']['name']}" for e in DIAMOND}
    unknown = f"run:{uuid.uuid4()}"
    assert await store.jobs_of([*runs, unknown]) == runs
    assert await store.jobs_of([]) == {}
    await store.clear()
    assert await store.jobs_of(list(runs)) == {}


async def test_idempotent_and_order_insensitive(store: GraphStore) -> None:
    await load(store, DIAMOND)
    once = await store.dump()
    await store.apply(list(reversed(deltas(*DIAMOND))), through=3)
    assert await store.dump() == once


async def test_clear(store: GraphStore) -> None:
    await load(store, DIAMOND)
    await store.clear()
    assert (await store.counts())["dataset"] == 0
    assert await store.projected_through() == 0


async def test_nodes_and_neighbourhood(store: GraphStore) -> None:
    await load(store, DIAMOND)
    records = await store.nodes(["dataset:ns:b", "dataset:ns:missing"])
    assert set(records) == {"dataset:ns:b"}
    assert records["dataset:ns:b"].props["name"] == "b"
    assert records["dataset:ns:b"].first_seen is not None
    edges = await store.neighbourhood(["dataset:ns:b"])
    assert {(e.src, e.kind, e.dst) for e in edges} >= {
        ("job:ns:j1", "WRITES", "dataset:ns:b"),
        ("dataset:ns:b", "READ_BY", "job:ns:j2"),
    }


def airflow_dag(
    dag_id: str,
    tasks: dict[str, list[str]],
    *,
    asset_upstream: list[tuple[str, str]] = (),  # type: ignore[assignment]
    runs: list[dict[str, Any]] | None = None,
) -> GraphDelta:
    """The delta of one Airflow DAG record (tasks map each task id to its downstream ids)."""
    body = records.encode(
        airflow_records.KIND,
        {
            "time": "2024-01-02T00:00:00+00:00",
            "namespace": "ns",
            "dag": {"dag_id": dag_id, "schedule": "@daily", "owners": ["data"], "tags": ["t"]},
            "tasks": [{"task_id": t, "downstream": down} for t, down in tasks.items()],
            "asset_upstream": [{"dag_id": d, "task_id": t} for d, t in asset_upstream],
            "runs": runs or [],
        },
    )
    return pipeline.project_record(body)


# etl: extract (a -> b) >> transform (b -> c) >> notify (no datasets);
# report, scheduled on the asset etl.transform updates: build (c -> r) >> email (no datasets)
AIRFLOW_EVENTS = [
    run_event("etl.extract", ["a"], ["b"]),
    run_event("etl.transform", ["b"], ["c"]),
    run_event("report.build", ["c"], ["r"]),
]


async def load_airflow(store: GraphStore) -> None:
    dags = [
        airflow_dag("etl", {"extract": ["transform"], "transform": ["notify"], "notify": []}),
        airflow_dag(
            "report", {"build": ["email"], "email": []}, asset_upstream=[("etl", "transform")]
        ),
    ]
    await store.apply([*deltas(*AIRFLOW_EVENTS), *dags], through=5)


async def test_airflow_dags_and_tasks_are_nodes_linked_to_their_jobs(store: GraphStore) -> None:
    await load_airflow(store)
    counts = await store.counts()
    assert counts["dag"] == 2
    assert counts["task"] == 5
    assert counts["CONTAINS"] == 5
    assert counts["IMPLEMENTS"] == 5
    assert counts["PRECEDES"] == 4  # 3 within DAGs, 1 through the asset
    records_ = await store.nodes(["dag:ns:etl", "task:ns:etl.notify", "job:ns:etl.notify"])
    assert records_["dag:ns:etl"].props["schedule"] == "@daily"
    assert records_["task:ns:etl.notify"].props["task_id"] == "notify"
    assert "job:ns:etl.notify" in records_  # a task without datasets still has its job


async def test_blast_radius_follows_airflow_task_dependencies(store: GraphStore) -> None:
    await load_airflow(store)
    closure = await store.walk("dataset:ns:a", "downstream", WalkOptions(columns=False))
    found = {n.id: n.distance for n in closure.nodes}
    # a -> extract job -> its task -> transform task -> notify task -> notify job
    assert found["task:ns:etl.notify"] == 4
    assert found["job:ns:etl.notify"] == 5
    assert "task:ns:report.email" in found  # across DAGs through the asset
    assert "job:ns:report.email" in found
    assert "dataset:ns:r" in found
    order = backfill_order(closure)
    assert order.layers == [
        ["job:ns:etl.extract"],
        ["job:ns:etl.transform"],
        ["job:ns:etl.notify", "job:ns:report.build"],
        ["job:ns:report.email"],
    ]


async def test_root_cause_follows_airflow_task_dependencies(store: GraphStore) -> None:
    await load_airflow(store)
    closure = await store.walk("job:ns:report.email", "upstream", WalkOptions(columns=False))
    found = {n.id for n in closure.nodes}
    assert {"task:ns:report.build", "task:ns:etl.transform", "dataset:ns:b"} <= found
    assert "dataset:ns:a" in found
    assert "job:ns:etl.notify" not in found  # a sibling, not a cause


def _colon_event(
    job: str, inputs: list[tuple[str, str]], output: tuple[str, str]
) -> dict[str, Any]:
    """A run reading `inputs` and writing `output`, each (namespace, name), with column x."""
    sources = [{"namespace": ns, "name": name, "field": "x"} for ns, name in inputs]
    return {
        "eventType": "COMPLETE",
        "eventTime": "2024-01-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid5(uuid.NAMESPACE_DNS, job))},
        "job": {"namespace": "ns", "name": job},
        "inputs": [{"namespace": ns, "name": name} for ns, name in inputs],
        "outputs": [
            {
                "namespace": output[0],
                "name": output[1],
                "facets": {
                    "schema": {"fields": [{"name": "x"}]},
                    "columnLineage": {"fields": {"x": {"inputFields": sources}}},
                },
            }
        ],
    }


async def test_two_pairs_with_one_marquez_id_are_two_nodes(store: GraphStore) -> None:
    # ("team:b", "c") and ("team", "b:c") are both "dataset:team:b:c" as Marquez writes them
    one, two = DatasetKey("team:b", "c"), DatasetKey("team", "b:c")
    await load(
        store,
        [
            _colon_event("j1", [("src", "s")], ("team:b", "c")),
            _colon_event("j2", [("team", "b:c")], ("out", "o")),
        ],
    )
    found = await store.nodes([one.node_id, two.node_id])
    assert set(found) == {one.node_id, two.node_id}
    assert (found[one.node_id].props["namespace"], found[one.node_id].props["name"]) == (
        "team:b",
        "c",
    )
    assert (await store.counts())["dataset"] == 4
    down = {n.id for n in (await store.walk(one.node_id, "downstream", WalkOptions())).nodes}
    assert "dataset:out:o" not in down  # only ("team", "b:c") feeds j2
    column = FieldKey(one, "x").node_id
    assert column in {
        n.id for n in (await store.walk("dataset:src:s", "downstream", WalkOptions())).nodes
    }
    up = await store.walk("datasetField:out:o:x", "upstream", WalkOptions())
    assert FieldKey(two, "x").node_id in {n.id for n in up.nodes}
    assert column not in {n.id for n in up.nodes}
