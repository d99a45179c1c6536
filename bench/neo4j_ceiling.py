"""Neo4j's own write ceiling on this machine, for the shape of graph Ripple ingests.

The ingest target of figure d is stated in events per second, and each generated event adds about
21 nodes and 56 relationships (a run, new datasets, their columns, HAS_COLUMN and column
lineage). Whatever a store does, it must at least create those. This measures the cheapest way
to do only that: the nodes and relationships the first events add, each created exactly once,
with no properties but a key, no MERGE, no stamps or facets, and no work on the client beyond
sending the rows — `UNWIND $ids AS id CREATE (:Ceiling {key: id})`, then relationships matched
through an index on that key (matching by element id instead was measured slower, because
returning the ids costs more than the lookups save). Each batch of 1,000 events is one
transaction for nodes and one for relationships, as Ripple's store writes them. The whole load
runs twice, and the second pass is timed: a freshly started JVM is markedly slower on its first
pass (about half the rate, measured), and Ripple's own ingest runs long enough to be warm. The
rate this gives is an upper bound for any store that keeps the graph model of DESIGN.md on this
server.

The nodes live under their own label and index and are deleted after each pass.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction

from bench.report import progress
from ripple.graph.delta import GraphDelta
from ripple.graph.memory import MemoryGraph

LABEL = "Ceiling"  # never one of Ripple's labels
CHUNK = 20_000  # relationship rows per statement


@dataclass(frozen=True, slots=True)
class Ceiling:
    events: int
    nodes: int
    relationships: int
    node_seconds: float
    relationship_seconds: float
    warm_up_seconds: float  # the same work on the first pass

    @property
    def seconds(self) -> float:
        return self.node_seconds + self.relationship_seconds


Batches = list[tuple[list[str], list[tuple[str, str]]]]  # per batch: node ids, (from, to) pairs


def new_elements(deltas: list[GraphDelta], batch: int) -> Batches:
    """Per batch of `batch` deltas, the node ids and (from, to) pairs it adds to the graph
    the batches before it built (MemoryGraph's own merge, so the counts are Ripple's)."""
    graph = MemoryGraph()
    batches = []
    mask = (1 << 36) - 1
    for start in range(0, len(deltas), batch):
        first_node = len(graph.ids)
        known = set(graph.edges)
        for delta in deltas[start : start + batch]:
            graph.apply(delta)
        pairs = [
            (graph.ids[key >> 40], graph.ids[(key >> 4) & mask])
            for key in graph.edges
            if key not in known
        ]
        batches.append((graph.ids[first_node:], pairs))
    return batches


async def _create_nodes(tx: AsyncManagedTransaction, ids: list[str]) -> None:
    result = await tx.run(f"UNWIND $ids AS id CREATE (:{LABEL} {{key: id}})", ids=ids)
    await result.consume()


async def _create_relationships(tx: AsyncManagedTransaction, pairs: list[tuple[str, str]]) -> None:
    for start in range(0, len(pairs), CHUNK):
        result = await tx.run(
            f"UNWIND $pairs AS p MATCH (a:{LABEL} {{key: p[0]}}) MATCH (b:{LABEL} {{key: p[1]}}) "
            "CREATE (a)-[:C]->(b)",
            pairs=pairs[start : start + CHUNK],
        )
        await result.consume()


async def _run(driver: AsyncDriver, query: str) -> None:
    async with driver.session(database="neo4j") as session:
        await (await session.run(query)).consume()


async def _create(driver: AsyncDriver, batches: Batches) -> tuple[float, float]:
    """Seconds creating the nodes, and the relationships, batch by batch."""
    node_seconds = relationship_seconds = 0.0
    async with driver.session(database="neo4j") as session:
        for ids, pairs in batches:
            started = time.perf_counter()
            await session.execute_write(_create_nodes, ids)
            created = time.perf_counter()
            await session.execute_write(_create_relationships, pairs)
            node_seconds += created - started
            relationship_seconds += time.perf_counter() - created
    return node_seconds, relationship_seconds


async def _remove(driver: AsyncDriver) -> None:
    await _run(
        driver, f"MATCH (n:{LABEL}) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 10000 ROWS"
    )


async def measure(uri: str, deltas: list[GraphDelta], batch: int) -> Ceiling:
    """Create the elements `deltas` add, batch by batch, on the server at `uri`, twice: a warm-up
    pass (a fresh JVM compiles as it goes; Ripple's own ingest runs long enough to be warm), then
    the timed one. Everything is removed afterwards."""
    batches = new_elements(deltas, batch)
    driver = AsyncGraphDatabase.driver(uri, auth=None)
    try:
        await _run(driver, f"CREATE INDEX ceiling_key IF NOT EXISTS FOR (n:{LABEL}) ON (n.key)")
        await _run(driver, "CALL db.awaitIndexes()")
        cold = sum(await _create(driver, batches))
        progress(f"neo4j: ceiling: warm-up pass {cold:.1f} s; removing, then the timed pass")
        await _remove(driver)
        node_seconds, relationship_seconds = await _create(driver, batches)
        spent = node_seconds + relationship_seconds
        progress(f"neo4j: ceiling: {len(deltas):,} events' elements in {spent:.1f} s; removing")
    finally:
        await _remove(driver)
        await _run(driver, "DROP INDEX ceiling_key IF EXISTS")
        await driver.close()
    nodes = sum(len(ids) for ids, _ in batches)
    relationships = sum(len(pairs) for _, pairs in batches)
    return Ceiling(len(deltas), nodes, relationships, node_seconds, relationship_seconds, cold)
