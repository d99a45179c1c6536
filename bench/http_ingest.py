"""Figure b: single-event POSTs to a running `ripple serve`, and nothing lost.

The server runs as a subprocess on 127.0.0.1 with a fresh data directory. A client with a fixed
number of concurrent tasks POSTs one generated event per request to /api/v1/lineage, bounded in
count and in time. Afterwards the server is stopped (SIGTERM to its PID) and the rows of
<data-dir>/events.db are counted: every 201 must be there.

networkx has no server, so this figure stands alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import psutil

from bench.generator import events_for
from bench.report import Figure, Section, ms, percentile, progress

HOST = "127.0.0.1"
LINEAGE = "/api/v1/lineage"
HEALTH = "/api/v1/health"
TARGET_RATE = 500  # events/s
TARGET_P99 = 0.050  # seconds
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 30.0
JSON = {"content-type": "application/json"}


@dataclass(slots=True)
class Load:
    """What the client saw."""

    latencies: list[float] = field(default_factory=list)  # seconds, one per answered request
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def created(self) -> int:
        return self.statuses["201"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_command(data_dir: Path, port: int, template: str | None) -> list[str] | None:
    """The command that starts Ripple's API on 127.0.0.1:port, or None if there is none yet."""
    if template:
        return shlex.split(
            template.format(data_dir=data_dir, port=port, host=HOST, python=sys.executable)
        )
    if importlib.util.find_spec("ripple.cli") is not None:
        ripple = Path(sys.executable).parent / "ripple"
        return [
            str(ripple),
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            "--host",
            HOST,
        ]
    if importlib.util.find_spec("ripple.api.app") is not None:
        return [
            sys.executable, "-m", "uvicorn", "--factory", "ripple.api.app:create_app",
            "--host", HOST, "--port", str(port), "--no-access-log",
        ]  # fmt: skip
    return None


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str) -> str | None:
    """None once GET /api/v1/health answers 200; otherwise why not."""
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return f"the server exited with code {process.returncode} before it was healthy"
            try:
                if client.get(HEALTH).status_code == 200:
                    return None
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    return f"GET {HEALTH} did not answer 200 within {START_TIMEOUT:.0f} s"


def _stop(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is not None:
        return f"had already exited with status {process.returncode}"
    sent = time.perf_counter()
    os.kill(process.pid, signal.SIGTERM)
    try:
        code = process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        return "did not stop within 20 s of SIGTERM and was killed (SIGKILL)"
    return f"stopped {time.perf_counter() - sent:.1f} s after SIGTERM (exit status {code})"


def _logged_events(data_dir: Path) -> int | None:
    path = data_dir / "events.db"
    if not path.exists():
        return None
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])


class KeepAliveConnection:
    """One HTTP/1.1 keep-alive connection that POSTs JSON: the least client work per request.

    httpx.AsyncClient spends several milliseconds of CPU per request here, so with 32 tasks the
    client, not the server, sets the pace on a 2-core machine; this client spends a fraction of
    one. It understands exactly what a POST answer needs: status line, headers, a body framed by
    Content-Length or chunked encoding, and `Connection: close`."""

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self._host = host
        self._port = port
        self._auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._reader, self._writer
        try:
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n{self._auth}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status = int(head[0].split(" ", 2)[1])
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in head[1:] if line)
            }
            if "content-length" in headers:
                await reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                    await reader.readexactly(size + 2)
                await reader.readuntil(b"\r\n")
        except BaseException:  # a failed or cancelled exchange leaves the stream unusable
            self._abort()
            raise
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status

    def _abort(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


Sender = Callable[[bytes], Awaitable[int]]
# What a request can fail with (TimeoutError, from asyncio.timeout, is an OSError).
FAILURES = (httpx.HTTPError, OSError, EOFError, ValueError, IndexError, asyncio.LimitOverrunError)
CLIENTS = ("raw", "httpx")


async def post_events(
    port: int, bodies: list[bytes], concurrency: int, time_limit: float, client: str = "raw"
) -> Load:
    """POST each body once (until the time limit) from `concurrency` tasks."""
    load = Load()
    cursor = iter(bodies)
    async with contextlib.AsyncExitStack() as stack:
        senders: list[Sender] = []
        if client == "httpx":
            limits = httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            )
            shared = await stack.enter_async_context(
                httpx.AsyncClient(base_url=f"http://{HOST}:{port}", limits=limits, timeout=30.0)
            )

            async def send(body: bytes) -> int:
                response = await shared.post(LINEAGE, content=body, headers=JSON)
                return response.status_code

            senders = [send] * concurrency
        else:
            for _ in range(concurrency):
                connection = KeepAliveConnection(HOST, port)
                stack.push_async_callback(connection.close)
                senders.append(functools.partial(connection.post, LINEAGE))
        started = time.perf_counter()
        deadline = started + time_limit

        async def worker(send: Sender) -> None:
            for body in cursor:  # the iterator is shared: each body is sent once
                if time.perf_counter() > deadline:
                    return
                sent = time.perf_counter()
                try:
                    async with asyncio.timeout(REQUEST_TIMEOUT):
                        status = await send(body)
                except FAILURES as exc:
                    load.statuses[type(exc).__name__] += 1
                    continue
                load.latencies.append(time.perf_counter() - sent)
                load.statuses[str(status)] += 1

        await asyncio.gather(*(worker(send) for send in senders))
        load.seconds = time.perf_counter() - started
    return load


def run(
    n_events: int,
    seed: int,
    concurrency: int,
    time_limit: float,
    template: str | None,
    client: str = "raw",
) -> Section:
    section = Section("b. HTTP single-event POSTs")
    warmup = min(200, n_events // 10)
    _, events = events_for(n_events + warmup, seed)
    bodies = [orjson.dumps(event) for event in events]
    del events
    with tempfile.TemporaryDirectory(prefix="ripple-bench-http-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        port = free_port()
        command = server_command(data_dir, port, template)
        if command is None:
            section.skipped = "neither ripple.cli nor ripple.api.app exists yet"
            return section
        log_path = Path(tmp) / "server.log"
        env = {**os.environ, "RIPPLE_DATA_DIR": str(data_dir)}
        progress(f"http: starting {shlex.join(command)}")
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp,
                start_new_session=True,
            )  # fmt: skip
        try:
            problem = _wait_healthy(process, f"http://{HOST}:{port}")
            if problem is not None:
                section.skipped = f"{problem}; `{shlex.join(command)}` said: " + _tail(log_path)
                return section
            progress(f"http: warm-up, {warmup} events")
            warm = asyncio.run(post_events(port, bodies[:warmup], concurrency, time_limit, client))
            progress(f"http: {n_events:,} events from {concurrency} concurrent tasks ({client})")
            server_cpu = _cpu_seconds(process.pid)
            client_cpu = time.process_time()
            load = asyncio.run(post_events(port, bodies[warmup:], concurrency, time_limit, client))
            client_cpu = time.process_time() - client_cpu
            server_cpu = _cpu_seconds(process.pid) - server_cpu
        finally:
            stopped = _stop(process)
        logged = _logged_events(data_dir)
        progress(f"http: server {stopped}; {logged} events in the log")

    created = warm.created + load.created
    unanswered = sum(
        count
        for outcome in (warm, load)
        for status, count in outcome.statuses.items()
        if not status.isdigit()
    )
    answered = sum(load.statuses.values())
    events_per_s = load.created / load.seconds if load.seconds else 0.0
    p50, p95, p99 = (percentile(load.latencies, q) for q in (50, 95, 99))
    # Every 201 must be in the log; a request that failed without an answer may or may not be.
    nothing_lost = logged is not None and created <= logged <= created + unanswered
    section.figures += [
        Figure(
            f"sustained POST rate, {concurrency} concurrent clients",
            f"{events_per_s:,.0f} events/s",
            target=f"≥ {TARGET_RATE:,} events/s",
            met=events_per_s >= TARGET_RATE,
        ),
        Figure("POST latency p50 / p95", f"{ms(p50)} / {ms(p95)}"),
        Figure("POST latency p99", ms(p99), target=f"< {ms(TARGET_P99)}", met=p99 < TARGET_P99),
        Figure(
            "nothing lost: events in the log = 201 answers",
            "log missing" if logged is None else f"{logged:,} = {created:,}",
            target="equal",
            met=nothing_lost,
        ),
    ]
    statuses = ", ".join(f"{count:,} x {status}" for status, count in sorted(load.statuses.items()))
    client_text = (
        "httpx.AsyncClient shared by the tasks"
        if client == "httpx"
        else "one keep-alive HTTP/1.1 connection per task (bench.http_ingest.KeepAliveConnection)"
    )
    section.notes += [
        f"Server: `{shlex.join(command)}` on a fresh data directory; it {stopped}.",
        f"Client: {concurrency} asyncio tasks, {client_text}, one event per POST "
        f"({sum(map(len, bodies)) / len(bodies):,.0f} bytes on average), on the same machine "
        f"as the server. {warmup} warm-up POSTs first (not in the rates or latencies, but in "
        f"the log check), then {answered:,} POSTs in {load.seconds:.1f} s (limits: "
        f"{n_events:,} events, {time_limit:.0f} s).",
        f"CPU during the load: server {server_cpu:.1f} s, client {client_cpu:.1f} s, over "
        f"{load.seconds:.1f} s of wall time on {os.cpu_count()} cores "
        f"({server_cpu / max(load.created, 1) * 1000:.2f} ms of server CPU per event).",
        f"Answers: {statuses or 'none'}.",
        "Latency is from sending the request to reading the whole answer: "
        f"p50 {ms(p50)}, p95 {ms(p95)}, p99 {ms(p99)}, max {ms(max(load.latencies, default=0))}. "
        f"With {concurrency} requests always in flight, mean latency = {concurrency} / rate "
        "(Little's law).",
        "Nothing lost: rows in <data-dir>/events.db after the server stopped "
        f"{'(missing)' if logged is None else f'= {logged:,}'}; 201 answers = {created:,}"
        + (f"; {unanswered:,} requests failed without an answer" if unanswered else "")
        + ".",
    ]
    section.data = {
        "command": command,
        "client": client,
        "events_per_s": events_per_s,
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "statuses": dict(load.statuses),
        "created": created,
        "logged": logged,
        "server_cpu": server_cpu,
        "client_cpu": client_cpu,
        "stopped": stopped,
    }
    return section


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (a server may fork workers)."""
    try:
        process = psutil.Process(pid)
        total = 0.0
        for proc in [process, *process.children(recursive=True)]:
            times = proc.cpu_times()
            total += times.user + times.system
        return total
    except psutil.Error:
        return float("nan")


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    return " / ".join(text[-lines:]) or "(no output)"
