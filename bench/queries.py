"""Figure c: blast radius, large closures, backfill order and memory on a large graph.

The graph is built from generated events, decoded, through the Ingestor in batches of 1,000,
into an EmbeddedStore with the event log in a temporary directory; its snapshot is written once
at the end, and `ripple impact` is timed from a cold start on that directory. networkx gets a
DiGraph of the same nodes and edges, built from the same events.

Roots are chosen from the generator's plan, which knows every dataset's exact downstream closure
(`Plan.closure`): datasets are sampled at random and kept when their closure falls in a band. The
closure each walk returns is checked against that prediction and against networkx.
"""

from __future__ import annotations

import asyncio
import gc
import random
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import networkx as nx
import psutil

from bench import reference
from bench.generator import ClosureSize, EventWriter, Plan, build_plan
from bench.ingest import cli_query
from bench.report import Figure, GcWatch, Section, gib, median, ms, percentile, progress
from ripple.graph.embedded import EmbeddedStore
from ripple.graph.order import backfill_order
from ripple.graph.store import Closure, WalkOptions
from ripple.ingest.eventlog import SqliteEventLog
from ripple.ingest.pipeline import Ingestor

BAND = (800, 1_200)  # nodes in a "~1,000-node" blast radius
BAND_ROOTS = 120
LARGE = 50_000  # nodes in the large closure
BACKFILL_JOBS = 10_000
UNBOUNDED = WalkOptions(depth=100_000, limit=100_000_000)
TARGET_BAND_P95 = 0.020
TARGET_LARGE = 1.0
TARGET_BACKFILL = 0.500
TARGET_RSS = 3 * 2**30

T = TypeVar("T")


@dataclass(slots=True)
class Root:
    index: int  # dataset index in the plan
    node_id: str
    expected: ClosureSize


@dataclass(slots=True)
class Meter:
    """Durations of one kind of call, and the garbage-collector time spent inside them.

    `paused` runs each call with the cyclic collector paused: networkx is timed that way, the
    best case for the yardstick (Ripple's walks pause it themselves; with Ripple's frozen heap
    the collector would otherwise run often inside networkx's calls)."""

    watch: GcWatch
    paused: bool = False
    times: list[float] = field(default_factory=list)
    gc_seconds: float = 0.0

    def call(self, fn: Callable[[], T]) -> T:
        collected = self.watch.total
        was_enabled = gc.isenabled()
        if self.paused:
            gc.disable()
        started = time.perf_counter()
        try:
            value = fn()
        finally:
            self.times.append(time.perf_counter() - started)
            if was_enabled:
                gc.enable()
        self.gc_seconds += self.watch.total - collected
        return value

    async def walk(self, store: EmbeddedStore, root: str, options: WalkOptions) -> Closure:
        collected = self.watch.total
        started = time.perf_counter()
        closure = await store.walk(root, "downstream", options)
        self.times.append(time.perf_counter() - started)
        self.gc_seconds += self.watch.total - collected
        return closure

    @property
    def p50(self) -> float:
        return median(self.times)

    def pair(self) -> str:
        """p50 / p95."""
        return f"{ms(self.p50)} / {ms(percentile(self.times, 95))}"

    def listing(self) -> str:
        return ", ".join(ms(t) for t in self.times)


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def batched(items: Iterator[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def build_ripple(plan: Plan, workdir: Path) -> tuple[EmbeddedStore, float, int]:
    """Ingest every event of the plan: batches of 1,000 decoded events through the Ingestor,
    into an embedded store and an event log on disk (the log keeps the bodies out of the
    process, as in a real deployment); the store writes its snapshot only when asked. Returns
    the store, the seconds spent inside `Ingestor.ingest` (generating the events is not
    counted) and the rejections."""
    log = SqliteEventLog(workdir / "events.db")
    store = EmbeddedStore(workdir / "graph.snapshot", snapshot_every=2**62)  # saved when asked
    await log.open()
    await store.open()
    ingestor = Ingestor(log, store)
    seconds = 0.0
    done = rejected = 0
    report_every = max(1, plan.events // 10)
    for batch in batched(EventWriter(plan).events(), 1_000):
        started = time.perf_counter()
        outcomes = await ingestor.ingest(batch)
        seconds += time.perf_counter() - started
        rejected += sum(not outcome.accepted for outcome in outcomes)
        done += len(batch)
        if done // report_every != (done - len(batch)) // report_every:
            progress(f"queries: Ripple graph {done:,}/{plan.events:,} events, RSS {gib(rss())}")
    await log.close()
    return store, seconds, rejected


@dataclass(frozen=True)
class ColdStart:
    root: str
    snapshot_bytes: int
    write_seconds: float
    query_seconds: float
    nodes: int | None
    problem: str

    def describe(self) -> str:
        if self.nodes is None:
            return f"Cold start: `ripple impact` could not be measured: {self.problem}"
        return (
            f"Cold start: the graph's snapshot ({self.snapshot_bytes / 2**20:,.0f} MiB) written in "
            f"{self.write_seconds:.1f} s; then `ripple impact --data-dir <tmp> --format json "
            f"{self.root}` as a subprocess on that data directory answered {self.nodes:,} nodes "
            f"after {self.query_seconds:.1f} s of wall time — interpreter start-up, imports, "
            "opening the snapshot, the walk (default limit 10,000) and printing the JSON. A "
            "server (`ripple serve`) pays the same opening once, at start-up."
        )


async def cold_start(store: EmbeddedStore, data_dir: Path, root: str) -> ColdStart:
    """Write the snapshot, then time a query from the command line in a fresh process."""
    progress("queries: writing the snapshot, then `ripple impact` from a cold start")
    started = time.perf_counter()
    store.save()
    written = time.perf_counter() - started
    size = (data_dir / "graph.snapshot").stat().st_size
    seconds, nodes, problem = cli_query(data_dir, root)
    return ColdStart(root, size, written, seconds, nodes, problem)


def build_networkx(plan: Plan) -> tuple[nx.DiGraph[str], float]:
    """The same graph in networkx; the time includes generating the events again."""
    graph: nx.DiGraph[str] = nx.DiGraph()
    started = time.perf_counter()
    for batch in batched(EventWriter(plan).events(), 1_000):
        reference.add_events(graph, batch)
    return graph, time.perf_counter() - started


def band_roots(plan: Plan, seed: int, wanted: int) -> tuple[list[Root], int]:
    """Up to `wanted` random datasets whose closure has BAND nodes; also how many were tried."""
    rng = random.Random(f"band:{seed}")
    candidates = list(range(plan.hubs, len(plan.datasets)))
    rng.shuffle(candidates)
    roots: list[Root] = []
    tried = 0
    for index in candidates:
        tried += 1
        size = plan.closure(index, cap=BAND[1])
        if size is not None and BAND[0] <= size.nodes <= BAND[1]:
            roots.append(Root(index, plan.datasets[index].node_id, size))
            if len(roots) == wanted:
                break
    return roots, tried


def survey(plan: Plan, seed: int, per_layer: int = 4) -> list[Root]:
    """Exact closures of a few random datasets of every layer, and of every hub."""
    rng = random.Random(f"survey:{seed}")
    by_layer: dict[int, list[int]] = {}
    for index in range(plan.hubs, len(plan.datasets)):
        by_layer.setdefault(plan.datasets[index].layer, []).append(index)
    picked = list(range(plan.hubs))
    for members in by_layer.values():
        picked += rng.sample(members, min(per_layer, len(members)))
    roots = []
    for index in picked:
        size = plan.closure(index)
        assert size is not None
        roots.append(Root(index, plan.datasets[index].node_id, size))
    return roots


class Queries:
    """The measurements of figure c over one built graph."""

    def __init__(
        self, plan: Plan, seed: int, store: EmbeddedStore, graph: nx.DiGraph[str], watch: GcWatch
    ) -> None:
        self.plan = plan
        self.seed = seed
        self.store = store
        self.graph = graph
        self.lineage_graph = reference.lineage_only(graph)
        self.watch = watch
        self.mismatches: list[str] = []
        self.figures: list[Figure] = []
        self.notes: list[str] = []
        self.data: dict[str, object] = {}

    def meter(self, paused: bool = False) -> Meter:
        return Meter(self.watch, paused)

    def check(self, closure: Closure, expected: int, nx_count: int, label: str = "") -> None:
        got = len(closure.nodes)
        if got == expected == nx_count and not closure.truncated:
            return
        self.mismatches.append(
            f"{label}{closure.root}: Ripple {got} (truncated={closure.truncated}), "
            f"plan {expected}, networkx {nx_count}"
        )

    async def blast_radius_band(self) -> None:
        roots, tried = band_roots(self.plan, self.seed, BAND_ROOTS)
        progress(
            f"queries: {len(roots)} roots with {BAND[0]}-{BAND[1]}-node closures ({tried:,} tried)"
        )
        if not roots:
            self.notes.append(f"No dataset has a {BAND[0]}-{BAND[1]}-node closure in this graph.")
            return
        ripple, ripple_nocol = self.meter(), self.meter()
        nx_full, nx_nocol = self.meter(paused=True), self.meter(paused=True)
        sizes: list[int] = []
        sizes_nocol: list[int] = []
        default = WalkOptions()
        no_columns = WalkOptions(columns=False)
        assert default.depth == 50, "the networkx cutoff below mirrors WalkOptions().depth"
        for root in roots:
            closure = await ripple.walk(self.store, root.node_id, default)
            paths = nx_full.call(partial(reference.blast_radius, self.graph, root.node_id, 50))
            sizes.append(len(closure.nodes))
            self.check(closure, root.expected.nodes, len(paths) - 1)
            closure = await ripple_nocol.walk(self.store, root.node_id, no_columns)
            paths = nx_nocol.call(
                partial(reference.blast_radius, self.lineage_graph, root.node_id, 50)
            )
            sizes_nocol.append(len(closure.nodes))
            expected = root.expected.datasets + root.expected.jobs
            self.check(closure, expected, len(paths) - 1, "columns=False ")
        p95 = percentile(ripple.times, 95)
        self.figures += [
            Figure(
                f"blast radius, ~1,000-node closure, p50 / p95 over {len(roots)} roots",
                ripple.pair(),
                nx_full.pair(),
                f"p95 < {ms(TARGET_BAND_P95)}",
                p95 < TARGET_BAND_P95,
            ),
            Figure("same roots, columns=False, p50 / p95", ripple_nocol.pair(), nx_nocol.pair()),
        ]
        self.notes.append(
            f"~1,000-node blast radius: {len(roots)} datasets drawn at random ({tried:,} tried) "
            f"whose exact downstream closure, columns included, has {BAND[0]:,}-{BAND[1]:,} "
            f"nodes; measured sizes {min(sizes):,}-{max(sizes):,} (median {median(sizes):,.0f}) "
            f"with columns, {min(sizes_nocol):,}-{max(sizes_nocol):,} without. Ripple: "
            "`await store.walk(root, 'downstream', WalkOptions())` (depth 50, limit 10,000, "
            "columns=True); networkx: `single_source_shortest_path(G, root, cutoff=50)` "
            "(distances and one path per node, as Ripple returns), on the full graph, or on the "
            "dataset/job graph for columns=False. Max "
            f"{ms(max(ripple.times))} (Ripple), {ms(max(nx_full.times))} (networkx); garbage "
            f"collection inside Ripple's timed calls: {ripple.gc_seconds:.2f} s in all "
            "(networkx is timed with the collector paused)."
        )
        self.data["band"] = {
            "sizes": sizes,
            "ripple": ripple.times,
            "networkx": nx_full.times,
            "ripple_columns_false": ripple_nocol.times,
            "networkx_columns_false": nx_nocol.times,
        }

    async def large_closure(self, large: Root, repeats: int = 5) -> None:
        progress(f"queries: large closure from {large.node_id} ({large.expected.nodes:,} nodes)")
        ripple, nx_full = self.meter(), self.meter(paused=True)
        for _ in range(repeats):
            closure = await ripple.walk(self.store, large.node_id, UNBOUNDED)
            paths = nx_full.call(
                partial(reference.blast_radius, self.graph, large.node_id, UNBOUNDED.depth)
            )
        self.check(closure, large.expected.nodes, len(paths) - 1)
        self.figures.append(
            Figure(
                f"blast radius, {len(closure.nodes):,}-node closure (median of {repeats})",
                ms(ripple.p50),
                ms(nx_full.p50),
                f"< {ms(TARGET_LARGE)}",
                ripple.p50 < TARGET_LARGE,
            )
        )
        self.notes.append(
            f"Large closure: root {large.node_id} (layer {self.plan.datasets[large.index].layer} "
            f"of {self.plan.layers}), the surveyed dataset whose closure is nearest {LARGE:,} "
            f"nodes: {large.expected.datasets:,} datasets, {large.expected.jobs:,} jobs, "
            f"{large.expected.columns:,} columns. Both walks unbounded (depth "
            f"{UNBOUNDED.depth:,}, no limit). Times: {ripple.listing()} (Ripple), "
            f"{nx_full.listing()} (networkx); garbage collection inside Ripple's: "
            f"{ripple.gc_seconds:.2f} s."
        )
        self.data["large"] = {
            "root": large.node_id,
            "ripple": ripple.times,
            "networkx": nx_full.times,
        }

    async def backfill(self, pick: Root, eligible: bool, repeats: int = 3) -> None:
        progress(f"queries: backfill from {pick.node_id} ({pick.expected.jobs:,} jobs)")
        collected: list[str] = []
        for columns in (True, False):
            options = WalkOptions(UNBOUNDED.depth, UNBOUNDED.limit, columns=columns)
            graph = self.graph if columns else self.lineage_graph
            walk, order_meter = self.meter(), self.meter()
            nx_walk, nx_order = self.meter(paused=True), self.meter(paused=True)
            closure = await walk.walk(self.store, pick.node_id, options)
            paths = nx_walk.call(
                partial(reference.blast_radius, graph, pick.node_id, UNBOUNDED.depth)
            )
            for _ in range(repeats):
                order = order_meter.call(partial(backfill_order, closure))
                layers = nx_order.call(partial(reference.backfill_layers, graph, paths))
            jobs = sum(len(layer) for layer in order.layers)
            if [set(x) for x in order.layers] != [set(x) for x in layers]:
                self.mismatches.append(
                    f"backfill from {pick.node_id} (columns={columns}): Ripple "
                    f"{len(order.layers)} layers / {jobs} jobs, networkx {len(layers)} layers / "
                    f"{sum(len(x) for x in layers)} jobs"
                )
            label = "" if columns else ", columns=False walk"
            collected.append(
                f"{walk.gc_seconds:.2f} s in the walk and {order_meter.gc_seconds:.2f} s in "
                f"{repeats} backfill_order calls with columns={columns}"
            )
            self.figures += [
                Figure(
                    f"backfill order, {jobs:,} jobs in {len(order.layers)} layers{label}",
                    ms(order_meter.p50),
                    ms(nx_order.p50),
                    f"< {ms(TARGET_BACKFILL)}" if columns else "",
                    order_meter.p50 < TARGET_BACKFILL if columns else None,
                ),
                Figure(
                    f"the walk feeding it ({len(closure.nodes):,} nodes{label})",
                    ms(walk.p50),
                    ms(nx_walk.p50),
                ),
            ]
            self.data[f"backfill_columns_{columns}"] = {
                "root": pick.node_id,
                "walk": walk.times,
                "order": order_meter.times,
                "networkx_walk": nx_walk.times,
                "networkx_order": nx_order.times,
            }
        self.notes.append(
            f"Backfill: root {pick.node_id} (layer {self.plan.datasets[pick.index].layer}), the "
            f"surveyed dataset with the fewest downstream jobs ≥ {BACKFILL_JOBS:,} "
            f"({pick.expected.jobs:,} jobs, {pick.expected.nodes:,} nodes). Ripple: "
            "`backfill_order(closure)` on the closure of an unbounded downstream walk (the walk "
            "timed once, separately); networkx: the job dependency graph of the same closure "
            "(job A before job B when A writes a dataset B reads) and "
            f"`topological_generations`. Median of {repeats}; the layers are compared set for "
            f"set. Garbage collection inside Ripple's calls: {'; '.join(collected)}."
        )
        if not eligible:
            self.notes.append(
                f"No surveyed dataset has ≥ {BACKFILL_JOBS:,} jobs downstream in this graph; "
                "the one with the most was used."
            )


async def _measure(plan: Plan, seed: int, plan_bytes: int) -> Section:
    section = Section(
        f"c. Queries on {len(plan.datasets):,} datasets / "
        f"{sum(len(d.columns) for d in plan.datasets):,} columns"
    )
    with GcWatch() as build_gc, tempfile.TemporaryDirectory(prefix="ripple-bench-q-") as tmp:
        gc.collect()
        baseline = rss()
        progress(f"queries: building Ripple's graph from {plan.events:,} events")
        store, build_seconds, rejected = await build_ripple(plan, Path(tmp))
        after_build = rss()
        cold = await cold_start(store, Path(tmp), plan.datasets[plan.hubs].node_id)
    counts = await store.counts()
    progress(f"queries: built in {build_seconds:.0f} s, RSS {gib(after_build)}; networkx next")
    graph, nx_seconds = build_networkx(plan)
    after_nx = rss()
    # Ripple freezes its own graph out of the collector's sight (ripple/heap.py); the yardstick's
    # graph is frozen too, or every full collection inside Ripple's calls would walk it.
    gc.collect()
    gc.freeze()
    progress(f"queries: networkx built in {nx_seconds:.0f} s, RSS {gib(after_nx)}")

    with GcWatch() as watch:
        queries = Queries(plan, seed, store, graph, watch)
        await queries.blast_radius_band()
        progress("queries: surveying closure sizes for the large walks")
        surveyed = survey(plan, seed)
        await queries.large_closure(min(surveyed, key=lambda r: abs(r.expected.nodes - LARGE)))
        eligible = [r for r in surveyed if r.expected.jobs >= BACKFILL_JOBS]
        if eligible:
            await queries.backfill(min(eligible, key=lambda r: r.expected.jobs), True)
        else:
            await queries.backfill(max(surveyed, key=lambda r: r.expected.jobs), False)

    section.figures = queries.figures
    if cold.nodes is not None:
        section.figures.append(
            Figure(
                "`ripple impact` from a cold start on this graph (CLI, end to end)",
                f"{cold.query_seconds:.1f} s",
            )
        )
    section.figures.append(
        Figure(
            "resident memory after building the graph",
            gib(after_build),
            f"+{gib(after_nx - after_build)} for its DiGraph",
            f"< {gib(TARGET_RSS)}",
            after_build < TARGET_RSS,
        )
    )
    nodes = sum(counts.get(k, 0) for k in ("dataset", "datasetField", "job", "run"))
    edges = sum(v for k, v in counts.items() if k.isupper())
    mismatches = queries.mismatches
    section.notes = [
        *queries.notes,
        f"Graph: {plan.events:,} events ({plan.layers} layers of ≤ {plan.width:,} datasets, "
        f"{plan.hubs} hub tables); Ripple holds {nodes:,} nodes and {edges:,} edges ("
        + ", ".join(f"{v:,} {k}" for k, v in counts.items() if v)
        + f"); networkx {graph.number_of_nodes():,} nodes and {graph.number_of_edges():,} edges.",
        f"Building: Ripple {build_seconds:.1f} s inside `Ingestor.ingest` "
        f"({plan.events / build_seconds:,.0f} events/s; batches of 1,000 decoded events, event "
        f"log on disk, {rejected:,} rejected; garbage collection {build_gc.describe()}); "
        f"networkx {nx_seconds:.1f} s (generating the events again included).",
        f"Memory: process RSS {gib(baseline)} before building (the generator's plan holds "
        f"{plan_bytes / 2**20:,.0f} MiB of it, by tracemalloc), {gib(after_build)} with "
        "Ripple's graph "
        f"(+{gib(after_build - baseline)}), {gib(after_nx)} once the networkx DiGraph was "
        "built too.",
        cold.describe(),
        "Closure checks: every walk's node count equals the plan's prediction and networkx's, "
        "and the backfill layers are the same."
        if not mismatches
        else f"Closure checks: {len(mismatches)} MISMATCHES, first: " + "; ".join(mismatches[:5]),
    ]
    section.data = {
        **queries.data,
        "build_seconds": build_seconds,
        "networkx_build_seconds": nx_seconds,
        "rss_baseline": baseline,
        "rss_after_build": after_build,
        "rss_after_networkx": after_nx,
        "counts": counts,
        "mismatches": mismatches,
        "snapshot_bytes": cold.snapshot_bytes,
        "snapshot_write_seconds": cold.write_seconds,
        "cold_query_seconds": cold.query_seconds,
        "cold_query_nodes": cold.nodes,
    }
    return section


def run(n_datasets: int, seed: int) -> Section:
    progress(f"queries: planning {n_datasets:,} datasets")
    tracemalloc.start()
    plan = build_plan(n_datasets, seed)
    plan.readers()
    plan_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return asyncio.run(_measure(plan, seed, plan_bytes))
