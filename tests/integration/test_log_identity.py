"""A graph knows which event log it was projected from. Its progress mark counts that log's
sequence numbers, so against another log (the log file deleted and started afresh, another
database) catching up would skip events or claim ones never applied: Ripple refuses to start on
such a pair, says to run `ripple replay`, and replay rebuilds the graph from the log it is given.
Embedded store with its snapshot, and a real Neo4j."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ripple.config import Settings
from ripple.errors import ConfigError
from ripple.ingest.demo import demo_events
from ripple.ingest.eventlog import SqliteEventLog, log_identity
from ripple.ingest.pipeline import prepare
from ripple.runtime import Runtime, open_runtime
from tests.neo4j_service import SERVICE as NEO4J
from tests.neo4j_service import clear_graph


@pytest.fixture(params=["embedded", "neo4j"])
async def graph_uri(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """None: the embedded store; else a real Neo4j, its graph cleared."""
    if request.param == "embedded":
        yield None
        return
    uri = NEO4J.uri()
    await clear_graph(uri)
    yield uri


async def _ingest(runtime: Runtime, count: int) -> None:
    events = demo_events()[:count]
    await runtime.ingestor.commit([prepare(event) for event in events])


async def test_a_graph_from_another_log_is_refused_until_replayed(
    tmp_path: Path, graph_uri: str | None
) -> None:
    first = Settings(data_dir=tmp_path / "first", database_url=None, neo4j_uri=graph_uri)
    runtime = await open_runtime(first)
    await _ingest(runtime, 6)
    assert await runtime.store.projected_from() == await log_identity(runtime.log)
    await runtime.close()

    if graph_uri is None:
        # The embedded graph lives beside its log: the log is deleted and starts afresh.
        for path in (first.data_dir / "events.db").parent.glob("events.db*"):
            path.unlink()
        other = first
    else:
        # Another data directory (another log) pointed at the same Neo4j graph.
        other = Settings(data_dir=tmp_path / "other", database_url=None, neo4j_uri=graph_uri)
    with pytest.raises(ConfigError, match="ripple replay"):
        await open_runtime(other)

    rebuilt = await open_runtime(other, replaying=True)
    try:
        assert await rebuilt.ingestor.replay() == 0  # the new log is empty
        assert (await rebuilt.store.counts())["dataset"] == 0
    finally:
        await rebuilt.close()
    reopened = await open_runtime(other)  # now it belongs to this log
    try:
        await _ingest(reopened, 2)
        assert await reopened.store.projected_through() == 2
    finally:
        await reopened.close()


async def test_a_graph_that_names_no_log_adopts_the_configured_one(tmp_path: Path) -> None:
    """Graphs from before logs had identities (and new, empty ones) take the log's name."""
    settings = Settings(data_dir=tmp_path / "data", database_url=None, neo4j_uri=None)
    runtime = await open_runtime(settings)
    await _ingest(runtime, 4)
    runtime.store.graph.log = None  # type: ignore[attr-defined]  # as an older snapshot reads
    await runtime.close()
    reopened = await open_runtime(settings)
    try:
        assert await reopened.store.projected_from() == await log_identity(reopened.log)
        assert (await reopened.store.counts())["dataset"] > 0
    finally:
        await reopened.close()


async def test_a_log_keeps_its_name_and_two_logs_have_two(tmp_path: Path) -> None:
    names = []
    for path in (tmp_path / "a.db", tmp_path / "a.db", tmp_path / "b.db"):
        log = SqliteEventLog(path)
        await log.open()
        names.append(await log_identity(log))
        await log.close()
    assert names[0] == names[1] != names[2]
