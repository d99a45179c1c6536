"""Every closure statement must plan as a pruning breadth-first expansion, never as path
enumeration (which explodes on diamond-heavy lineage; see notes on Neo4j in DESIGN.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from neo4j import AsyncGraphDatabase

from ripple.graph.neo4j import Neo4jStore, cypher
from ripple.ingest.demo import demo_events
from ripple.ingest.event import parse_event
from ripple.ingest.projection import project

PRUNING = ("VarLengthExpand(Pruning", "BFSPruningVarExpand", "ShortestPath")


def operators(plan: Any) -> list[str]:
    found = [plan.get("operatorType", "")]
    for child in plan.get("children", []):
        found.extend(operators(child))
    return found


@pytest.fixture
async def loaded(neo4j_uri: str) -> AsyncIterator[str]:
    """A database holding the demo pipeline, so the planner sees real statistics."""
    store = Neo4jStore(neo4j_uri)
    await store.open()
    await store.clear()
    deltas = [project(parse_event(event)) for event in demo_events()]
    await store.apply(deltas, through=len(deltas))
    await store.close()
    yield neo4j_uri


async def test_every_closure_statement_prunes(loaded: str) -> None:
    params = {"starts": ["4:x:0"], "depth": 3, "cap": 11}
    async with AsyncGraphDatabase.driver(
        loaded, auth=None, notifications_min_severity="OFF"
    ) as driver:
        for (shape, bound), query in cypher.CLOSURE.items():
            _, summary, _ = await driver.execute_query(
                "EXPLAIN " + query, params, database_="neo4j"
            )
            assert summary.plan is not None
            names = operators(summary.plan)
            assert any(name.startswith(PRUNING) for name in names), (shape, bound, names)
        walk_params = {"root": "dataset:x:y", "depth": 3, "cap": 11}
        for key, query in cypher.WALK_DOWN.items():
            _, summary, _ = await driver.execute_query(
                "EXPLAIN " + query, walk_params, database_="neo4j"
            )
            assert summary.plan is not None
            names = operators(summary.plan)
            assert any(name.startswith(PRUNING) for name in names), (key, names)


async def test_record_reads_of_the_write_path_lock_even_absent_keys(loaded: str) -> None:
    """Concurrent batches are kept apart by these locks (see cypher.LOCK_RECORDS)."""
    async with AsyncGraphDatabase.driver(
        loaded, auth=None, notifications_min_severity="OFF"
    ) as driver:
        for label, query in cypher.LOCK_RECORDS.items():
            _, summary, _ = await driver.execute_query(
                "EXPLAIN " + query, {"keys": ["x"]}, database_="neo4j"
            )
            assert summary.plan is not None
            names = operators(summary.plan)
            assert any(n.startswith("NodeUniqueIndexSeek(Locking)") for n in names), (label, names)
