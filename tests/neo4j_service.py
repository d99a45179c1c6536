"""The real Neo4j the tests run against (see tests/script_service.py for how it is had):
`RIPPLE_TEST_NEO4J_URI`, or a private server from `scripts/neo4j` on free ports."""

from __future__ import annotations

from pathlib import Path

from neo4j import GraphDatabase
from neo4j.exceptions import DriverError, Neo4jError

from tests.integration.server import free_port
from tests.script_service import ScriptService


class Neo4jService(ScriptService):
    name = "Neo4j"
    script = "neo4j"
    configured_by = "RIPPLE_TEST_NEO4J_URI"
    how_to = (
        "start one with `scripts/neo4j start` and set RIPPLE_TEST_NEO4J_URI=bolt://127.0.0.1:7687, "
        "or install Java 17 and Maven so the tests can start it themselves"
    )
    failures = (OSError, RuntimeError, DriverError, Neo4jError)

    def private_env(self, home: Path) -> tuple[dict[str, str], str]:
        bolt, http = free_port(), free_port()
        settings = {
            "RIPPLE_NEO4J_HOME": str(home),
            "RIPPLE_NEO4J_BOLT_PORT": str(bolt),
            "RIPPLE_NEO4J_HTTP_PORT": str(http),
        }
        return settings, f"bolt://127.0.0.1:{bolt}"

    def check(self, address: str) -> None:
        with GraphDatabase.driver(address, auth=None, notifications_min_severity="OFF") as driver:
            driver.verify_connectivity()

    def uri(self) -> str:
        """The Bolt URI of a server that answers; fails (CI) or skips the calling test."""
        return self.address()


async def clear_graph(uri: str) -> None:
    """An empty graph, its progress mark and log name too: for a test that starts a fresh event
    log against the one Neo4j database the tests share."""
    from ripple.graph.neo4j import Neo4jStore

    store = Neo4jStore(uri)
    await store.open()
    try:
        await store.clear()
    finally:
        await store.close()


SERVICE = Neo4jService()
