"""Store factories for the contract suite. Every GraphStore implementation registers here and the
same tests run against each; the Neo4j store joins by adding a factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ripple.graph.embedded import EmbeddedStore
from ripple.graph.neo4j import Neo4jStore
from ripple.graph.store import GraphStore
from tests.neo4j_service import SERVICE

Factory = Callable[[Path], Awaitable[GraphStore]]


async def _embedded(_: Path) -> GraphStore:
    return EmbeddedStore()


async def _embedded_with_snapshot(tmp: Path) -> GraphStore:
    return EmbeddedStore(tmp / "graph.snapshot", snapshot_every=1)


async def _neo4j(_: Path) -> GraphStore:
    return Neo4jStore(SERVICE.uri())  # isolated by the fixture's clear(): one user database


STORES: dict[str, Factory] = {
    "embedded": _embedded,
    "embedded-snapshot": _embedded_with_snapshot,
    "neo4j": _neo4j,
}


@pytest.fixture(params=sorted(STORES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[GraphStore]:
    graph_store = await STORES[request.param](tmp_path)
    await graph_store.open()
    await graph_store.clear()
    try:
        yield graph_store
    finally:
        await graph_store.close()
