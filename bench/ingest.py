"""Figure a: file ingest into the embedded store.

An NDJSON file of generated events goes the way `ripple ingest` takes it: each line's bytes to
the fast parser, in batches of 1,000; each batch is validated, appended to the SQLite event log
in one transaction (WAL, synchronous=FULL) and projected into the in-memory graph; closing the
store writes the snapshot. Beside it: the same events decoded first and handed to
`Ingestor.ingest` (an application's route), the `ripple ingest` command itself (a subprocess,
end to end), and `ripple impact` on the data directory it left (start-up with a snapshot).
networkx does the same job without validation or durability: read, decode, add the same nodes
and edges to a DiGraph.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import orjson

from bench import reference
from bench.generator import events_for
from bench.report import Figure, GcWatch, Section, progress, rate
from ripple.graph.embedded import EmbeddedStore
from ripple.ingest.bulk import Batch, ingest_batches
from ripple.ingest.eventlog import SqliteEventLog
from ripple.ingest.files import RawEvent, read_raw
from ripple.ingest.pipeline import Ingestor, Outcome

BATCH = 1_000
TARGET = 5_000  # events/s


def read_batches(path: Path, size: int = BATCH) -> Iterator[list[object]]:
    """The file's events decoded with orjson, `size` at a time, as they are read."""
    batch: list[object] = []
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                batch.append(orjson.loads(line))
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


async def _ripple_ingest(
    path: Path, workdir: Path, *, decoded: bool
) -> tuple[float, float, int, int, dict[str, int]]:
    """Seconds to ingest, seconds to close (snapshot), accepted, rejected, graph counts.

    `decoded=False` is the route of `ripple ingest`: each line's bytes go to the fast parser in
    batches (`ripple.ingest.bulk`). `decoded=True` is an application's route: decode each line
    with orjson and hand the documents to `Ingestor.ingest`, which encodes them again to log."""
    log = SqliteEventLog(workdir / "events.db")
    store = EmbeddedStore(workdir / "graph.snapshot")
    started = time.perf_counter()
    await log.open()
    await store.open()
    ingestor = Ingestor(log, store)
    accepted = rejected = 0

    def count(outcomes: list[Outcome]) -> None:
        nonlocal accepted, rejected
        accepted += sum(o.accepted for o in outcomes)
        rejected += sum(not o.accepted for o in outcomes)

    if decoded:
        for batch in read_batches(path):
            count(await ingestor.ingest(batch))
    else:

        def batches() -> Iterator[Batch]:
            wheres: list[str] = []
            bodies: list[bytes] = []
            for item in read_raw(str(path)):
                assert isinstance(item, RawEvent)  # NDJSON lines come undecoded
                wheres.append(item.where)
                bodies.append(item.body)
                if len(bodies) == BATCH:
                    yield wheres, bodies
                    wheres, bodies = [], []
            if bodies:
                yield wheres, bodies

        await ingest_batches(ingestor, batches(), lambda _, outcomes: count(outcomes))
    ingested = time.perf_counter()
    counts = await store.counts()
    closing = time.perf_counter()
    await store.close()
    await log.close()
    closed = time.perf_counter()
    return ingested - started, closed - closing, accepted, rejected, counts


def _cli(*args: str) -> tuple[float, subprocess.CompletedProcess[str] | str]:
    """`ripple ARGS…` in a subprocess: wall seconds and the finished process (or what failed)."""
    ripple = Path(sys.executable).parent / "ripple"
    started = time.perf_counter()
    try:
        done = subprocess.run([str(ripple), *args], capture_output=True, text=True, timeout=1_800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return time.perf_counter() - started, str(exc)
    return time.perf_counter() - started, done


def cli_query(data_dir: Path, root: str) -> tuple[float, int | None, str]:
    """`ripple impact --format json ROOT` on an ingested data directory: wall seconds, nodes in
    the answer, and what went wrong (empty when it exited 0)."""
    seconds, done = _cli("impact", "--data-dir", str(data_dir), "--format", "json", root)
    if isinstance(done, str):
        return seconds, None, done
    if done.returncode != 0:
        return seconds, None, f"exit {done.returncode}: {done.stderr[-300:]}"
    return seconds, len(orjson.loads(done.stdout)["nodes"]), ""


def _cli_ingest(path: Path, data_dir: Path) -> tuple[float, int | None, str]:
    """`ripple ingest --data-dir DIR FILE` in a subprocess: wall seconds, events in its log, and
    what went wrong (empty when it exited 0)."""
    seconds, done = _cli("ingest", "--data-dir", str(data_dir), str(path))
    if isinstance(done, str):
        return seconds, None, done
    problem = "" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr[-300:]}"
    log = data_dir / "events.db"
    if not log.exists():
        return seconds, None, problem or "no events.db"
    with contextlib.closing(sqlite3.connect(log)) as db:
        return seconds, int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0]), problem


def _networkx_build(path: Path) -> tuple[float, nx.DiGraph[str]]:
    started = time.perf_counter()
    graph: nx.DiGraph[str] = nx.DiGraph()
    for batch in read_batches(path):
        reference.add_events(graph, batch)  # type: ignore[arg-type]
    return time.perf_counter() - started, graph


def run(n_events: int, seed: int) -> Section:
    section = Section("a. File ingest into the embedded store")
    with tempfile.TemporaryDirectory(prefix="ripple-bench-ingest-") as tmp:
        workdir = Path(tmp)
        path = workdir / "events.ndjson"
        progress(f"ingest: generating {n_events:,} events")
        plan, events = events_for(n_events, seed)
        with path.open("wb") as fh:
            fh.writelines(orjson.dumps(event) + b"\n" for event in events)
        source = events[0]["inputs"][0]
        query_root = f"dataset:{source['namespace']}:{source['name']}"
        del events
        size = path.stat().st_size
        progress(
            f"ingest: Ripple ingesting {path.name} ({size / 2**20:.0f} MiB), as `ripple ingest`"
        )
        (workdir / "raw").mkdir()
        with GcWatch() as collector:
            seconds, closing, accepted, rejected, counts = asyncio.run(
                _ripple_ingest(path, workdir / "raw", decoded=False)
            )
        progress(f"ingest: {accepted / seconds:,.0f} events/s; now decoded documents")
        (workdir / "decoded").mkdir()
        decoded_seconds, _, decoded_accepted, _, _ = asyncio.run(
            _ripple_ingest(path, workdir / "decoded", decoded=True)
        )
        progress("ingest: now `ripple ingest` on the file, then `ripple impact` on its data")
        cli_seconds, cli_events, cli_problem = _cli_ingest(path, workdir / "cli")
        query_seconds, query_nodes, query_problem = cli_query(workdir / "cli", query_root)
        progress("ingest: networkx building the same graph")
        nx_seconds, graph = _networkx_build(path)
        snapshot = (workdir / "raw" / "graph.snapshot").stat().st_size
        log_size = (workdir / "raw" / "events.db").stat().st_size

    ripple_nodes = sum(counts.get(kind, 0) for kind in ("dataset", "datasetField", "job", "run"))
    ripple_edges = sum(v for k, v in counts.items() if k.isupper())
    per_event = seconds / max(accepted, 1)
    section.figures.append(
        Figure(
            f"ingest {accepted:,} events from a file, batches of {BATCH:,}",
            rate(accepted, seconds),
            rate(accepted, nx_seconds) + " (DiGraph build)",
            f"≥ {TARGET:,} events/s",
            accepted / seconds >= TARGET,
        )
    )
    section.figures.append(
        Figure(
            "the same events decoded first, through `Ingestor.ingest` (an application's route)",
            rate(decoded_accepted, decoded_seconds),
        )
    )
    if cli_events is not None and not cli_problem:
        section.figures.append(
            Figure(
                "the same file through `ripple ingest` (CLI, end to end)",
                rate(cli_events, cli_seconds),
                target=f"≥ {TARGET:,} events/s",
                met=cli_events / cli_seconds >= TARGET,
            )
        )
        cli_note = (
            f"`ripple ingest --data-dir <tmp> events.ndjson` as a subprocess: {cli_events:,} "
            f"events in its log after {cli_seconds:.2f} s of wall time, interpreter start-up, "
            "imports and the final snapshot included."
        )
    else:
        cli_note = f"`ripple ingest` could not be measured: {cli_problem}"
    if query_nodes is not None:
        section.figures.append(
            Figure(
                "then `ripple impact` on that data directory (CLI, end to end)",
                f"{query_seconds:.2f} s",
            )
        )
        query_note = (
            f"`ripple impact --data-dir <tmp> --format json {query_root}` as a subprocess on the "
            f"data directory `ripple ingest` left: {query_nodes:,} nodes in the answer after "
            f"{query_seconds:.2f} s of wall time — interpreter start-up, imports, opening the "
            f"{snapshot / 2**20:.0f} MiB snapshot, the walk and printing the JSON."
        )
    else:
        query_note = f"`ripple impact` could not be measured: {query_problem}"
    section.notes += [
        f"Events: {accepted:,} accepted, {rejected:,} rejected; {len(plan.datasets):,}-dataset "
        f"plan, {size / 2**20:.0f} MiB of NDJSON ({size / max(accepted, 1):,.0f} bytes/event).",
        f"Ripple: {seconds:.2f} s to read, parse and validate, log and project "
        f"({per_event * 1e6:,.0f} µs/event), then {closing:.2f} s to close the store (snapshot "
        f"{snapshot / 2**20:.0f} MiB; event log {log_size / 2**20:.0f} MiB). events/s counts "
        f"the first part only. Garbage collection over both: {collector.describe()}.",
        f"Graph: Ripple {ripple_nodes:,} nodes / {ripple_edges:,} edges; networkx "
        f"{graph.number_of_nodes():,} nodes / {graph.number_of_edges():,} edges (a DiGraph "
        "merges a column pair that is both DIRECT and INDIRECT into one edge).",
        f"networkx: {nx_seconds:.2f} s to read, decode and add the same nodes and edges to a "
        "DiGraph — no validation, no log, no durability.",
        f"Decoded first: {decoded_seconds:.2f} s for the same events when each line is decoded "
        "with orjson and the documents handed to `Ingestor.ingest`, which encodes each again "
        "for the log (the route of an application that holds dicts).",
        cli_note,
        query_note,
    ]
    section.data = {
        "events": accepted,
        "rejected": rejected,
        "seconds": seconds,
        "close_seconds": closing,
        "events_per_s": accepted / seconds,
        "cli_seconds": cli_seconds,
        "cli_events": cli_events,
        "decoded_seconds": decoded_seconds,
        "decoded_events_per_s": decoded_accepted / decoded_seconds,
        "query_seconds": query_seconds,
        "query_nodes": query_nodes,
        "networkx_seconds": nx_seconds,
        "ripple_counts": counts,
        "networkx_nodes": graph.number_of_nodes(),
        "networkx_edges": graph.number_of_edges(),
    }
    return section
