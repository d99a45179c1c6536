"""Nothing acknowledged is lost with the log in PostgreSQL and the graph in Neo4j: SIGKILL
mid-stream, restart, every 201 is in the events table and, after the start-up catch-up from the
store's `projected_through()`, in the graph."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.integration.crash import missing_after_restart, post_until_killed
from tests.integration.server import RippleServer
from tests.neo4j_service import SERVICE as NEO4J
from tests.neo4j_service import clear_graph
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


def test_sigkill_mid_stream_on_postgres_and_neo4j_loses_nothing_acknowledged(
    tmp_path: Path, fresh_database: str
) -> None:
    neo4j_uri = NEO4J.uri()
    asyncio.run(clear_graph(neo4j_uri))  # the fresh log starts again at seq 1
    env = {"RIPPLE_DATABASE_URL": fresh_database, "RIPPLE_NEO4J_URI": neo4j_uri}
    server = RippleServer(tmp_path / "data", env=env)
    server.start()
    acknowledged = post_until_killed(server, wait=60)

    with psycopg.connect(fresh_database) as conn:
        rows = conn.execute(
            "SELECT convert_from(body, 'UTF8')::jsonb #>> '{run,runId}' FROM events"
        ).fetchall()
    assert set(acknowledged) <= {row[0] for row in rows}

    assert missing_after_restart(RippleServer(tmp_path / "data", env=env), acknowledged) == []
