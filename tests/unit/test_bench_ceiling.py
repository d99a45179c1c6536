"""The Neo4j ceiling benchmark creates each element of the generated graph exactly once."""

from __future__ import annotations

from bench.generator import generate
from bench.neo4j_ceiling import new_elements
from ripple.graph.memory import MemoryGraph
from ripple.ingest.pipeline import prepare


def test_batches_hold_every_node_and_edge_of_the_graph_once() -> None:
    deltas = []
    for event in generate(200, seed=3):
        delta = prepare(event).delta
        assert delta is not None
        deltas.append(delta)
    whole = MemoryGraph()
    for delta in deltas:
        whole.apply(delta)
    mask = (1 << 36) - 1
    expected_edges = {(whole.ids[k >> 40], whole.ids[(k >> 4) & mask]) for k in whole.edges}

    batches = new_elements(deltas, 7)

    assert len(batches) == -(-len(deltas) // 7)
    nodes = [node for ids, _ in batches for node in ids]
    pairs = [pair for _, batch in batches for pair in batch]
    assert sorted(nodes) == sorted(whole.ids)  # each once
    assert len(pairs) == len(whole.edges)
    assert set(pairs) == expected_edges
    first_ids, first_pairs = batches[0]
    assert {a for a, _ in first_pairs} | {b for _, b in first_pairs} <= set(first_ids)
