"""Retraction against real logs and stores: a tombstone keeps its events out of every rebuild.

The log is SQLite or a real PostgreSQL, the graph embedded or a real Neo4j. A retraction must hold
after replay, after a crash between the tombstone and the rebuild, in another process that follows
the same log, and across `ripple serve` being killed and restarted.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import orjson
import pytest

from ripple.graph.embedded import EmbeddedStore
from ripple.graph.neo4j import Neo4jStore
from ripple.graph.store import GraphStore
from ripple.ingest import retractions
from ripple.ingest.eventlog import EventLog, SqliteEventLog
from ripple.ingest.pg_eventlog import PostgresEventLog
from ripple.ingest.pipeline import Ingestor, prepare_raw
from tests.http import JSON
from tests.integration.server import RippleServer
from tests.neo4j_service import SERVICE as NEO4J
from tests.postgres_service import SERVICE as POSTGRES
from tests.postgres_service import reset_events

NewLog = Callable[[], EventLog]
AT = "2026-01-01T00:00:00+00:00"


def event(job: str, run_id: str, output: str) -> bytes:
    return orjson.dumps(
        {
            "eventType": "COMPLETE",
            "eventTime": "2024-05-01T10:00:00Z",
            "run": {"runId": run_id},
            "job": {"namespace": "etl", "name": job},
            "inputs": [{"namespace": "pg", "name": "raw"}],
            "outputs": [{"namespace": "pg", "name": output}],
            "producer": "tests",
        }
    )


@pytest.fixture(params=["sqlite+embedded", "postgres+embedded", "postgres+neo4j"])
async def setup(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[NewLog, GraphStore]]:
    if request.param == "sqlite+embedded":
        new_log: NewLog = lambda: SqliteEventLog(tmp_path / "events.db")  # noqa: E731
    else:
        url = POSTGRES.url()
        reset_events(url)
        new_log = lambda: PostgresEventLog(url)  # noqa: E731
    store: GraphStore = Neo4jStore(NEO4J.uri()) if "neo4j" in request.param else EmbeddedStore()
    await store.open()
    await store.clear()
    try:
        yield new_log, store
    finally:
        await store.close()


async def started(new_log: NewLog, store: GraphStore) -> Ingestor:
    log = new_log()
    await log.open()
    ingestor = Ingestor(log, store)
    await ingestor.adopt_log()
    await ingestor.catch_up()
    return ingestor


async def has(store: GraphStore, node_id: str) -> bool:
    return node_id in await store.nodes([node_id])


async def test_retracted_events_stay_out_of_replay_and_a_new_graph(
    setup: tuple[NewLog, GraphStore],
) -> None:
    new_log, store = setup
    ingestor = await started(new_log, store)
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    await ingestor.commit(
        [prepare_raw(event("load", good, "a")), prepare_raw(event("evil", bad, "b"))]
    )
    retraction, created = await ingestor.retract(
        run_id=uuid.UUID(bad), seq=None, actor="admin", reason="forged", at=AT
    )
    assert created and retraction.seqs == (2,) and retraction.id == 3
    assert not await has(store, f"run:{bad}") and not await has(store, "dataset:pg:b")
    assert await has(store, f"run:{good}")
    again, created = await ingestor.retract(
        run_id=uuid.UUID(bad), seq=None, actor="admin", reason="again", at=AT
    )
    assert (again, created) == (retraction, False)
    assert await ingestor.replay() == 3
    assert not await has(store, "job:etl:evil") and await has(store, "job:etl:load")
    await ingestor.log.close()

    await store.clear()  # another process, a graph of its own built from the log alone
    other = await started(new_log, store)
    assert not await has(store, "job:etl:evil") and await has(store, "job:etl:load")
    assert [r.id for r in await other.retractions()] == [3]
    await other.log.close()


async def test_a_tombstone_met_in_catch_up_rebuilds_the_graph(
    setup: tuple[NewLog, GraphStore],
) -> None:
    """A crash between appending the tombstone and rebuilding, or another process that
    retracted: catching up with the log takes the events back out of this graph."""
    new_log, store = setup
    ingestor = await started(new_log, store)
    bad = str(uuid.uuid4())
    await ingestor.commit([prepare_raw(event("evil", bad, "b"))])
    await ingestor.commit([prepare_raw(event("load", str(uuid.uuid4()), "a"))])
    assert await has(store, "job:etl:evil")
    await ingestor.log.append([retractions.encode([1], bad, "admin", "forged", AT)])  # no rebuild

    restarted = await started(new_log, store)
    assert not await has(store, "job:etl:evil") and await has(store, "job:etl:load")
    assert await store.projected_through() == 3
    # and a commit whose gap holds a tombstone rebuilds too
    await ingestor.log.append([retractions.encode([2], None, "admin", "also bad", AT)])
    await restarted.commit([prepare_raw(event("late", str(uuid.uuid4()), "c"))])
    assert not await has(store, "job:etl:load") and await has(store, "job:etl:late")
    await ingestor.log.close()
    await restarted.log.close()


async def test_replay_of_a_log_from_before_the_run_check_never_fails(
    setup: tuple[NewLog, GraphStore],
) -> None:
    """Events accepted before runIds were bound to one job replay as they did."""
    new_log, store = setup
    ingestor = await started(new_log, store)
    run_id = str(uuid.uuid4())
    await ingestor.log.append([event("first", run_id, "a"), event("second", run_id, "b")])
    assert await ingestor.replay() == 2
    assert await has(store, "job:etl:first") and await has(store, "job:etl:second")
    await ingestor.log.close()


async def test_find_searches_bodies(setup: tuple[NewLog, GraphStore]) -> None:
    new_log, _ = setup
    log = new_log()
    await log.open()
    await log.append([b'{"x": "needle"}', b'{"y": 1}', b'{"z": "a needle"}'])
    assert await log.find(b"needle") == [(1, b'{"x": "needle"}'), (3, b'{"z": "a needle"}')]
    assert await log.find(b"absent") == []
    await log.close()


@pytest.mark.parametrize("log_in", ["sqlite", "postgres"])
def test_a_retraction_survives_kill_and_restart_of_ripple_serve(
    tmp_path: Path, log_in: str
) -> None:
    env = {}
    if log_in == "postgres":
        url = POSTGRES.url()
        reset_events(url)
        env["RIPPLE_DATABASE_URL"] = url
    server = RippleServer(tmp_path / "data", env=env)
    server.start()
    bad = str(uuid.uuid4())
    try:
        with httpx.Client(base_url=server.url, timeout=30, headers=JSON) as client:
            for body in (event("load", str(uuid.uuid4()), "a"), event("evil", bad, "b")):
                assert client.post("/api/v1/lineage", content=body).status_code == 201
            done = client.post("/api/v1/admin/retractions", json={"runId": bad, "reason": "forged"})
            assert done.status_code == 200, done.text
            assert client.get("/api/v1/nodes", params={"nodeId": "job:etl:evil"}).status_code == 404
        server.kill()  # no snapshot written: the graph comes back from the log alone
        server.start()
        with httpx.Client(base_url=server.url, timeout=30, headers=JSON) as client:
            assert client.get("/api/v1/nodes", params={"nodeId": "job:etl:evil"}).status_code == 404
            assert client.get("/api/v1/nodes", params={"nodeId": "job:etl:load"}).status_code == 200
            listed = client.get("/api/v1/admin/retractions").json()["retractions"]
            assert [r["runId"] for r in listed] == [bad]
    finally:
        server.stop()
