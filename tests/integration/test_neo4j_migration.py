"""An existing Neo4j graph of an older Ripple schema version is migrated when Ripple opens it."""

from __future__ import annotations

from neo4j import AsyncGraphDatabase

from ripple.graph.neo4j import Neo4jStore, cypher
from ripple.graph.store import WalkOptions
from tests.contract.test_store_contract import load_airflow


async def test_version_1_graph_gains_the_job_to_task_mirror_on_open(neo4j_uri: str) -> None:
    store = Neo4jStore(neo4j_uri)
    await store.open()
    await store.clear()
    await load_airflow(store)
    await store.close()
    # What a version-1 Ripple left behind: IMPLEMENTS without its mirror.
    async with AsyncGraphDatabase.driver(neo4j_uri, auth=None) as driver:
        await driver.execute_query("MATCH ()-[m:IMPLEMENTED_BY]->() DELETE m")
        await driver.execute_query("MATCH (s:RippleSchema) SET s.version = 1")

    store = Neo4jStore(neo4j_uri)
    await store.open()
    try:
        closure = await store.walk("dataset:ns:a", "downstream", WalkOptions(columns=False))
        assert "job:ns:etl.notify" in {n.id for n in closure.nodes}
    finally:
        await store.close()
    async with AsyncGraphDatabase.driver(neo4j_uri, auth=None) as driver:
        records, _, _ = await driver.execute_query("MATCH (s:RippleSchema) RETURN s.version AS v")
        assert records[0]["v"] == cypher.SCHEMA_VERSION
        mirrors, _, _ = await driver.execute_query(
            "MATCH ()-[m:IMPLEMENTED_BY]->() RETURN count(m) AS n"
        )
        assert mirrors[0]["n"] == 5
