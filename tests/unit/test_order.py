import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from ripple.graph.memory import MemoryGraph
from ripple.graph.order import (
    Order,
    backfill_order,
    is_acyclic,
    kahn,
    layer,
    strongly_connected,
)
from ripple.graph.store import WalkOptions
from tests.unit.builders import ds as dataset_id
from tests.unit.builders import graph_of, job, run_event, run_id

DATASETS_ONLY = WalkOptions(columns=False)
PROPS = settings(max_examples=200, derandomize=True, deadline=None)


def layer_of(layers: list[list[str]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, members in enumerate(layers):
        for node in members:
            assert node not in found, f"{node} is in two layers"
            found[node] = i
    return found


def all_nodes(graph: dict[str, set[str]]) -> set[str]:
    return set(graph) | {t for targets in graph.values() for t in targets}


# -- layer() ---------------------------------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> dict[str, set[str]]:
    """A random DAG: edges only go from an earlier to a later position of a shuffled order."""
    size = draw(st.integers(1, 12))
    names = draw(st.permutations([f"job{i:02d}" for i in range(size)]))
    graph: dict[str, set[str]] = {name: set() for name in names}
    for i in range(size):
        for j in range(i + 1, size):
            if draw(st.integers(0, 3)) == 0:
                graph[names[i]].add(names[j])
    return graph


@st.composite
def digraphs(draw: st.DrawFn) -> dict[str, set[str]]:
    """A random directed graph that may have cycles and self-loops."""
    names = [f"n{i}" for i in range(draw(st.integers(1, 9)))]
    graph: dict[str, set[str]] = {name: set() for name in names}
    for a in names:
        for b in names:
            if draw(st.integers(0, 4)) == 0:
                graph[a].add(b)
    return graph


@PROPS
@given(dags())
def test_layers_put_every_upstream_job_before_its_downstream(graph: dict[str, set[str]]) -> None:
    layers, cycles = layer(graph)
    assert cycles == []
    position = layer_of(layers)
    assert set(position) == all_nodes(graph)
    for node, targets in graph.items():
        for target in targets:
            assert position[node] < position[target], (node, target, layers)


@PROPS
@given(dags())
def test_layers_are_as_early_as_possible(graph: dict[str, set[str]]) -> None:
    layers, _ = layer(graph)
    position = layer_of(layers)
    parents: dict[str, set[str]] = {node: set() for node in position}
    for node, targets in graph.items():
        for target in targets:
            parents[target].add(node)
    for node, at in position.items():
        if at == 0:
            assert parents[node] == set()
        else:
            assert any(position[p] == at - 1 for p in parents[node]), (node, layers)


@PROPS
@given(digraphs())
def test_nothing_is_hidden_and_cycles_match_strong_components(
    graph: dict[str, set[str]],
) -> None:
    layers, cycles = layer(graph)
    position = layer_of(layers)
    assert set(position) == all_nodes(graph)

    reference = nx.DiGraph()
    reference.add_nodes_from(graph)
    reference.add_edges_from((a, b) for a, targets in graph.items() for b in targets)
    expected = sorted(
        sorted(c)
        for c in nx.strongly_connected_components(reference)
        if len(c) > 1 or reference.has_edge(next(iter(c)), next(iter(c)))
    )
    assert cycles == expected
    for members in cycles:
        assert len({position[m] for m in members}) == 1, "a cycle's members share one layer"
    component = {n: i for i, c in enumerate(nx.strongly_connected_components(reference)) for n in c}
    for a, targets in graph.items():
        for b in targets:
            if component[a] != component[b]:
                assert position[a] < position[b]


@PROPS
@given(digraphs())
def test_strongly_connected_matches_networkx(graph: dict[str, set[str]]) -> None:
    reference = nx.DiGraph()
    reference.add_nodes_from(graph)
    reference.add_edges_from((a, b) for a, targets in graph.items() for b in targets)
    found = sorted(sorted(c) for c in strongly_connected(graph))
    assert found == sorted(sorted(c) for c in nx.strongly_connected_components(reference))


def reversed_insertion(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The same graph, its keys and successors built in the opposite order."""
    return {node: set(reversed(sorted(graph[node]))) for node in reversed(list(graph))}


@PROPS
@given(digraphs())
def test_layers_and_cycles_do_not_depend_on_insertion_order(graph: dict[str, set[str]]) -> None:
    layers, cycles = layer(graph)
    assert layer(reversed_insertion(graph)) == (layers, cycles)
    assert all(members == sorted(members) for members in layers), "a layer is sorted"


@PROPS
@given(dags())
def test_layers_of_a_dag_are_its_topological_generations(graph: dict[str, set[str]]) -> None:
    reference = nx.DiGraph()
    reference.add_nodes_from(graph)
    reference.add_edges_from((a, b) for a, targets in graph.items() for b in targets)
    expected = [sorted(generation) for generation in nx.topological_generations(reference)]
    assert layer(graph) == (expected, [])


@PROPS
@given(digraphs())
def test_kahn_places_exactly_the_nodes_no_cycle_reaches(graph: dict[str, set[str]]) -> None:
    reference = nx.DiGraph()
    reference.add_nodes_from(graph)
    reference.add_edges_from((a, b) for a, targets in graph.items() for b in targets)
    on_cycles = {n for c in nx.simple_cycles(reference) for n in c}
    blocked = on_cycles | {d for n in on_cycles for d in nx.descendants(reference, n)}
    waves, acyclic = kahn(graph)
    assert sorted(n for wave in waves for n in wave) == sorted(set(graph) - blocked)
    assert acyclic is is_acyclic(graph) is nx.is_directed_acyclic_graph(reference)


def test_kahn_takes_any_hashable_node_and_targets_that_are_not_keys() -> None:
    graph: dict[tuple[str, int], set[tuple[str, int]]] = {("a", 1): {("b", 2)}}
    assert kahn(graph) == ([[("a", 1)], [("b", 2)]], True)
    assert is_acyclic({1: {1}}) is False


def test_parallel_jobs_share_a_layer() -> None:
    graph = {"extract": {"clean_a", "clean_b"}, "clean_a": {"report"}, "clean_b": {"report"}}
    assert layer(graph) == ([["extract"], ["clean_a", "clean_b"], ["report"]], [])


def test_independent_jobs_share_the_first_layer() -> None:
    assert layer({"b": set(), "a": set(), "c": set()}) == ([["a", "b", "c"]], [])


def test_a_cycle_is_reported_and_its_members_still_appear() -> None:
    graph = {"start": {"a"}, "a": {"b"}, "b": {"c"}, "c": {"a", "end"}, "end": set()}
    layers, cycles = layer(graph)
    assert cycles == [["a", "b", "c"]]
    assert layers == [["start"], ["a", "b", "c"], ["end"]]


def test_a_self_loop_is_a_cycle() -> None:
    assert layer({"a": {"a"}, "b": set()}) == ([["a", "b"]], [["a"]])


def test_a_target_that_is_not_a_key_is_layered_too() -> None:
    assert layer({"a": {"b"}}) == ([["a"], ["b"]], [])


def test_deep_chains_do_not_hit_the_recursion_limit() -> None:
    size = 5000
    chain = {f"j{i:05d}": {f"j{i + 1:05d}"} for i in range(size - 1)}
    layers, cycles = layer(chain)
    assert len(layers) == size
    assert cycles == []
    ring = chain | {f"j{size - 1:05d}": {"j00000"}}  # one cycle through every job
    components = strongly_connected(ring)
    assert len(components) == 1
    assert len(components[0]) == size


# -- backfill_order() ------------------------------------------------------------------------------


def pipeline() -> MemoryGraph:
    return graph_of(
        run_event("j_clean", ["raw"], ["clean"], run=run_id("clean-run")),
        run_event("j_agg", ["clean"], ["agg"]),
        run_event("j_report", ["agg"], ["report"]),
        run_event("j_fast", ["raw"], ["report"]),
    )


def test_backfill_order_from_a_dataset_layers_the_impacted_jobs() -> None:
    closure = pipeline().walk(dataset_id("raw"), "downstream", DATASETS_ONLY)
    order = backfill_order(closure)
    assert order.layers == [
        [job("j_clean"), job("j_fast")],
        [job("j_agg")],
        [job("j_report")],
    ]
    assert order.cycles == []
    assert order.truncated is False
    assert order.root == dataset_id("raw")


def test_backfill_order_from_a_job_includes_the_job_itself() -> None:
    closure = pipeline().walk(job("j_clean"), "downstream", DATASETS_ONLY)
    assert job("j_clean") not in {n.id for n in closure.nodes}
    order = backfill_order(closure)
    assert order.layers == [[job("j_clean")], [job("j_agg")], [job("j_report")]]


def test_backfill_order_from_a_run_includes_the_runs_job() -> None:
    closure = pipeline().walk(f"run:{run_id('clean-run')}", "downstream", DATASETS_ONLY)
    order = backfill_order(closure)
    assert order.layers == [[job("j_clean")], [job("j_agg")], [job("j_report")]]


def test_backfill_order_of_a_leaf_dataset_is_empty() -> None:
    order = backfill_order(pipeline().walk(dataset_id("report"), "downstream", DATASETS_ONLY))
    assert order.layers == []
    assert order.cycles == []


def test_backfill_order_reports_a_cycle_and_keeps_its_jobs() -> None:
    graph = graph_of(
        run_event("load", ["src"], ["x"]),
        run_event("ping", ["x"], ["y"]),
        run_event("pong", ["y"], ["x"]),
        run_event("publish", ["y"], ["out"]),
    )
    order = backfill_order(graph.walk(dataset_id("src"), "downstream", DATASETS_ONLY))
    assert order.cycles == [[job("ping"), job("pong")]]
    assert order.layers == [[job("load")], [job("ping"), job("pong")], [job("publish")]]


def test_backfill_order_keeps_the_walks_truncation() -> None:
    closure = pipeline().walk(dataset_id("raw"), "downstream", WalkOptions(limit=2, columns=False))
    order = backfill_order(closure)
    assert order.truncated is True
    assert order.as_dict()["truncated"] is True


def test_order_as_dict() -> None:
    order = Order("dataset:db:raw", [["job:jobs:a"]], [], False)
    assert order.as_dict() == {
        "root": "dataset:db:raw",
        "layers": [["job:jobs:a"]],
        "cycles": [],
        "truncated": False,
        "partial": False,
    }
