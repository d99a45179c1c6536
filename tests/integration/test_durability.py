"""Nothing acknowledged is lost: SIGKILL mid-stream, restart, every 201 is in log and graph;
and `ripple replay` rebuilds the identical graph from the log."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from ripple.config import Settings
from ripple.runtime import open_runtime
from tests.integration.crash import event, missing_after_restart, post_until_killed
from tests.integration.server import RippleServer


def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path: Path) -> None:
    server = RippleServer(tmp_path / "data")
    server.start()
    acknowledged = post_until_killed(server)

    with sqlite3.connect(tmp_path / "data" / "events.db") as db:
        logged = {
            row[0] for row in db.execute("SELECT json_extract(body, '$.run.runId') FROM events")
        }
    assert set(acknowledged) <= logged
    assert missing_after_restart(RippleServer(tmp_path / "data"), acknowledged) == []


async def _dump(data_dir: Path) -> dict[str, Any]:
    runtime = await open_runtime(Settings(data_dir=data_dir), read_only=True)
    try:
        return await runtime.store.dump()
    finally:
        await runtime.close()


def test_replay_rebuilds_identical_graph(tmp_path: Path) -> None:
    from ripple.ingest.demo import demo_events

    source = tmp_path / "events.ndjson"
    import orjson

    docs = [*demo_events(days=3), *(event(i) for i in range(200))]
    source.write_bytes(b"\n".join(orjson.dumps(d) for d in docs))
    data = tmp_path / "data"
    ripple = str(Path(sys.executable).parent / "ripple")
    subprocess.run([ripple, "ingest", "--data-dir", str(data), str(source)], check=True)
    before = asyncio.run(_dump(data))
    assert len(before["nodes"]) > 100
    result = subprocess.run(
        [ripple, "replay", "--data-dir", str(data)], check=True, capture_output=True, text=True
    )
    assert f"Replayed {len(docs)} events" in result.stderr
    assert asyncio.run(_dump(data)) == before
    # And again from nothing but the log: the snapshot removed entirely.
    (data / "graph.snapshot").unlink()
    assert asyncio.run(_dump(data)) == before
