"""Other producers' latency while hostile batches are being rejected (issue 19).

    .venv/bin/python -m bench.hostile_ingest [--seconds 20] [--attackers 2] [--out FILE.md]

One `ripple serve` (127.0.0.1, fresh data directory, default limits). Two probes run through
both phases: one POSTs a single generated event to /api/v1/lineage at a time, the other GETs
/api/v1/health, each pausing 20 ms between requests. Phase "idle": the probes alone. Phase
"hostile": the probes while `--attackers` clients POST worst-case batches back to back, in
turn: 10,000 lines (the item limit) that each reach the event parser and fail there, filling
the 5 MiB body limit (answered 200, every line rejected); 5 MiB of `1\\n` (the batch that held
the event loop 42 s before the limits: now a 413); a 5 MiB JSON array of `1`s (413). Reported:
p50 / p99 / max of each probe in each phase, and the ratio hostile / idle measured side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson

from bench.generator import events_for
from bench.http_ingest import (
    HOST,
    KeepAliveConnection,
    _stop,
    _wait_healthy,
    free_port,
    server_command,
)
from bench.report import ms, percentile, progress

RESULTS = Path(__file__).resolve().parent / "results"
PAUSE = 0.02  # seconds between a probe's requests
LIMIT = 5 * 1024 * 1024  # RIPPLE_MAX_BODY_BYTES' default


def worst_batches() -> dict[str, bytes]:
    line = (
        b'{"eventTime": "2024-01-01T00:00:00Z", "job": {"namespace": "x"}, "pad": "'
        + b"x" * 440
        + b'"}'
    )
    return {
        "10,000 lines failing in the parser": b"\n".join([line] * 10_000),
        "5 MiB of `1\\n`": b"1\n" * (LIMIT // 2),
        "5 MiB JSON array of `1`": b"[" + b",".join([b"1"] * (LIMIT // 2 - 1)) + b"]",
    }


async def _health(port: int) -> float:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        sent = time.perf_counter()
        writer.write(f"GET /api/v1/health HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        assert head.startswith(b"HTTP/1.1 200"), head
        return time.perf_counter() - sent
    finally:
        writer.close()


async def _probe_health(port: int, stop: asyncio.Event, out: list[float]) -> None:
    while not stop.is_set():
        out.append(await _health(port))
        await asyncio.sleep(PAUSE)


async def _probe_post(
    port: int, bodies: list[bytes], stop: asyncio.Event, out: list[float]
) -> None:
    connection = KeepAliveConnection(HOST, port)
    try:
        for body in bodies:
            if stop.is_set():
                return
            sent = time.perf_counter()
            status = await connection.post("/api/v1/lineage", body)
            assert status == 201, status
            out.append(time.perf_counter() - sent)
            await asyncio.sleep(PAUSE)
    finally:
        await connection.close()


async def _attack(
    port: int, batches: dict[str, bytes], stop: asyncio.Event, seen: dict[str, list[float]],
    statuses: Counter[str],
) -> None:  # fmt: skip
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", timeout=120) as client:
        while not stop.is_set():
            for name, body in batches.items():
                if stop.is_set():
                    return
                sent = time.perf_counter()
                answer = await client.post("/api/v1/lineage/batch", content=body)
                seen.setdefault(name, []).append(time.perf_counter() - sent)
                statuses[f"{name}: {answer.status_code} ({len(answer.content):,} bytes)"] += 1


async def _phase(
    port: int, seconds: float, bodies: list[bytes], attackers: int
) -> dict[str, object]:
    stop = asyncio.Event()
    health: list[float] = []
    posts: list[float] = []
    batches: dict[str, list[float]] = {}
    statuses: Counter[str] = Counter()
    tasks = [
        asyncio.create_task(_probe_health(port, stop, health)),
        asyncio.create_task(_probe_post(port, bodies, stop, posts)),
    ]
    if attackers:
        worst = worst_batches()
        tasks += [
            asyncio.create_task(_attack(port, worst, stop, batches, statuses))
            for _ in range(attackers)
        ]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    return {"health": health, "posts": posts, "batches": batches, "statuses": statuses}


def _row(name: str, idle: list[float], hostile: list[float]) -> str:
    cells = []
    for values in (idle, hostile):
        cells.append(
            f"{ms(percentile(values, 50))} / {ms(percentile(values, 99))} / {ms(max(values))}"
        )
    ratio = percentile(hostile, 99) / percentile(idle, 99)
    return f"| {name} | {len(idle)} / {len(hostile)} | {cells[0]} | {cells[1]} | {ratio:.1f}x |"


def run(seconds: float, attackers: int, out: Path) -> str:
    _, events = events_for(4_000, 3)
    bodies = [orjson.dumps(event) for event in events]
    with tempfile.TemporaryDirectory(prefix="ripple-bench-hostile-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        port = free_port()
        command = server_command(data_dir, port, None)
        assert command is not None
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp, start_new_session=True,
                env={**os.environ, "RIPPLE_DATA_DIR": str(data_dir)},
            )  # fmt: skip
        try:
            problem = _wait_healthy(process, f"http://{HOST}:{port}")
            assert problem is None, problem
            progress(f"hostile: idle phase, {seconds:.0f} s")
            idle = asyncio.run(_phase(port, seconds, bodies[:2_000], 0))
            progress(f"hostile: hostile phase, {seconds:.0f} s, {attackers} attackers")
            hostile = asyncio.run(_phase(port, seconds, bodies[2_000:], attackers))
        finally:
            stopped = _stop(process)
    progress(f"hostile: server {stopped}")
    batches: dict[str, list[float]] = hostile["batches"]  # type: ignore[assignment]
    statuses: Counter[str] = hostile["statuses"]  # type: ignore[assignment]
    lines = [
        "# Latency of other producers while hostile batches are rejected (bench/hostile_ingest.py)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; `{' '.join(command[1:2])}` with default limits; "
        f"{seconds:.0f} s per phase, {attackers} attacking clients, probes pausing "
        f"{PAUSE * 1000:.0f} ms between requests; commit {_commit()}.",
        "",
        "| probe | requests idle / hostile | idle p50 / p99 / max | hostile p50 / p99 / max "
        "| p99 ratio |",
        "| --- | --- | --- | --- | --- |",
        _row("single-event POST /api/v1/lineage (201)", idle["posts"], hostile["posts"]),  # type: ignore[arg-type]
        _row("GET /api/v1/health", idle["health"], hostile["health"]),  # type: ignore[arg-type]
        "",
        "Hostile batches (answer time, median / max):",
        "",
        *(
            f"- {name}: {len(times)} sent, {ms(percentile(times, 50))} / {ms(max(times))}"
            for name, times in batches.items()
        ),
        "",
        "Answers: " + "; ".join(f"{count} x {what}" for what, count in sorted(statuses.items())),
        "",
    ]
    text = "\n".join(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def _commit() -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--attackers", type=int, default=2, help="clients posting bad batches")
    parser.add_argument("--out", type=Path, default=RESULTS / "hostile_ingest.md")
    args = parser.parse_args()
    print(run(args.seconds, args.attackers, args.out))
    sys.exit(0)


if __name__ == "__main__":
    main()
