"""An existing Neo4j graph of an older Ripple schema version is migrated when Ripple opens it."""

from __future__ import annotations

import pytest
from neo4j import AsyncGraphDatabase

from ripple.graph.neo4j import Neo4jStore, cypher
from tests.contract.test_store_contract import load_airflow


@pytest.mark.parametrize("version", [1, 2, 3])
async def test_a_graph_from_before_injective_ids_or_aliases_is_cleared_for_a_rebuild(
    neo4j_uri: str, version: int
) -> None:
    # Before version 3 one node could hold two (namespace, name) pairs ("dataset:team:b:c");
    # before version 4 datasets' other names (symlinks, renames) were not joined: only the event
    # log tells them apart or joins them, so the graph is cleared and replayed from it.
    store = Neo4jStore(neo4j_uri)
    await store.open()
    await store.clear()
    await load_airflow(store)
    await store.set_projected_from("log-1")
    await store.close()
    async with AsyncGraphDatabase.driver(neo4j_uri, auth=None) as driver:
        await driver.execute_query("MATCH (s:RippleSchema) SET s.version = $v", v=version)

    store = Neo4jStore(neo4j_uri)
    await store.open()
    try:
        assert await store.projected_through() == 0  # the pipeline replays the whole log
        assert await store.projected_from() is None  # and adopts it
        assert await store.nodes(["dataset:ns:a"]) == {}
    finally:
        await store.close()
    async with AsyncGraphDatabase.driver(neo4j_uri, auth=None) as driver:
        records, _, _ = await driver.execute_query("MATCH (s:RippleSchema) RETURN s.version AS v")
        assert records[0]["v"] == cypher.SCHEMA_VERSION == 4
