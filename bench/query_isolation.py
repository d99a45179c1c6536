"""Heavy queries beside acknowledgements: health and single-event POST latency, idle vs under load.

A real `ripple serve` (127.0.0.1, a fresh data directory) holds a fan of `--jobs` jobs, each
reading one `raw` dataset and writing its own, so the impact of `raw` is 2 x jobs nodes (50,000
by default). One probe client then times `GET /api/v1/health` and single-event
`POST /api/v1/lineage` requests, alternating, twice: first with the server idle, then while
`--loaders` clients ask for that 50,000-node impact back to back. Both phases are in one run, on
one server, so the figures sit side by side.

.venv/bin/python -m bench.query_isolation [--jobs 25000] [--probes 200] [--loaders 2]

The server's PID is the only process stopped (SIGTERM). Progress goes to stderr, the markdown
table to stdout.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.http_ingest import HOST, free_port, server_command
from bench.report import ms, percentile, progress

HEALTH = "/api/v1/health"
LINEAGE = "/api/v1/lineage"
IMPACT = "/api/v1/impact"
PRODUCER = "https://github.com/ripple/bench/query_isolation"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent"
RAW = "dataset:db:raw"


def fan_events(jobs: int, offset: int = 0) -> Iterator[dict[str, Any]]:
    """`jobs` COMPLETE events: job i reads db.raw and writes db.out<i>."""
    for i in range(offset, offset + jobs):
        yield {
            "eventTime": "2026-03-01T00:00:00Z",
            "eventType": "COMPLETE",
            "producer": PRODUCER,
            "schemaURL": SCHEMA_URL,
            "run": {"runId": str(uuid.UUID(int=i + 1, version=4))},
            "job": {"namespace": "bench", "name": f"j{i}"},
            "inputs": [{"namespace": "db", "name": "raw"}],
            "outputs": [{"namespace": "db", "name": f"out{i}"}],
        }


@dataclass(slots=True)
class Phase:
    health: list[float] = field(default_factory=list)  # seconds
    post: list[float] = field(default_factory=list)
    impacts: list[float] = field(default_factory=list)  # heavy queries finished meanwhile
    impact_nodes: int = 0
    errors: list[str] = field(default_factory=list)


def probe(base_url: str, count: int, offset: int, phase: Phase) -> None:
    """Alternate health GETs and single-event POSTs, one at a time, timing each."""
    events = fan_events(count, offset)
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for event in events:
            started = time.perf_counter()
            response = client.get(HEALTH)
            phase.health.append(time.perf_counter() - started)
            if response.status_code != 200:
                phase.errors.append(f"health {response.status_code}")
            body = orjson.dumps(event)
            started = time.perf_counter()
            response = client.post(
                LINEAGE, content=body, headers={"content-type": "application/json"}
            )
            phase.post.append(time.perf_counter() - started)
            if response.status_code != 201:
                phase.errors.append(f"post {response.status_code}: {response.text[:200]}")
            time.sleep(0.005)  # a producer's pace, not a flood


def load(base_url: str, stop: Any, results: Any) -> None:
    """Ask for the impact of raw, dataset level, until told to stop; put (status, seconds) of
    each answer on `results`. Runs in its own process: reading a 10 MB answer takes the GIL,
    and the probe's timings must not include the load client's own work."""
    params = {"nodeId": RAW, "columns": "false", "limit": "1000000"}
    with httpx.Client(base_url=base_url, timeout=120) as client:
        while not stop.is_set():
            started = time.perf_counter()
            response = client.get(IMPACT, params=params)
            results.put((response.status_code, time.perf_counter() - started))


def run(jobs: int, probes: int, loaders: int, server_cmd: str | None) -> str:
    with tempfile.TemporaryDirectory(prefix="ripple-isolation-") as tmp:
        data_dir = Path(tmp) / "data"
        events = Path(tmp) / "fan.ndjson"
        with events.open("wb") as fh:
            for event in fan_events(jobs):
                fh.write(orjson.dumps(event) + b"\n")
        ripple = Path(sys.executable).parent / "ripple"
        progress(f"ingesting a fan of {jobs:,} jobs ({2 * jobs + 1:,} nodes)")
        subprocess.run(
            [str(ripple), "ingest", str(events), "--data-dir", str(data_dir)],
            check=True,
            capture_output=True,
        )
        port = free_port()
        command = server_command(data_dir, port, server_cmd)
        assert command is not None, "no server to start"
        log = (Path(tmp) / "server.log").open("wb")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        base_url = f"http://{HOST}:{port}"
        try:
            _wait(base_url, process)
            idle, busy = Phase(), Phase()
            progress(f"idle: {probes} health + {probes} single-event POSTs")
            probe(base_url, probes, jobs, idle)
            progress(f"loaded: the same while {loaders} clients ask for a {2 * jobs:,}-node impact")
            answer = httpx.get(
                base_url + IMPACT,
                params={"nodeId": RAW, "columns": "false", "limit": "1000000"},
                timeout=120,
            ).json()
            busy.impact_nodes = len(answer["nodes"])
            context = multiprocessing.get_context("spawn")
            stop, results = context.Event(), context.Queue()
            clients = [
                context.Process(target=load, args=(base_url, stop, results)) for _ in range(loaders)
            ]
            for client in clients:
                client.start()
            time.sleep(2.0)  # the load clients are up and their heavy queries under way
            probe(base_url, probes, jobs + probes, busy)
            stop.set()
            for client in clients:
                client.join(timeout=180)
            while not results.empty():
                status, took = results.get()
                if status == 200:
                    busy.impacts.append(took)
                else:
                    busy.errors.append(f"impact {status}")
        finally:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
            log.close()
    return report(jobs, loaders, idle, busy)


def _wait(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            if httpx.get(base_url + HEALTH, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not answer health within 60 s")


def report(jobs: int, loaders: int, idle: Phase, busy: Phase) -> str:
    def row(name: str, values: list[float], against: list[float]) -> str:
        return (
            f"| {name} | {ms(percentile(values, 50))} | {ms(percentile(values, 99))} "
            f"| {ms(percentile(against, 50))} | {ms(percentile(against, 99))} |"
        )

    lines = [
        f"### Query isolation: a fan of {jobs:,} jobs, {loaders} clients asking for the "
        f"{busy.impact_nodes:,}-node impact of `{RAW}` back to back",
        "",
        "| request | idle p50 | idle p99 | under heavy queries p50 | p99 |",
        "|---|---:|---:|---:|---:|",
        row("GET /api/v1/health", idle.health, busy.health),
        row("POST /api/v1/lineage (one event)", idle.post, busy.post),
        "",
        f"Heavy queries answered while probing: {len(busy.impacts)} "
        f"(p50 {ms(percentile(busy.impacts, 50))}, max {ms(max(busy.impacts, default=0))}).",
    ]
    errors = idle.errors + busy.errors
    if errors:
        lines.append(f"Errors: {len(errors)} (first: {errors[0]})")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=25_000, help="fan width (nodes: 2 x jobs)")
    parser.add_argument("--probes", type=int, default=200, help="health + POST pairs per phase")
    parser.add_argument("--loaders", type=int, default=2, help="clients asking heavy queries")
    parser.add_argument("--server-cmd", help="start this instead of `ripple serve` (see README)")
    args = parser.parse_args(argv)
    sys.stdout.write(run(args.jobs, args.probes, args.loaders, args.server_cmd))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
