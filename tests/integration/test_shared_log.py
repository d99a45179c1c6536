"""Several processes on one event log: nothing appended is ever left out of the graph.

Two ingestors stand for two API processes behind a load balancer, sharing one log (two log
instances on one SQLite file, or one real PostgreSQL database) and one graph (one store instance,
or a real Neo4j). Process A appends an event and dies before projecting it; process B then commits
its own. The graph's mark must not move past A's event without it: B's commit applies it too.
With a graph per process, `follow` keeps each graph caught up with the others' appends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
import pytest

from ripple.graph.embedded import EmbeddedStore
from ripple.graph.neo4j import Neo4jStore
from ripple.graph.store import GraphStore, WalkOptions
from ripple.ingest.eventlog import EventLog, SqliteEventLog
from ripple.ingest.pg_eventlog import PostgresEventLog
from ripple.ingest.pipeline import Ingestor, prepare
from tests.contract.test_store_contract import run_event
from tests.neo4j_service import SERVICE as NEO4J
from tests.postgres_service import SERVICE as POSTGRES
from tests.postgres_service import reset_events

NewLog = Callable[[], EventLog]


@pytest.fixture(params=["sqlite+embedded", "postgres+neo4j"])
async def shared(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[NewLog, GraphStore]]:
    if request.param == "sqlite+embedded":
        new_log: NewLog = lambda: SqliteEventLog(tmp_path / "events.db")  # noqa: E731
        store: GraphStore = EmbeddedStore()
    else:
        url = POSTGRES.url()
        reset_events(url)
        new_log = lambda: PostgresEventLog(url)  # noqa: E731
        store = Neo4jStore(NEO4J.uri())
    await store.open()
    await store.clear()
    try:
        yield new_log, store
    finally:
        await store.close()


async def opened(new_log: NewLog) -> EventLog:
    log = new_log()
    await log.open()
    return log


def event(job: str, source: str, target: str) -> bytes:
    return orjson.dumps(run_event(job, [source], [target]))


async def test_a_commit_never_moves_the_mark_past_another_process_unapplied_event(
    shared: tuple[NewLog, GraphStore],
) -> None:
    new_log, store = shared
    log_a, log_b = await opened(new_log), await opened(new_log)
    try:
        b = Ingestor(log_b, store)
        await b.catch_up()
        # A appended (and acknowledged) its event, then died before projecting it.
        [seq_a] = await log_a.append([event("a_job", "raw", "staged")])
        outcomes = await b.commit([prepare(orjson.loads(event("b_job", "staged", "mart")))])
        assert outcomes[0].seq == seq_a + 1
        assert await store.projected_through() == seq_a + 1
        closure = await store.walk("dataset:ns:raw", "downstream", WalkOptions(columns=False))
        assert {"job:ns:a_job", "job:ns:b_job", "dataset:ns:mart"} <= {n.id for n in closure.nodes}
        # ... and a restart of either process finds nothing left to catch up.
        assert await Ingestor(log_a, store).catch_up() == 0
    finally:
        await log_a.close()
        await log_b.close()


async def test_with_a_graph_per_process_follow_brings_in_the_others_events(tmp_path: Path) -> None:
    log_a, log_b = SqliteEventLog(tmp_path / "e.db"), SqliteEventLog(tmp_path / "e.db")
    graph_a, graph_b = EmbeddedStore(), EmbeddedStore()
    for part in (log_a, log_b, graph_a, graph_b):
        await part.open()
    a, b = Ingestor(log_a, graph_a), Ingestor(log_b, graph_b)
    follower = asyncio.create_task(b.follow(interval=0.05))
    try:
        await a.commit([prepare(orjson.loads(event("a_job", "raw", "staged")))])
        await _eventually(lambda: _has(graph_b, "job:ns:a_job"))
    finally:
        follower.cancel()
        for part in (log_a, log_b, graph_a, graph_b):
            await part.close()


async def _has(store: GraphStore, node_id: str) -> bool:
    return node_id in await store.nodes([node_id])


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not caught up in time"
        await asyncio.sleep(0.05)
