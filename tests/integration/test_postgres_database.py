"""With RIPPLE_DATABASE_URL, the event log and the remediation state share one connection pool
(ripple/ingest/database.py): opened with the runtime, closed with it."""

from __future__ import annotations

from pathlib import Path

import psycopg

from ripple.config import Settings
from ripple.ingest.demo import demo_events
from ripple.ingest.pg_eventlog import PostgresEventLog
from ripple.remediation.pg_state import PostgresRemediationState
from ripple.runtime import open_runtime
from tests.postgres_service import SERVICE as POSTGRES
from tests.postgres_service import reset_events


async def test_the_log_and_the_remediation_state_share_one_pool(tmp_path: Path) -> None:
    url = POSTGRES.url()
    reset_events(url)
    settings = Settings(data_dir=tmp_path, database_url=url, neo4j_uri=None)
    runtime = await open_runtime(settings)
    try:
        log, state = runtime.log, runtime.remediation
        assert isinstance(log, PostgresEventLog) and isinstance(state, PostgresRemediationState)
        assert log.database is state.database and log.database.users == 2
        # Both work through it: an event logged, a quarantine entry kept.
        outcomes = await runtime.ingestor.ingest(demo_events()[:1])
        assert outcomes[0].accepted
        await state.append_audit("test", "shared.pool", detail="one pool")
        assert await log.last_seq() >= 1
    finally:
        await runtime.close()
    assert log.database.users == 0
    with psycopg.connect(url) as conn:  # what was written through the shared pool is there
        audit = conn.execute(
            "SELECT count(*) FROM backfill_audit WHERE action = 'shared.pool'"
        ).fetchone()
    assert audit is not None and audit[0] >= 1
