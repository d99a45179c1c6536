"""A 50,000-node query does not hold up a real `ripple serve`'s other requests.

While an impact query over a fan of 25,000 jobs runs, `GET /api/v1/health` answers and a
single-event `POST /api/v1/lineage` is acknowledged (and a later impact sees it): the walk runs
in a worker thread beside the ingest on the event loop. The check is relative — each probe
answers in a small fraction of the heavy query's time — because the loop used to be held for
the whole walk, so every probe then took about as long as the query itself."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from bench.query_isolation import fan_events
from tests.integration.server import RippleServer

JOBS = 25_000
RAW = "dataset:db:raw"
HEAVY = {"nodeId": RAW, "columns": "false", "limit": "1000000"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RippleServer]:
    root = tmp_path_factory.mktemp("isolation")
    events = root / "fan.ndjson"
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in fan_events(JOBS)))
    ripple = Path(sys.executable).parent / "ripple"
    subprocess.run(
        [str(ripple), "ingest", str(events), "--data-dir", str(root / "data")],
        check=True,
        capture_output=True,
    )
    server = RippleServer(root / "data")
    server.start(timeout=60)
    try:
        yield server
    finally:
        server.stop()


def test_health_and_acknowledgements_do_not_wait_for_a_heavy_query(server: RippleServer) -> None:
    with httpx.Client(base_url=server.url, timeout=120) as client:
        assert len(client.get("/api/v1/impact", params=HEAVY).json()["nodes"]) == 2 * JOBS
    for round_ in range(3):
        finished: list[float] = []  # when each heavy query's answer was read

        def ask(finished: list[float] = finished) -> None:
            with httpx.Client(base_url=server.url, timeout=120) as client:
                response = client.get("/api/v1/impact", params=HEAVY)
                finished.append(time.perf_counter())
                assert len(response.json()["nodes"]) >= 2 * JOBS

        heavy = [threading.Thread(target=ask) for _ in range(2)]
        with httpx.Client(base_url=server.url, timeout=120) as client:
            client.get("/api/v1/health")  # connected before the heavy queries start
            for thread in heavy:
                thread.start()
            time.sleep(0.1)  # both are being walked
            assert client.get("/api/v1/health").status_code == 200
            health_done = time.perf_counter()
            (event,) = fan_events(1, JOBS + round_)
            assert client.post("/api/v1/lineage", json=event).status_code == 201
            post_done = time.perf_counter()
        for thread in heavy:
            thread.join()
        # Ordering, not a timing threshold: with the walks on the event loop, each probe was
        # answered only after the first heavy query had been walked and answered.
        assert len(finished) == 2
        assert health_done < min(finished), (health_done, finished)
        assert post_done < min(finished), (post_done, finished)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        after = client.get("/api/v1/impact", params=HEAVY).json()
    assert len(after["nodes"]) == 2 * (JOBS + 3) and after["partial"] is False
