import json
from dataclasses import replace
from typing import Any

import networkx as nx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ripple.errors import NotFound
from ripple.graph.budget import Budget
from ripple.graph.memory import MemoryGraph
from ripple.graph.store import Closure, Direction, WalkOptions
from tests.unit.builders import (
    col,
    column_lineage,
    dataset,
    ds,
    field_ref,
    graph_of,
    job,
    run_event,
    run_id,
)

DATASETS_ONLY = WalkOptions(columns=False)


def distances(closure: Closure) -> dict[str, int]:
    return {n.id: n.distance for n in closure.nodes}


def assert_paths_are_shortest_and_joined(closure: Closure) -> None:
    joined = {frozenset((e.src, e.dst)) for e in closure.edges}
    assert len({n.id for n in closure.nodes}) == len(closure.nodes), "a node is listed twice"
    for node in closure.nodes:
        assert node.path[0] == closure.root
        assert node.path[-1] == node.id
        assert len(node.path) == node.distance + 1, node
        for a, b in zip(node.path, node.path[1:], strict=False):
            assert frozenset((a, b)) in joined, f"{a} and {b} are not joined in {node}"


def pipeline() -> MemoryGraph:
    """raw -> j_clean -> clean -> j_agg -> agg -> j_report -> report; raw -> j_fast -> report."""
    return graph_of(
        run_event("j_clean", ["raw"], ["clean"]),
        run_event("j_agg", ["clean"], ["agg"]),
        run_event("j_report", ["agg"], ["report"]),
        run_event("j_fast", ["raw"], ["report"]),
    )


PIPELINE_DOWNSTREAM_OF_RAW = {
    job("j_clean"): 1,
    job("j_fast"): 1,
    ds("clean"): 2,
    ds("report"): 2,
    job("j_agg"): 3,
    ds("agg"): 4,
    job("j_report"): 5,
}


# -- downstream from a dataset --------------------------------------------------------------------


def test_downstream_from_a_dataset_has_minimal_distances() -> None:
    closure = pipeline().walk(ds("raw"), "downstream", DATASETS_ONLY)
    assert distances(closure) == PIPELINE_DOWNSTREAM_OF_RAW
    assert closure.truncated is False
    assert closure.root == ds("raw")
    assert closure.root_kind == "dataset"
    kinds = {n.id: n.kind for n in closure.nodes}
    assert kinds[job("j_agg")] == "job"
    assert kinds[ds("agg")] == "dataset"


def test_downstream_paths_are_shortest_and_joined_by_edges() -> None:
    closure = pipeline().walk(ds("raw"), "downstream", DATASETS_ONLY)
    assert_paths_are_shortest_and_joined(closure)
    report = next(n for n in closure.nodes if n.id == ds("report"))
    assert report.path == [ds("raw"), job("j_fast"), ds("report")]


def test_downstream_edges_point_in_data_flow_direction() -> None:
    closure = pipeline().walk(ds("raw"), "downstream", DATASETS_ONLY)
    found = {(e.src, e.kind, e.dst) for e in closure.edges}
    assert (ds("raw"), "READ_BY", job("j_clean")) in found
    assert (job("j_clean"), "WRITES", ds("clean")) in found
    assert (job("j_report"), "WRITES", ds("report")) in found


def test_downstream_of_a_dataset_includes_columns_when_asked() -> None:
    lineage = column_lineage({"total": [field_ref("orders", "amount")]})
    graph = graph_of(
        run_event(
            "build",
            [dataset("orders", ["amount"])],
            [dataset("revenue", ["total"], lineage=lineage)],
        )
    )
    closure = graph.walk(ds("orders"), "downstream", WalkOptions())
    assert distances(closure) == {
        col("orders", "amount"): 1,
        job("build"): 1,
        col("revenue", "total"): 2,
        ds("revenue"): 2,
    }
    assert_paths_are_shortest_and_joined(closure)
    without = graph.walk(ds("orders"), "downstream", DATASETS_ONLY)
    assert distances(without) == {job("build"): 1, ds("revenue"): 2}


def test_diamond_distance_is_the_minimum() -> None:
    graph = graph_of(
        run_event("left", ["src"], ["a"]),
        run_event("right", ["src"], ["b"]),
        run_event("join", ["a", "b"], ["sink"]),
        run_event("after", ["sink"], ["final"]),
        run_event("hop1", ["src"], ["m1"]),
        run_event("hop2", ["m1"], ["m2"]),
        run_event("hop3", ["m2"], ["sink"]),
    )
    closure = graph.walk(ds("src"), "downstream", DATASETS_ONLY)
    found = distances(closure)
    assert found[job("join")] == 3
    assert found[ds("sink")] == 4
    assert found[ds("final")] == 6
    assert_paths_are_shortest_and_joined(closure)


def test_depth_limit_excludes_deeper_nodes_and_is_not_truncation() -> None:
    closure = pipeline().walk(ds("raw"), "downstream", WalkOptions(depth=2, columns=False))
    assert distances(closure) == {k: v for k, v in PIPELINE_DOWNSTREAM_OF_RAW.items() if v <= 2}
    assert closure.truncated is False


def test_limit_cap_truncates_to_exactly_limit_nodes() -> None:
    closure = pipeline().walk(ds("raw"), "downstream", WalkOptions(limit=3, columns=False))
    assert closure.truncated is True
    assert len(closure.nodes) == 3
    # The nodes kept are the nearest ones, with true distances.
    for node in closure.nodes:
        assert node.distance == PIPELINE_DOWNSTREAM_OF_RAW[node.id]
    assert_paths_are_shortest_and_joined(closure)


def test_a_limit_that_fits_the_whole_closure_is_not_truncation() -> None:
    whole = len(PIPELINE_DOWNSTREAM_OF_RAW)
    closure = pipeline().walk(ds("raw"), "downstream", WalkOptions(limit=whole, columns=False))
    assert closure.truncated is False
    assert distances(closure) == PIPELINE_DOWNSTREAM_OF_RAW
    smaller = pipeline().walk(ds("raw"), "downstream", WalkOptions(limit=whole - 1, columns=False))
    assert smaller.truncated is True
    assert len(smaller.nodes) == whole - 1


def test_a_cycle_does_not_loop_the_walk() -> None:
    graph = graph_of(run_event("a", ["x"], ["y"]), run_event("b", ["y"], ["x"]))
    closure = graph.walk(ds("x"), "downstream", DATASETS_ONLY)
    assert distances(closure) == {job("a"): 1, ds("y"): 2, job("b"): 3}
    assert closure.truncated is False


@pytest.mark.parametrize("direction", ["downstream", "upstream"])
def test_the_direction_is_an_enum_that_reads_as_the_same_json_string(direction: str) -> None:
    by_string = pipeline().walk(ds("clean"), direction, DATASETS_ONLY)
    by_enum = pipeline().walk(ds("clean"), Direction(direction), DATASETS_ONLY)
    assert by_string.direction is by_enum.direction is Direction(direction)
    assert by_string.as_dict() == by_enum.as_dict()
    for encoded in (orjson.dumps(by_enum.as_dict()), json.dumps(by_enum.as_dict()).encode()):
        assert json.loads(encoded)["direction"] == direction
        assert f'"direction":"{direction}"' in encoded.decode().replace(" ", "")


def test_unknown_node_is_not_found() -> None:
    graph = pipeline()
    with pytest.raises(NotFound, match="dataset:db:nope"):
        graph.walk(ds("nope"), "downstream", WalkOptions())
    with pytest.raises(NotFound):
        graph.walk(ds("nope"), "upstream", WalkOptions())


def test_a_leaf_dataset_has_an_empty_closure() -> None:
    closure = pipeline().walk(ds("report"), "downstream", WalkOptions())
    assert closure.nodes == []
    assert closure.edges == []
    assert closure.truncated is False


# -- column roots ---------------------------------------------------------------------------------


def column_graph() -> MemoryGraph:
    """orders.amount -DIRECT-> revenue.total -DIRECT-> ranking.score
    orders.status -INDIRECT-> revenue.total, revenue.day (dataset-level filter)
    orders.amount -INDIRECT-> revenue.flag"""
    build = column_lineage(
        {
            "total": [field_ref("orders", "amount", "DIRECT", "AGGREGATION")],
            "flag": [field_ref("orders", "amount", "INDIRECT", "CONDITIONAL")],
        },
        dataset=[field_ref("orders", "status", "INDIRECT", "FILTER")],
    )
    rank = column_lineage({"score": [field_ref("revenue", "total")]})
    return graph_of(
        run_event(
            "build",
            [dataset("orders", ["amount", "status", "id"])],
            [dataset("revenue", ["total", "day", "flag"], lineage=build)],
        ),
        run_event("rank", [dataset("revenue")], [dataset("ranking", ["score"], lineage=rank)]),
    )


def test_column_root_follows_only_derives() -> None:
    closure = column_graph().walk(col("orders", "amount"), "downstream", WalkOptions())
    assert {e.kind for e in closure.edges} <= {"DERIVES", "HAS_COLUMN"}
    kinds = {n.kind for n in closure.nodes}
    assert "job" not in kinds
    columns = {n.id: n.distance for n in closure.nodes if n.kind == "datasetField"}
    assert columns == {
        col("revenue", "total"): 1,
        col("revenue", "flag"): 1,
        col("ranking", "score"): 2,
    }
    # Columns of an impacted dataset that the root does not derive are not impacted.
    assert col("revenue", "day") not in columns


def test_column_root_includes_datasets_of_impacted_columns_but_not_its_own() -> None:
    closure = column_graph().walk(col("orders", "amount"), "downstream", WalkOptions())
    datasets = {n.id for n in closure.nodes if n.kind == "dataset"}
    assert datasets == {ds("revenue"), ds("ranking")}


def test_column_root_answer_has_consistent_paths_and_distances() -> None:
    closure = column_graph().walk(col("orders", "amount"), "downstream", WalkOptions())
    assert_paths_are_shortest_and_joined(closure)


def test_column_root_respects_the_limit_cap() -> None:
    closure = column_graph().walk(col("orders", "amount"), "downstream", WalkOptions(limit=1))
    assert closure.truncated is True
    assert len(closure.nodes) == 1


def test_direct_and_indirect_dependence_labels() -> None:
    closure = column_graph().walk(col("orders", "amount"), "downstream", WalkOptions())
    labels = {n.id: n.dependence for n in closure.nodes if n.kind == "datasetField"}
    assert labels == {
        col("revenue", "total"): "DIRECT",
        col("revenue", "flag"): "INDIRECT",
        col("ranking", "score"): "DIRECT",
    }


def test_a_column_reached_only_through_indirect_edges_is_indirect_all_the_way() -> None:
    closure = column_graph().walk(col("orders", "status"), "downstream", WalkOptions())
    columns = {n.id: n.dependence for n in closure.nodes if n.kind == "datasetField"}
    assert columns == {
        col("revenue", "total"): "INDIRECT",
        col("revenue", "day"): "INDIRECT",
        col("revenue", "flag"): "INDIRECT",
        col("ranking", "score"): "INDIRECT",
    }
    variants = {e.variant for e in closure.edges if e.kind == "DERIVES"}
    assert variants == {"DIRECT", "INDIRECT"}


def test_direct_only_drops_what_only_indirect_lineage_reaches() -> None:
    graph = column_graph()
    direct = graph.walk(col("orders", "amount"), "downstream", WalkOptions(direct_only=True))
    columns = {n.id for n in direct.nodes if n.kind == "datasetField"}
    assert columns == {col("revenue", "total"), col("ranking", "score")}
    assert all(n.dependence == "DIRECT" for n in direct.nodes)
    assert all(e.variant != "INDIRECT" for e in direct.edges)
    only_indirect = graph.walk(col("orders", "status"), "downstream", WalkOptions(direct_only=True))
    assert only_indirect.nodes == []


def test_column_root_upstream_finds_sources() -> None:
    closure = column_graph().walk(col("ranking", "score"), "upstream", WalkOptions())
    columns = {n.id: n.distance for n in closure.nodes if n.kind == "datasetField"}
    assert columns == {
        col("revenue", "total"): 1,
        col("orders", "amount"): 2,
        col("orders", "status"): 2,
    }
    datasets = {n.id for n in closure.nodes if n.kind == "dataset"}
    assert datasets == {ds("revenue"), ds("orders")}


# -- upstream (root cause) ------------------------------------------------------------------------


def failing_pipeline() -> MemoryGraph:
    return graph_of(
        run_event("j_clean", ["raw"], ["clean"], run=run_id("c1"), event_type="COMPLETE"),
        run_event(
            "j_agg",
            ["clean"],
            ["agg"],
            run=run_id("a1"),
            event_type="START",
            time="2026-03-01T11:00:00Z",
        ),
        # The FAIL event names no outputs: the dataset's state comes from its last run.
        run_event(
            "j_agg",
            ["clean"],
            [],
            run=run_id("a1"),
            event_type="FAIL",
            time="2026-03-01T11:05:00Z",
            run_facets={"errorMessage": {"message": "oom"}},
        ),
    )


def test_upstream_from_a_dataset_gives_writers_and_inputs_with_state() -> None:
    closure = failing_pipeline().walk(ds("agg"), "upstream", DATASETS_ONLY)
    assert distances(closure) == {
        job("j_agg"): 1,
        ds("clean"): 2,
        job("j_clean"): 3,
        ds("raw"): 4,
    }
    states = {n.id: n.state for n in closure.nodes}
    assert states == {
        job("j_agg"): "FAIL",
        ds("clean"): "COMPLETE",
        job("j_clean"): "COMPLETE",
        ds("raw"): None,
    }
    assert_paths_are_shortest_and_joined(closure)


def test_a_dataset_shows_the_current_state_of_its_last_run() -> None:
    graph = failing_pipeline()
    record = graph.record(ds("agg"))
    assert record is not None
    assert record.props["last_run_state"] == "START"  # as of the event that named it
    assert graph.state(graph.index[ds("agg")]) == "FAIL"


def test_a_later_failed_run_replaces_an_earlier_success() -> None:
    graph = graph_of(
        run_event("j", ["raw"], ["out"], run=run_id("ok"), time="2026-03-01T00:00:00Z"),
        run_event(
            "j",
            ["raw"],
            ["out"],
            run=run_id("bad"),
            event_type="FAIL",
            time="2026-03-02T00:00:00Z",
        ),
        run_event("k", ["out"], ["final"]),
    )
    states = {n.id: n.state for n in graph.walk(ds("final"), "upstream", DATASETS_ONLY).nodes}
    assert states[ds("out")] == "FAIL"
    assert states[job("j")] == "FAIL"


def test_downstream_answers_carry_no_state() -> None:
    closure = failing_pipeline().walk(ds("raw"), "downstream", DATASETS_ONLY)
    assert all(n.state is None for n in closure.nodes)


# -- run roots ------------------------------------------------------------------------------------


def test_run_root_downstream_starts_at_its_outputs() -> None:
    graph = failing_pipeline()
    closure = graph.walk(f"run:{run_id('c1')}", "downstream", DATASETS_ONLY)
    assert distances(closure) == {ds("clean"): 1, job("j_agg"): 2, ds("agg"): 3}
    assert closure.root_kind == "run"
    assert [(e.src, e.kind, e.dst) for e in closure.extra_writers] == [
        (job("j_clean"), "WRITES", ds("clean"))
    ]
    assert_paths_are_shortest_and_joined(closure)


def test_run_root_upstream_starts_at_its_inputs() -> None:
    closure = failing_pipeline().walk(f"run:{run_id('a1')}", "upstream", DATASETS_ONLY)
    assert distances(closure) == {ds("clean"): 1, job("j_clean"): 2, ds("raw"): 3}


# -- property: distances are breadth-first shortest distances -------------------------------------

NAMES = ["d0", "d1", "d2", "d3", "d4", "d5"]


@st.composite
def lineage_events(draw: st.DrawFn) -> list[dict[str, Any]]:
    docs = []
    for i in range(draw(st.integers(1, 7))):
        inputs = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=1, max_size=2))
        outputs = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=1, max_size=2))
        docs.append(run_event(f"j{i}", inputs, outputs))
    return docs


@settings(max_examples=100, derandomize=True, deadline=None)
@given(lineage_events(), st.sampled_from(NAMES), st.integers(1, 8))
def test_walk_distances_match_breadth_first_search(
    docs: list[dict[str, Any]], root: str, depth: int
) -> None:
    graph = graph_of(*docs)
    if ds(root) not in graph.index:
        return
    reference = nx.DiGraph()
    for doc in docs:
        name = job(doc["job"]["name"])
        reference.add_edges_from((ds(i["name"]), name) for i in doc["inputs"])
        reference.add_edges_from((name, ds(o["name"])) for o in doc["outputs"])
    expected = nx.single_source_shortest_path_length(reference, ds(root), cutoff=depth)
    del expected[ds(root)]
    closure = graph.walk(ds(root), "downstream", WalkOptions(depth=depth, columns=False))
    assert distances(closure) == expected
    assert_paths_are_shortest_and_joined(closure)
    up = graph.walk(ds(root), "upstream", WalkOptions(depth=depth, columns=False))
    expected_up = nx.single_source_shortest_path_length(reference.reverse(), ds(root), cutoff=depth)
    del expected_up[ds(root)]
    assert distances(up) == expected_up


def fan(width: int) -> MemoryGraph:
    """raw -> j0..j{width-1}, each job writing its own dataset."""
    return graph_of(*(run_event(f"j{i}", ["raw"], [f"out{i}"]) for i in range(width)))


class SteppedClock:
    """A clock that reads `start` until `stop_after` more readings, then a day later."""

    def __init__(self, stop_after: int) -> None:
        self.readings = 0
        self.stop_after = stop_after

    def __call__(self) -> float:
        self.readings += 1
        return 0.0 if self.readings <= self.stop_after else 86_400.0


def test_a_spent_budget_answers_what_it_found_flagged_partial() -> None:
    graph = fan(2_000)
    budget = Budget.start(10, SteppedClock(stop_after=1))  # starting reads it once
    closure = graph.walk(ds("raw"), "downstream", replace(DATASETS_ONLY, budget=budget))
    assert closure.partial
    assert closure.partial_reason == "time budget of 10 s exhausted"
    answer = closure.as_dict()
    assert answer["partial"] is True
    assert answer["partialReason"] == "time budget of 10 s exhausted"
    # What it has: every job (depth 1) and the outputs of the jobs expanded before it stopped.
    found = distances(closure)
    assert len(found) < 4_000
    assert all(job(f"j{i}") in found for i in range(2_000))
    assert ds("out0") in found
    assert_paths_are_shortest_and_joined(closure)


def test_a_budget_that_lasts_gives_the_whole_answer_not_partial() -> None:
    graph = fan(2_000)
    closure = graph.walk(ds("raw"), "downstream", replace(DATASETS_ONLY, budget=Budget.start(60)))
    assert not closure.partial
    assert closure.as_dict()["partial"] is False
    assert "partialReason" not in closure.as_dict()
    assert len(closure.nodes) == 4_000


def test_a_walk_ignores_a_node_an_ingest_is_still_adding() -> None:
    """A walk in a worker thread may read the graph while ingest (on the event loop) appends a
    node one slot at a time: a node whose slots are not all there yet is not part of the walk."""
    graph = pipeline()
    half_added = len(graph.ids)
    graph.index["dataset:half"] = half_added
    graph.ids.append("dataset:half")  # kinds, records, out and inc not yet appended
    graph.out[graph.index[ds("raw")]].append(half_added << 4)  # even were an edge to name it
    with pytest.raises(NotFound):
        graph.walk("dataset:half", "downstream", DATASETS_ONLY)
    closure = graph.walk(ds("raw"), "downstream", DATASETS_ONLY)
    assert distances(closure) == PIPELINE_DOWNSTREAM_OF_RAW
