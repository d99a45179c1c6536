"""Nothing acknowledged is lost: SIGKILL mid-stream, restart, every 201 is in log and graph;
and `ripple replay` rebuilds the identical graph from the log."""

from __future__ import annotations

import asyncio
import gzip
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

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


BAD_LINES = [b"1", b'"x"', b"null", b"{broken", b'{"eventTime": "2024-01-01T00:00:00Z"}']


def _mixed_batch(start: int, zipped: bool) -> tuple[bytes, list[str], list[int]]:
    """Ten good events among bad lines; as plain NDJSON, or gzip with one member per line.

    Returns the body, the good events' run ids, and their indexes in the batch."""
    lines: list[bytes] = []
    run_ids: list[str] = []
    indexes: list[int] = []
    for i in range(10):
        lines.append(BAD_LINES[i % len(BAD_LINES)])
        doc = event(start + i)
        indexes.append(len(lines))
        lines.append(orjson.dumps(doc))
        run_ids.append(doc["run"]["runId"])
    if zipped:
        return b"".join(gzip.compress(line + b"\n") for line in lines), run_ids, indexes
    return b"\n".join(lines), run_ids, indexes


def test_sigkill_during_batches_with_bad_lines_and_gzip_loses_no_good_event(
    tmp_path: Path,
) -> None:
    """Batches mixing bad lines with good events, plain and as multi-member gzip streams,
    from four threads; SIGKILL; every good event a 200 answer accepted is there after restart."""
    server = RippleServer(tmp_path / "data")
    server.start()
    acknowledged: list[str] = []
    stop = threading.Event()

    def post_forever(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            n = worker
            while not stop.is_set():
                zipped = n % 2 == 1
                body, run_ids, indexes = _mixed_batch(n * 10, zipped)
                headers = {"Content-Type": "application/x-ndjson"}
                if zipped:
                    headers["Content-Encoding"] = "gzip"
                try:
                    answer = client.post("/api/v1/lineage/batch", content=body, headers=headers)
                except httpx.HTTPError:
                    return  # the server died under us: this batch was never acknowledged
                if answer.status_code == 200:
                    results = {r["index"]: r for r in answer.json()["results"]}
                    assert all(results[i]["status"] == "accepted" for i in indexes)
                    acknowledged.extend(run_ids)
                n += 4

    threads = [threading.Thread(target=post_forever, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 600 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    assert len(acknowledged) >= 600, "too few batches were acknowledged before the kill"
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
