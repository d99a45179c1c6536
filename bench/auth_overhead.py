"""What tokens cost: single-event POSTs to a server with no token vs one that checks a bearer token.

Two real `ripple serve` processes (127.0.0.1, fresh data directories) run side by side: `open`,
where no token exists (loopback callers act as `local`), and `auth`, where an ingest token was
made with `ripple token create` and every POST carries it. Rounds alternate between them with the
same events and the same client (bench.http_ingest.KeepAliveConnection, `--concurrency` tasks),
so machine drift hits both alike. Reported: events/s and server CPU per event of each, and the
ratio auth/open (the issue's target: at most 5% slower).

.venv/bin/python -m bench.auth_overhead [--events 3000] [--rounds 4] [--concurrency 8]

Only the two server PIDs this script started are stopped (SIGTERM). Progress goes to stderr, the
markdown table to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psutil

from bench.generator import events_for
from bench.http_ingest import HOST, LINEAGE, KeepAliveConnection, free_port, server_command
from bench.http_ingest import _stop as stop
from bench.http_ingest import _wait_healthy as wait_healthy
from bench.report import progress

RIPPLE = Path(sys.executable).parent / "ripple"


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    token: str | None
    rates: list[float] = field(default_factory=list)
    cpu_per_event: list[float] = field(default_factory=list)  # seconds


async def _post_all(port: int, token: str | None, bodies: list[bytes], concurrency: int) -> int:
    cursor = iter(bodies)
    created = 0

    async def worker() -> None:
        nonlocal created
        connection = KeepAliveConnection(HOST, port, token)
        try:
            for body in cursor:
                if await connection.post(LINEAGE, body) == 201:
                    created += 1
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return created


def _round(server: Server, bodies: list[bytes], concurrency: int) -> None:
    proc = psutil.Process(server.process.pid)
    cpu = sum(proc.cpu_times()[:2])
    started = time.perf_counter()
    created = asyncio.run(_post_all(server.port, server.token, bodies, concurrency))
    seconds = time.perf_counter() - started
    if created != len(bodies):
        raise SystemExit(f"{server.name}: only {created} of {len(bodies)} POSTs answered 201")
    server.rates.append(created / seconds)
    server.cpu_per_event.append((sum(proc.cpu_times()[:2]) - cpu) / created)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.auth_overhead")
    parser.add_argument("--events", type=int, default=3000, help="events per round (3000)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per server (4)")
    parser.add_argument("--concurrency", type=int, default=8, help="client tasks (8)")
    args = parser.parse_args(argv)
    _, events = events_for(args.events * args.rounds * 2 + 400, 7)
    bodies = [orjson.dumps(e) for e in events]
    servers: list[Server] = []
    with tempfile.TemporaryDirectory(prefix="ripple-bench-auth-") as tmp:
        try:
            for name in ("open", "auth"):
                data = Path(tmp) / name
                token = None
                if name == "auth":
                    create = [str(RIPPLE), "token", "create", "bench", "--role", "ingest"]
                    made = subprocess.run(
                        [*create, "--data-dir", str(data)],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    token = made.stdout.strip()
                port = free_port()
                command = server_command(data, port, None)
                assert command is not None
                log = (Path(tmp) / f"{name}.log").open("wb")
                process = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ)
                )
                servers.append(Server(name, port, process, token))
                problem = wait_healthy(process, f"http://{HOST}:{port}")
                if problem:
                    raise SystemExit(f"{name}: {problem}")
            progress("auth: warm-up, 200 events each")
            for i, server in enumerate(servers):
                _round(server, bodies[i * 200 : (i + 1) * 200], args.concurrency)
                server.rates.clear()
                server.cpu_per_event.clear()
            offset = 400
            for r in range(args.rounds):
                order = servers if r % 2 == 0 else servers[::-1]
                for server in order:
                    chunk = bodies[offset : offset + args.events]
                    offset += args.events
                    progress(f"auth: round {r + 1}/{args.rounds}, {server.name}")
                    _round(server, chunk, args.concurrency)
        finally:
            for server in servers:
                stop(server.process)
    open_, auth = servers
    rate_ratio = statistics.median(auth.rates) / statistics.median(open_.rates)
    cpu_ratio = statistics.median(auth.cpu_per_event) / statistics.median(open_.cpu_per_event)
    print("| server | events/s (median of rounds) | server CPU per event |")
    print("|---|---|---|")
    for server in servers:
        print(
            f"| {server.name} | {statistics.median(server.rates):,.0f} | "
            f"{statistics.median(server.cpu_per_event) * 1000:.2f} ms |"
        )
    print(
        f"\nauth / open: rate {rate_ratio:.3f} ({(1 - rate_ratio) * 100:+.1f}% slower), "
        f"CPU per event {cpu_ratio:.3f}; {args.rounds} alternating rounds of "
        f"{args.events:,} events, {args.concurrency} client tasks"
    )


if __name__ == "__main__":
    main()
