import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ripple.graph.delta import GraphDelta
from ripple.graph.memory import MemoryGraph
from ripple.ingest.event import parse_event
from ripple.ingest.projection import project
from ripple.model import NodeKind
from tests.unit.builders import (
    col,
    column_lineage,
    dataset,
    ds,
    field_ref,
    graph_of,
    job,
    parent_facet,
    run_event,
    run_id,
)

Triple = tuple[str, str, str]


def delta_of(doc: dict[str, Any]) -> GraphDelta:
    return project(parse_event(doc))


def materialized(delta: GraphDelta) -> MemoryGraph:
    """What a store makes of the delta (columns travel as column facts, not single upserts)."""
    graph = MemoryGraph()
    graph.apply(delta)
    return graph


def nodes_of(delta: GraphDelta) -> dict[str, NodeKind]:
    graph = materialized(delta)
    return {node_id: graph.kind(i) for i, node_id in enumerate(graph.ids)}


def edges_of(delta: GraphDelta) -> set[Triple]:
    graph = materialized(delta)
    return {(e.src, e.kind, e.dst) for e in graph.neighbourhood(graph.ids)}


def derives(delta: GraphDelta) -> dict[tuple[str, str, str], dict[str, Any]]:
    dump = materialized(delta).dump()["edges"]
    found = {}
    for name, record in dump.items():
        src, arrow, dst = name.split(" ")
        if arrow.startswith("-DERIVES:"):
            found[(src, dst, arrow.removeprefix("-DERIVES:").removesuffix("->"))] = record["props"]
    return found


def simple_event(**kwargs: Any) -> dict[str, Any]:
    lineage = column_lineage({"total": [field_ref("orders", "amount", "DIRECT", "AGGREGATION")]})
    return run_event(
        "build",
        [dataset("orders", ["id", "amount"])],
        [dataset("revenue", ["total"], lineage=lineage)],
        run=run_id("r1"),
        **kwargs,
    )


def test_run_event_yields_job_run_dataset_and_column_nodes() -> None:
    run = f"run:{run_id('r1')}"
    delta = delta_of(simple_event())
    assert nodes_of(delta) == {
        job("build"): NodeKind.JOB,
        run: NodeKind.RUN,
        ds("orders"): NodeKind.DATASET,
        ds("revenue"): NodeKind.DATASET,
        col("orders", "id"): NodeKind.COLUMN,
        col("orders", "amount"): NodeKind.COLUMN,
        col("revenue", "total"): NodeKind.COLUMN,
    }
    assert delta.run == run


def test_run_event_yields_every_lineage_edge() -> None:
    run = f"run:{run_id('r1')}"
    delta = delta_of(simple_event())
    assert edges_of(delta) == {
        (ds("orders"), "READ_BY", job("build")),
        (job("build"), "WRITES", ds("revenue")),
        (run, "RUN_OF", job("build")),
        (run, "READ", ds("orders")),
        (run, "PRODUCED", ds("revenue")),
        (ds("orders"), "HAS_COLUMN", col("orders", "id")),
        (ds("orders"), "HAS_COLUMN", col("orders", "amount")),
        (ds("revenue"), "HAS_COLUMN", col("revenue", "total")),
        (col("orders", "amount"), "DERIVES", col("revenue", "total")),
    }
    assert derives(delta) == {
        (col("orders", "amount"), col("revenue", "total"), "DIRECT"): {
            "type": "DIRECT",
            "subtype": "AGGREGATION",
            "description": None,
            "masking": False,
        }
    }


def test_run_state_and_outputs_last_run_are_recorded() -> None:
    run = f"run:{run_id('r1')}"
    graph = graph_of(simple_event(event_type="FAIL", run_facets={"errorMessage": {"message": "x"}}))
    run_record = graph.record(run)
    assert run_record is not None
    assert run_record.props["state"] == "FAIL"
    assert run_record.props["error_message"] == "x"
    assert run_record.props["job"] == job("build")
    output = graph.record(ds("revenue"))
    assert output is not None
    assert output.props["last_run"] == run
    assert output.props["last_run_state"] == "FAIL"
    job_record = graph.record(job("build"))
    assert job_record is not None
    assert job_record.props["last_run_state"] == "FAIL"


def test_parent_facet_creates_parent_run_parent_job_and_child_of() -> None:
    parent = f"run:{run_id('parent')}"
    child = f"run:{run_id('child')}"
    doc = run_event(
        "task",
        run=run_id("child"),
        run_facets={"parent": parent_facet(run_id("parent"), "dag_only_in_parent")},
    )
    delta = delta_of(doc)
    kinds = nodes_of(delta)
    assert kinds[parent] is NodeKind.RUN
    assert kinds[job("dag_only_in_parent")] is NodeKind.JOB
    assert (child, "CHILD_OF", parent) in edges_of(delta)
    assert (parent, "RUN_OF", job("dag_only_in_parent")) in edges_of(delta)

    graph = graph_of(doc)
    parent_job = graph.record(job("dag_only_in_parent"))
    assert parent_job is not None
    assert parent_job.kind == "job"
    assert parent_job.props["namespace"] == "jobs"
    assert parent_job.props["name"] == "dag_only_in_parent"
    child_record = graph.record(child)
    assert child_record is not None
    assert child_record.props["parent_run"] == parent


def test_direct_and_indirect_on_the_same_column_pair_give_two_edges() -> None:
    both = {
        "namespace": "db",
        "name": "orders",
        "field": "amount",
        "transformations": [
            {"type": "DIRECT", "subtype": "AGGREGATION"},
            {"type": "INDIRECT", "subtype": "FILTER"},
        ],
    }
    doc = run_event(
        "build",
        ["orders"],
        [dataset("revenue", ["total"], lineage=column_lineage({"total": [both]}))],
    )
    pair = (col("orders", "amount"), col("revenue", "total"))
    found = derives(delta_of(doc))
    assert set(found) == {(*pair, "DIRECT"), (*pair, "INDIRECT")}
    assert found[(*pair, "DIRECT")]["subtype"] == "AGGREGATION"
    assert found[(*pair, "INDIRECT")]["subtype"] == "FILTER"

    edges = graph_of(doc).dump()["edges"]
    assert f"{pair[0]} -DERIVES:DIRECT-> {pair[1]}" in edges
    assert f"{pair[0]} -DERIVES:INDIRECT-> {pair[1]}" in edges


def test_the_same_pair_named_twice_with_different_types_keeps_both() -> None:
    lineage = column_lineage(
        {
            "total": [
                field_ref("orders", "amount", "DIRECT"),
                field_ref("orders", "amount", "INDIRECT"),
            ]
        }
    )
    doc = run_event("build", ["orders"], [dataset("revenue", lineage=lineage)])
    pair = (col("orders", "amount"), col("revenue", "total"))
    assert set(derives(delta_of(doc))) == {(*pair, "DIRECT"), (*pair, "INDIRECT")}


def test_dataset_level_indirect_inputs_reach_every_output_field() -> None:
    lineage = column_lineage(
        {"total": [field_ref("orders", "amount")]},
        dataset=[field_ref("orders", "status", "INDIRECT", "FILTER")],
    )
    doc = run_event(
        "build",
        [dataset("orders", ["amount", "status"])],
        [dataset("revenue", ["day", "total"], lineage=lineage)],
    )
    found = derives(delta_of(doc))
    status = col("orders", "status")
    assert {k for k in found if k[0] == status} == {
        (status, col("revenue", "day"), "INDIRECT"),
        (status, col("revenue", "total"), "INDIRECT"),
    }
    assert found[(status, col("revenue", "day"), "INDIRECT")]["subtype"] == "FILTER"


def test_column_lineage_citing_an_undeclared_dataset_is_not_projected() -> None:
    lineage = column_lineage(
        {"total": [field_ref("orders", "amount"), field_ref("secret", "price")]},
        dataset=[field_ref("elsewhere", "flag", "INDIRECT")],
    )
    doc = run_event("build", ["orders"], [dataset("revenue", ["total"], lineage=lineage)])
    delta = delta_of(doc)
    ids = nodes_of(delta)
    for absent in (ds("secret"), col("secret", "price"), ds("elsewhere"), col("elsewhere", "flag")):
        assert absent not in ids
    assert set(derives(delta)) == {(col("orders", "amount"), col("revenue", "total"), "DIRECT")}

    record = graph_of(doc).record(ds("revenue"))
    assert record is not None
    assert record.props["unresolved_column_inputs"] == [
        col("elsewhere", "flag"),
        col("secret", "price"),
    ]


def test_column_lineage_may_cite_an_output_of_the_same_event() -> None:
    lineage = column_lineage({"b": [field_ref("dst", "a")]})
    doc = run_event("build", [], [dataset("dst", ["a", "b"], lineage=lineage)])
    assert set(derives(delta_of(doc))) == {(col("dst", "a"), col("dst", "b"), "DIRECT")}


def test_dataset_event_projects_the_dataset_and_its_columns_only() -> None:
    doc = {
        "eventTime": "2026-03-01T10:00:00Z",
        "dataset": dataset("orders", ["id"]),
    }
    delta = delta_of(doc)
    assert delta.run is None
    assert nodes_of(delta) == {ds("orders"): NodeKind.DATASET, col("orders", "id"): NodeKind.COLUMN}
    assert edges_of(delta) == {(ds("orders"), "HAS_COLUMN", col("orders", "id"))}


def test_job_event_projects_lineage_without_a_run() -> None:
    doc = run_event("build", ["orders"], ["revenue"])
    del doc["run"]
    delta = delta_of(doc)
    assert not any(kind is NodeKind.RUN for kind in nodes_of(delta).values())
    assert edges_of(delta) == {
        (ds("orders"), "READ_BY", job("build")),
        (job("build"), "WRITES", ds("revenue")),
    }


def test_schema_history_keeps_every_version() -> None:
    first = run_event("build", [], [dataset("t", ["a"])], time="2026-03-01T00:00:00Z")
    second = run_event("build", [], [dataset("t", ["a", "b"])], time="2026-03-02T00:00:00Z")
    record = graph_of(second, first).record(ds("t"))
    assert record is not None
    assert [f["name"] for f in record.props["fields"]] == ["a", "b"]
    versions = record.props["versions"]
    assert len(versions) == 2
    assert sorted(v["first_seen"][:10] for v in versions.values()) == ["2026-03-01", "2026-03-02"]


def test_later_event_wins_whatever_the_order_applied() -> None:
    start = simple_event(event_type="START", time="2026-03-01T10:00:00Z")
    done = simple_event(event_type="COMPLETE", time="2026-03-01T10:05:00Z")
    for order in ((start, done), (done, start)):
        record = graph_of(*order).record(f"run:{run_id('r1')}")
        assert record is not None
        assert record.props["state"] == "COMPLETE"
        assert record.first_seen == "2026-03-01T10:00:00.000000+00:00"
        assert record.last_seen == "2026-03-01T10:05:00.000000+00:00"


def test_terminal_state_beats_start_at_the_same_time() -> None:
    start = simple_event(event_type="START")
    done = simple_event(event_type="COMPLETE")
    for order in ((start, done), (done, start)):
        record = graph_of(*order).record(f"run:{run_id('r1')}")
        assert record is not None
        assert record.props["state"] == "COMPLETE"


def test_a_column_named_with_a_leading_digit_can_be_read_back() -> None:
    # The graph must be able to read back every column projection creates.
    doc = run_event("build", [], [dataset("users", ["2fa_enabled"])])
    graph = graph_of(doc)
    record = graph.record(col("users", "2fa_enabled"))
    assert record is not None
    assert record.props["name"] == "2fa_enabled"
    assert record.props["dataset"] == ds("users")


# -- replay is exact: applying deltas is idempotent and commutative --------------------------------

JOBS = ["extract", "transform", "load"]
DATASETS = ["raw", "clean", "agg", "report"]
COLUMNS = ["id", "amount", "day"]
RUNS = [run_id(f"pool-{i}") for i in range(3)]
TIMES = ["2026-03-01T10:00:00Z", "2026-03-01T10:00:00.5Z", "2026-03-01T11:00:00+01:00"]
STATES = [None, "START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER"]


@st.composite
def lineage_facets(draw: st.DrawFn, inputs: list[str], outputs: list[str]) -> dict[str, Any] | None:
    sources = inputs + outputs
    if not sources or not draw(st.booleans()):
        return None
    pick = st.tuples(st.sampled_from([*sources, "undeclared"]), st.sampled_from(COLUMNS))
    kinds = st.sampled_from(["DIRECT", "INDIRECT"])
    subtypes = st.sampled_from([None, "IDENTITY", "FILTER"])
    fields = draw(
        st.dictionaries(
            st.sampled_from(COLUMNS),
            st.lists(st.tuples(pick, kinds, subtypes), min_size=1, max_size=2),
            max_size=2,
        )
    )
    indirect = draw(st.lists(st.tuples(pick, subtypes), max_size=1))
    return column_lineage(
        {
            out: [field_ref(name, c, kind, sub) for (name, c), kind, sub in sources_]
            for out, sources_ in fields.items()
        },
        dataset=[field_ref(name, c, "INDIRECT", sub) for (name, c), sub in indirect],
    )


@st.composite
def datasets(draw: st.DrawFn, names: list[str], inputs: list[str], outputs: list[str]) -> list[Any]:
    out = []
    for name in names:
        columns = draw(st.lists(st.sampled_from(COLUMNS), unique=True, max_size=2))
        facets: dict[str, Any] = {}
        if draw(st.booleans()):
            facets["custom"] = {"v": draw(st.integers(0, 2))}
        out.append(
            dataset(name, columns, facets=facets, lineage=draw(lineage_facets(inputs, outputs)))
        )
    return out


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    inputs = draw(st.lists(st.sampled_from(DATASETS), unique=True, max_size=2))
    outputs = draw(st.lists(st.sampled_from(DATASETS), unique=True, max_size=2))
    time = draw(st.sampled_from(TIMES))
    if draw(st.integers(0, 5)) == 0:
        doc: dict[str, Any] = {"eventTime": time}
        doc["dataset"] = draw(datasets(outputs or ["raw"], [], outputs or ["raw"]))[0]
        return doc
    run_facets: dict[str, Any] = {}
    if draw(st.booleans()):
        run_facets["parent"] = parent_facet(
            draw(st.sampled_from(RUNS)), draw(st.sampled_from(JOBS))
        )
    if draw(st.booleans()):
        run_facets["custom"] = {"attempt": draw(st.integers(0, 2))}
    doc = run_event(
        draw(st.sampled_from(JOBS)),
        draw(datasets(inputs, inputs, outputs)),
        draw(datasets(outputs, inputs, outputs)),
        run=draw(st.sampled_from(RUNS)),
        event_type=draw(st.sampled_from(STATES)),
        time=time,
        run_facets=run_facets,
    )
    if draw(st.integers(0, 5)) == 0:
        del doc["run"]  # a JobEvent
    return doc


event_lists = st.lists(events(), min_size=1, max_size=8)
REPLAY = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def applied(deltas: list[GraphDelta]) -> dict[str, Any]:
    graph = MemoryGraph()
    for delta in deltas:
        graph.apply(delta)
    return graph.dump()


@REPLAY
@given(event_lists)
def test_applying_deltas_twice_gives_the_same_graph(docs: list[dict[str, Any]]) -> None:
    deltas = [delta_of(doc) for doc in docs]
    once = applied(deltas)
    assert applied(deltas + deltas) == once
    assert applied([d for d in deltas for _ in range(2)]) == once


@REPLAY
@given(event_lists, st.randoms(use_true_random=False))
def test_applying_deltas_in_any_order_gives_the_same_graph(
    docs: list[dict[str, Any]], rnd: random.Random
) -> None:
    deltas = [delta_of(doc) for doc in docs]
    shuffled = list(deltas)
    rnd.shuffle(shuffled)
    assert applied(shuffled) == applied(deltas)
    assert applied(list(reversed(deltas))) == applied(deltas)


@settings(REPLAY, max_examples=50)
@given(event_lists)
def test_projection_is_pure(docs: list[dict[str, Any]]) -> None:
    assert [delta_of(doc) for doc in docs] == [delta_of(doc) for doc in docs]
