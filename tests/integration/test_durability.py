"""Nothing acknowledged is lost: SIGKILL mid-stream, restart, every 201 is in log and graph;
and `ripple replay` rebuilds the identical graph from the log."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from ripple.config import Settings
from ripple.runtime import open_runtime
from tests.integration.server import RippleServer


def event(i: int) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": f"2024-01-01T00:00:{i % 60:02d}Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "crash", "name": f"job_{i % 17}"},
        "inputs": [{"namespace": "crash", "name": f"in_{i % 13}"}],
        "outputs": [{"namespace": "crash", "name": f"out_{i % 11}"}],
    }


def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path: Path) -> None:
    server = RippleServer(tmp_path / "data")
    server.start()
    acknowledged: list[str] = []
    stop = threading.Event()

    def post_forever(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=5) as client:
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
    deadline = time.monotonic() + 30
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(acknowledged) >= 300, "the server acknowledged too few events before the kill"

    with sqlite3.connect(tmp_path / "data" / "events.db") as db:
        logged = {
            row[0] for row in db.execute("SELECT json_extract(body, '$.run.runId') FROM events")
        }
    assert set(acknowledged) <= logged

    restarted = RippleServer(tmp_path / "data")
    restarted.start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=10) as client:
            missing = [
                run_id
                for run_id in acknowledged
                if client.get("/api/v1/nodes", params={"nodeId": f"run:{run_id}"}).status_code
                != 200
            ]
        assert missing == []
    finally:
        restarted.stop()


async def _dump(data_dir: Path) -> dict[str, Any]:
    runtime = await open_runtime(Settings(data_dir=data_dir), read_only=True)
    try:
        return await runtime.store.dump()
    finally:
        await runtime.close()


def test_replay_rebuilds_identical_graph(tmp_path: Path) -> None:
    from ripple.demo import demo_events

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
