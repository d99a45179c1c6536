"""The embedded store and Neo4j give the same answers on the same events: blast radius, root
cause, backfill order and Marquez's lineage shapes, over the demo pipeline, Marquez's seed and a
generated warehouse, plain and with 30% of its tables known by two names (symlinks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ripple.api import marquez
from ripple.graph import queries
from ripple.graph.embedded import EmbeddedStore
from ripple.graph.neo4j import Neo4jStore
from ripple.graph.store import Closure, GraphStore, WalkOptions
from ripple.ingest.aliases import Naming, link
from ripple.ingest.demo import demo_events
from ripple.ingest.event import parse_event
from ripple.ingest.projection import project
from tests.conftest import food_delivery_events

Events = list[dict[str, Any]]


def _generated(_: Path) -> Events:
    from bench.generator import generate  # the benchmarks' seeded warehouse generator

    return list(generate(300, seed=11))


def _generated_symlinks(_: Path) -> Events:
    """The same warehouse with 30% of its tables written by location, named by symlinks."""
    from bench.generator import generate

    return list(generate(300, seed=11, symlinks=0.3))


SOURCES: dict[str, Callable[[Path], Events]] = {
    "demo": lambda _: demo_events(),
    "food_delivery": food_delivery_events,
    "generated": _generated,
    "generated_symlinks": _generated_symlinks,
}


@pytest.fixture(params=sorted(SOURCES))
async def stores(
    request: pytest.FixtureRequest, neo4j_uri: str
) -> AsyncIterator[tuple[GraphStore, GraphStore]]:
    fixtures = request.getfixturevalue("fixtures_dir") if request.param == "food_delivery" else None
    events = SOURCES[request.param](fixtures or Path())
    deltas = [project(parse_event(event)) for event in events]
    link(deltas, Naming())
    embedded = EmbeddedStore()
    neo4j = Neo4jStore(neo4j_uri)
    await neo4j.open()
    try:
        await neo4j.clear()
        for store in (embedded, neo4j):
            await store.apply(deltas, through=len(deltas))
        yield embedded, neo4j
    finally:
        await neo4j.close()


def answer(closure: Closure) -> tuple[dict[str, Any], set[Any], bool]:
    nodes = {n.id: (n.kind, n.distance, n.dependence, n.state, n.aliases) for n in closure.nodes}
    return nodes, set(closure.edges), closure.truncated


def canonical_lineage(graph: dict[str, Any]) -> dict[str, Any]:
    """Marquez's shape with the one list whose order follows edge storage order sorted."""
    for node in graph["graph"]:
        fields = node["data"].get("inputFields")
        if fields is not None:
            fields.sort(
                key=lambda f: (f["namespace"], f["dataset"], f["field"], f["transformationType"])
            )
    return graph


async def test_same_answers(stores: tuple[GraphStore, GraphStore]) -> None:
    embedded, neo4j = stores
    assert await neo4j.counts() == await embedded.counts()
    dump = await embedded.dump()
    ids = sorted(dump["nodes"])
    datasets = [i for i in ids if i.startswith("dataset:")]
    jobs = [i for i in ids if i.startswith("job:")]
    columns = [i for i in ids if i.startswith("datasetField:")]
    assert datasets and jobs and columns
    some_jobs, some_columns = jobs[:: max(1, len(jobs) // 5)], columns[:: max(1, len(columns) // 8)]
    variants = (
        WalkOptions(),
        WalkOptions(direct_only=True),
        WalkOptions(depth=2),
        WalkOptions(columns=False),
    )
    capped = WalkOptions(limit=5)  # which of the farthest nodes a cap keeps may differ
    for node_id in [*datasets, *some_jobs, *some_columns]:
        for options in variants:
            expected = answer(await queries.impact(embedded, node_id, options))
            assert answer(await queries.impact(neo4j, node_id, options)) == expected, (
                node_id,
                options,
            )
        cut = [await queries.impact(store, node_id, capped) for store in (embedded, neo4j)]
        assert [(len(c.nodes), c.truncated) for c in cut] == [
            (len(cut[0].nodes), cut[0].truncated)
        ] * 2, node_id
        expected = answer(await queries.upstream(embedded, node_id, WalkOptions()))
        assert answer(await queries.upstream(neo4j, node_id, WalkOptions())) == expected, node_id
        order = (await queries.order(embedded, node_id, WalkOptions())).as_dict()
        assert (await queries.order(neo4j, node_id, WalkOptions())).as_dict() == order, node_id
    for node_id in [*datasets, *some_jobs, *some_columns[:3]]:
        expected_graph = canonical_lineage(await marquez.lineage(embedded, node_id, 20))
        got = canonical_lineage(await marquez.lineage(neo4j, node_id, 20))
        assert got == expected_graph, node_id
