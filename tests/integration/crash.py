"""The crash scenario both durability tests run: concurrent posts, SIGKILL, restart, check."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx

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


def post_until_killed(server: RippleServer, *, at_least: int = 300, wait: float = 30) -> list[str]:
    """Post from four threads; SIGKILL the server once `at_least` posts were acknowledged.

    Returns the run ids of every acknowledged (201) event."""
    acknowledged: list[str] = []
    stop = threading.Event()

    def post_forever(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=wait / 3) as client:
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
    deadline = time.monotonic() + wait
    while len(acknowledged) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    assert len(acknowledged) >= at_least, "the server acknowledged too few events before the kill"
    return acknowledged


def missing_after_restart(
    server: RippleServer, run_ids: list[str], timeout: float = 30
) -> list[str]:
    """Start `server` again and return the acknowledged runs its graph does not hold."""
    server.start(timeout=timeout * 4)
    try:
        with httpx.Client(base_url=server.url, timeout=timeout) as client:
            return [
                run_id
                for run_id in run_ids
                if client.get("/api/v1/nodes", params={"nodeId": f"run:{run_id}"}).status_code
                != 200
            ]
    finally:
        server.stop()
