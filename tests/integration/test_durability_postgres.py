"""Nothing acknowledged is lost with the log in PostgreSQL and the graph in Neo4j: SIGKILL
mid-stream, restart, every 201 is in the events table and, after the start-up catch-up from the
store's `projected_through()`, in the graph."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from ripple.graph.neo4j import Neo4jStore
from tests.integration.server import RippleServer
from tests.integration.test_durability import event
from tests.neo4j_service import SERVICE as NEO4J
from tests.postgres_service import SERVICE as POSTGRES


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """A database of its own, so the log starts empty whatever other tests appended."""
    url = POSTGRES.url()
    name = f"ripple_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


async def _clear_graph(uri: str) -> None:
    """An empty graph (its projection watermark too): the fresh log starts again at seq 1."""
    store = Neo4jStore(uri)
    await store.open()
    try:
        await store.clear()
    finally:
        await store.close()


def test_sigkill_mid_stream_on_postgres_and_neo4j_loses_nothing_acknowledged(
    tmp_path: Path, fresh_database: str
) -> None:
    neo4j_uri = NEO4J.uri()
    asyncio.run(_clear_graph(neo4j_uri))
    env = {"RIPPLE_DATABASE_URL": fresh_database, "RIPPLE_NEO4J_URI": neo4j_uri}
    server = RippleServer(tmp_path / "data", env=env)
    server.start()
    acknowledged: list[str] = []
    stop = threading.Event()

    def post_forever(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            i = worker
            while not stop.is_set():
                doc = event(i)
                try:
                    response = client.post("/api/v1/lineage", json=doc)
                except httpx.HTTPError:
                    return  # the server died under us: this one was never acknowledged
                if response.status_code == 201:
                    acknowledged.append(doc["run"]["runId"])
                i += 4

    threads = [threading.Thread(target=post_forever, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    assert len(acknowledged) >= 300, "the server acknowledged too few events before the kill"

    with psycopg.connect(fresh_database) as conn:
        rows = conn.execute(
            "SELECT convert_from(body, 'UTF8')::jsonb #>> '{run,runId}' FROM events"
        ).fetchall()
    assert set(acknowledged) <= {row[0] for row in rows}

    restarted = RippleServer(tmp_path / "data", env=env)
    restarted.start(timeout=120)
    try:
        with httpx.Client(base_url=restarted.url, timeout=30) as client:
            missing = [
                run_id
                for run_id in acknowledged
                if client.get("/api/v1/nodes", params={"nodeId": f"run:{run_id}"}).status_code
                != 200
            ]
        assert missing == []
    finally:
        restarted.stop()
