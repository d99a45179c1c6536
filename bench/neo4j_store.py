"""Figure d: the Neo4j store — batched ingest, blast radius and large closures, beside the
embedded store on the same graph and beside the naive path-enumerating Cypher.

`--neo4j-uri` names a running server (its database is cleared first); otherwise scripts/neo4j
starts a private one on free 127.0.0.1 ports with its home in a temporary directory, and it is
stopped by its recorded PID at the end.

Every generated event is encoded with orjson and parsed and projected with
`ripple.ingest.pipeline.prepare_raw`; the deltas go to `Neo4jStore.apply` in batches of 1,000
events (no event log: this measures the store). The same deltas are applied to an in-memory
EmbeddedStore, and both are walked from the same roots, chosen from the generator's plan as in
bench/queries.py.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from neo4j import AsyncGraphDatabase, Query
from neo4j.exceptions import Neo4jError

from bench import neo4j_ceiling
from bench.generator import EventWriter, Plan, build_plan
from bench.queries import BAND, LARGE, UNBOUNDED, Root, band_roots, survey
from bench.report import Figure, Section, median, ms, percentile, progress, rate
from ripple.graph.delta import GraphDelta
from ripple.graph.embedded import EmbeddedStore
from ripple.graph.neo4j import Neo4jStore, cypher
from ripple.graph.neo4j.walks import bound_for
from ripple.graph.store import WalkOptions
from ripple.ingest.columns import FacetMemo
from ripple.ingest.pipeline import prepare_raw

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "neo4j"
BATCH = 1_000
BAND_ROOTS = 120  # as figure c
NAIVE_ROOTS = 5
NAIVE_TIMEOUT = 10.0  # seconds per naive query
NAIVE_DEPTH = 50
TARGET_RATE = 2_000  # events/s
CEILING_EVENTS = 10_000  # the first events, for Neo4j's own write ceiling
RERUNS = 20_000  # jobs run again: the steady state, lineage Ripple already holds
HEAP = "2g"
PAGECACHE = "2g"  # the 100,000-dataset graph's store files are about 1.5 GB
TARGET_BAND_P95 = 0.050
TARGET_LARGE = 2.0
# The path-enumerating shape: no min()/DISTINCT aggregation, every path's row sent back.
NAIVE = (
    "MATCH p = (s:Dataset {key: $key})"
    "-[:READ_BY|WRITES|HAS_COLUMN|DERIVES*1.." + str(NAIVE_DEPTH) + "]->(n) "
    "RETURN n.key AS key, length(p) AS d"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A private Neo4j started through scripts/neo4j, stopped by the PID the script recorded."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="ripple-bench-neo4j-"))
        self.bolt = _free_port()
        self.env = {
            **os.environ,
            "RIPPLE_NEO4J_HOME": str(self.home),
            "RIPPLE_NEO4J_BOLT_PORT": str(self.bolt),
            "RIPPLE_NEO4J_HTTP_PORT": str(_free_port()),
            "RIPPLE_NEO4J_HEAP": os.environ.get("RIPPLE_NEO4J_HEAP", HEAP),
            "RIPPLE_NEO4J_PAGECACHE": os.environ.get("RIPPLE_NEO4J_PAGECACHE", PAGECACHE),
        }
        self.started = False

    def start(self) -> str:
        done = subprocess.run(
            [str(SCRIPT), "start"], env=self.env, capture_output=True, text=True, check=False
        )
        self.started = True
        if done.returncode != 0:
            raise RuntimeError(f"scripts/neo4j start failed: {done.stderr.strip()[-500:]}")
        return f"bolt://127.0.0.1:{self.bolt}"

    def stop(self) -> None:
        if self.started:
            subprocess.run([str(SCRIPT), "stop"], env=self.env, capture_output=True, check=False)
            self.started = False
        shutil.rmtree(self.home, ignore_errors=True)


def _deltas(
    plan: Plan, day: int = 0, limit: int | None = None
) -> tuple[list[GraphDelta], int, float]:
    """The plan's events (the first `limit`) through prepare_raw: deltas, rejections, seconds
    spent."""
    memo = FacetMemo()
    deltas: list[GraphDelta] = []
    rejected = 0
    seconds = 0.0
    for event in itertools.islice(EventWriter(plan, day).events(), limit):
        body = orjson.dumps(event)
        started = time.perf_counter()
        prepared = prepare_raw(body, memo)
        seconds += time.perf_counter() - started
        if prepared.delta is None:
            rejected += 1
        else:
            deltas.append(prepared.delta)
    return deltas, rejected, seconds


async def _load(store: Neo4jStore | EmbeddedStore, deltas: list[GraphDelta], label: str) -> float:
    """`store.apply` in batches of BATCH deltas; the seconds spent in it."""
    seconds = 0.0
    report_every = max(1, len(deltas) // 5)
    for start in range(0, len(deltas), BATCH):
        batch = deltas[start : start + BATCH]
        began = time.perf_counter()
        await store.apply(batch, start + len(batch))
        seconds += time.perf_counter() - began
        done = start + len(batch)
        if done // report_every != start // report_every:
            progress(f"neo4j: {label} {done:,}/{len(deltas):,} events, {seconds:.0f} s")
    return seconds


async def _walks(
    store: Neo4jStore | EmbeddedStore, roots: list[Root], options: WalkOptions, repeats: int = 1
) -> tuple[list[float], list[int]]:
    times: list[float] = []
    sizes: list[int] = []
    for root in roots:
        for _ in range(repeats):
            began = time.perf_counter()
            closure = await store.walk(root.node_id, "downstream", options)
            times.append(time.perf_counter() - began)
        sizes.append(len(closure.nodes))
    return times, sizes


async def _closure_only(uri: str, roots: list[Root], depth: int, limit: int) -> list[float]:
    """Ripple's closure statement alone (cypher.CLOSURE, columns on), every row read: the part
    of a Neo4j walk spent in the var-length expansion, before the relationships among the
    nodes are loaded and the shared walk code runs."""
    query = cypher.CLOSURE[("down_columns", bound_for(depth))]
    times: list[float] = []
    driver = AsyncGraphDatabase.driver(uri, auth=None, notifications_min_severity="OFF")
    try:
        async with driver.session(database="neo4j") as session:
            for root in roots:
                found = await session.run(cypher.LOCATE["Dataset"], {"keys": [root.node_id]})
                ((_, eid, _),) = (await found.single(strict=True))["rows"]
                began = time.perf_counter()
                result = await session.run(
                    query, {"starts": [eid], "depth": depth, "cap": limit + 1}
                )
                await result.values()
                times.append(time.perf_counter() - began)
    finally:
        await driver.close()
    return times


async def _naive(uri: str, roots: list[Root]) -> list[tuple[Root, float, int | None, int]]:
    """The path-enumerating query per root: (root, seconds, distinct nodes or None when it timed
    out, rows received)."""
    out: list[tuple[Root, float, int | None, int]] = []
    driver = AsyncGraphDatabase.driver(uri, auth=None, notifications_min_severity="OFF")
    try:
        for root in roots:
            rows = 0
            keys: set[str] = set()
            began = time.perf_counter()
            try:
                async with driver.session(database="neo4j") as session:
                    result = await session.run(
                        Query(NAIVE, timeout=NAIVE_TIMEOUT), {"key": root.node_id}
                    )
                    async for record in result:
                        rows += 1
                        keys.add(record[0])
                out.append((root, time.perf_counter() - began, len(keys), rows))
            except Neo4jError as exc:
                if "timeout" not in str(exc.code).lower() and "terminated" not in str(exc).lower():
                    raise
                out.append((root, time.perf_counter() - began, None, rows))
            progress(f"neo4j: naive Cypher from {root.node_id}: {out[-1][1]:.1f} s, {rows:,} rows")
    finally:
        await driver.close()
    return out


async def _measure(plan: Plan, seed: int, uri: str, started_here: bool) -> Section:
    n_columns = sum(len(d.columns) for d in plan.datasets)
    section = Section(f"d. Neo4j store on {len(plan.datasets):,} datasets / {n_columns:,} columns")
    progress(f"neo4j: preparing {plan.events:,} events with prepare_raw")
    deltas, rejected, prepare_seconds = _deltas(plan)
    store = Neo4jStore(uri)
    await store.open()
    try:
        if not started_here:
            await store.clear()
        progress(f"neo4j: Neo4j's own ceiling: the first {CEILING_EVENTS:,} events' elements")
        ceiling = await neo4j_ceiling.measure(uri, deltas[:CEILING_EVENTS], BATCH)
        progress(f"neo4j: applying {len(deltas):,} events to Neo4j in batches of {BATCH:,}")
        apply_seconds = await _load(store, deltas, "Neo4j")
        counts = await store.counts()
        embedded = EmbeddedStore()
        await embedded.open()
        embedded_seconds = await _load(embedded, deltas, "embedded")
        del deltas
        progress(f"neo4j: the first {RERUNS:,} jobs run again a day later")
        rerun_deltas, _, rerun_prepare = _deltas(plan, day=1, limit=RERUNS)
        rerun_seconds = await _load(store, rerun_deltas, "Neo4j re-runs")
        rerun_embedded = await _load(embedded, rerun_deltas, "embedded re-runs")
        reruns = len(rerun_deltas)
        del rerun_deltas

        roots, tried = band_roots(plan, seed, BAND_ROOTS)
        surveyed = survey(plan, seed, per_layer=16)
        large = min(surveyed, key=lambda r: abs(r.expected.nodes - LARGE))
        data: dict[str, Any] = {"counts": counts}
        mismatches: list[str] = []
        progress(f"neo4j: {len(roots)} roots with {BAND[0]}-{BAND[1]}-node closures")
        if roots:
            # Reads at steady state: plans compiled and the pages these walks touch cached (a
            # warm-up pass over every root).
            cold_times, _ = await _walks(store, roots, WalkOptions())
            n_times, n_sizes = await _walks(store, roots, WalkOptions())
            e_times, e_sizes = await _walks(embedded, roots, WalkOptions())
            for root, a, b in zip(roots, n_sizes, e_sizes, strict=True):
                if not a == b == root.expected.nodes:
                    mismatches.append(f"{root.node_id}: Neo4j {a}, embedded {b}, plan")
            p95 = percentile(n_times, 95)
            section.figures.append(
                Figure(
                    f"Neo4j blast radius, ~1,000-node closure, p50 / p95 over {len(roots)} roots",
                    f"{ms(median(n_times))} / {ms(p95)}",
                    f"{ms(median(e_times))} / {ms(percentile(e_times, 95))} (embedded store)",
                    f"p95 < {ms(TARGET_BAND_P95)}",
                    p95 < TARGET_BAND_P95,
                )
            )
            section.figures.append(
                Figure(
                    "the warm-up pass over the same roots (first walk of each), p50 / p95",
                    f"{ms(median(cold_times))} / {ms(percentile(cold_times, 95))}",
                )
            )
            c_times = await _closure_only(uri, roots, 50, WalkOptions().limit)
            section.figures.append(
                Figure(
                    "of which Ripple's closure statement alone, p50 / p95",
                    f"{ms(median(c_times))} / {ms(percentile(c_times, 95))}",
                )
            )
            data["band"] = {
                "sizes": n_sizes,
                "neo4j": n_times,
                "neo4j_first_pass": cold_times,
                "embedded": e_times,
                "closure_statement": c_times,
            }
        progress(f"neo4j: large closure from {large.node_id} ({large.expected.nodes:,} nodes)")
        l_times, l_sizes = await _walks(store, [large], UNBOUNDED, repeats=3)
        le_times, le_sizes = await _walks(embedded, [large], UNBOUNDED, repeats=3)
        if not l_sizes[0] == le_sizes[0] == large.expected.nodes:
            mismatches.append(f"{large.node_id}: Neo4j {l_sizes[0]}, embedded {le_sizes[0]}")
        section.figures.append(
            Figure(
                f"Neo4j blast radius, {l_sizes[0]:,}-node closure (median of 3)",
                ms(median(l_times)),
                f"{ms(median(le_times))} (embedded store)",
                f"< {ms(TARGET_LARGE)}",
                median(l_times) < TARGET_LARGE,
            )
        )
        lc_times = await _closure_only(uri, [large] * 3, UNBOUNDED.depth, UNBOUNDED.limit)
        section.figures.append(
            Figure("of which Ripple's closure statement alone (median of 3)", ms(median(lc_times)))
        )
        data["large"] = {
            "root": large.node_id,
            "neo4j": l_times,
            "embedded": le_times,
            "closure_statement": lc_times,
        }

        naive_roots = [*roots[:NAIVE_ROOTS], large]
        naive = await _naive(uri, naive_roots)
        band_naive = [n for n in naive if n[0] is not large]
        timed_out = sum(1 for n in band_naive if n[2] is None)
        if band_naive:
            section.figures.append(
                Figure(
                    f"naive path-enumerating Cypher, same ~1,000-node roots ({len(band_naive)})",
                    f"{timed_out} of {len(band_naive)} timed out ({NAIVE_TIMEOUT:.0f} s)"
                    if timed_out
                    else f"median {ms(median([n[1] for n in band_naive]))}",
                    "— (the pruned closure above)",
                )
            )
        big = naive[-1]
        section.figures.append(
            Figure(
                f"naive path-enumerating Cypher, the {l_sizes[0]:,}-node closure",
                f"timed out after {big[1]:.1f} s ({big[3]:,} rows received)"
                if big[2] is None
                else f"{ms(big[1])} ({big[3]:,} rows)",
                "— (the pruned closure above)",
            )
        )
        data["naive"] = [
            {"root": r.node_id, "seconds": s, "nodes": n, "rows": rows} for r, s, n, rows in naive
        ]
    finally:
        await store.close()

    events = plan.events - rejected
    total = prepare_seconds + apply_seconds
    section.figures.insert(
        0,
        Figure(
            f"ingest {events:,} events into Neo4j (prepare_raw + apply, batches of {BATCH:,})",
            rate(events, total),
            rate(events, prepare_seconds + embedded_seconds) + " (embedded store, same deltas)",
            f"≥ {TARGET_RATE:,} events/s",
            events / total >= TARGET_RATE,
        ),
    )
    section.figures.insert(
        1,
        Figure(
            f"Neo4j's own ceiling here: the first {ceiling.events:,} events' nodes and "
            "relationships, each created once, nothing but a key (bench/neo4j_ceiling.py)",
            rate(ceiling.events, ceiling.seconds),
            target=f"bounds the row above (≥ {TARGET_RATE:,} events/s asked)",
        ),
    )
    section.figures.insert(
        2,
        Figure(
            f"the first {reruns:,} jobs run again a day later (lineage already held)",
            rate(reruns, rerun_prepare + rerun_seconds),
            rate(reruns, rerun_prepare + rerun_embedded) + " (embedded store, same deltas)",
        ),
    )
    heap = os.environ.get("RIPPLE_NEO4J_HEAP", HEAP)
    pagecache = os.environ.get("RIPPLE_NEO4J_PAGECACHE", PAGECACHE)
    server_note = (
        f"started for this run by scripts/neo4j (JVM heap {heap}, page cache {pagecache})"
        if started_here
        else "given with --neo4j-uri (its database cleared first)"
    )
    nodes = sum(counts.get(k, 0) for k in ("dataset", "datasetField", "job", "run"))
    edges = sum(v for k, v in counts.items() if k.isupper())
    section.notes += [
        f"Server: {server_note}, Neo4j 5.26 Community on 127.0.0.1, on the same two cores "
        "as this process.",
        f"Graph: {len(plan.datasets):,} datasets ({n_columns:,} columns), {plan.events:,} events "
        f"({rejected} rejected); Neo4j holds {nodes:,} nodes and {edges:,} relationships.",
        f"Ingest: {prepare_seconds:.2f} s in prepare_raw (orjson bytes -> parsed, projected "
        f"delta), {apply_seconds:.1f} s in `Neo4jStore.apply` ({rate(events, apply_seconds)} "
        f"for the apply alone), {embedded_seconds:.2f} s for `EmbeddedStore.apply` of the same "
        "deltas. No event log on either side. "
        f"Re-runs: the first {reruns:,} jobs again a day later (the same events but for new run "
        "ids and times, so each re-asserts datasets, schemas and column lineage the graph "
        "holds, and adds a run): "
        f"{rerun_prepare:.2f} s in prepare_raw, {rerun_seconds:.1f} s in `Neo4jStore.apply`, "
        f"{rerun_embedded:.2f} s in `EmbeddedStore.apply`.",
        f"Ceiling: on the same server before Ripple's ingest, the {ceiling.nodes:,} nodes and "
        f"{ceiling.relationships:,} relationships that the first {ceiling.events:,} events add "
        f"({ceiling.nodes / ceiling.events:.1f} and "
        f"{ceiling.relationships / ceiling.events:.1f} per event), batch by batch of {BATCH:,} "
        "events, created with the cheapest Cypher: `UNWIND … CREATE` for nodes "
        f"({rate(ceiling.nodes, ceiling.node_seconds, 'nodes/s')}), and "
        "relationships matched through an index on the key "
        f"({rate(ceiling.relationships, ceiling.relationship_seconds, 'relationships/s')}"
        "). No MERGE, no properties, no stamps, no facets, no client-side work: no "
        "transactional store that keeps the graph model of DESIGN.md can ingest these events "
        "faster on this server and these two cores. Timed on the second of two passes (the "
        f"first, on a cold JVM, took {ceiling.warm_up_seconds:.1f} s against "
        f"{ceiling.seconds:.1f} s); deleted after each.",
        f"~1,000-node blast radius: {len(roots)} datasets drawn at random ({tried:,} tried) whose "
        f"exact downstream closure (columns included) has {BAND[0]:,}-{BAND[1]:,} nodes, walked "
        "with `WalkOptions()` (depth 50, limit 10,000, columns on) on both stores; on Neo4j after "
        "a warm-up pass over the same roots (plans compiled, pages cached). 'Closure statement "
        "alone' is Ripple's var-length query "
        "(cypher.CLOSURE, `min(length(p))` per node) run by itself with its rows read. A "
        "downstream walk from a dataset runs it inside one statement (cypher.WALK_DOWN) that "
        "also returns the relationships out of the nodes it reached; the rest of the walk is "
        "that statement's extra work, decoding, and the shared walk code on the scratch graph.",
        f"Large closure: {large.node_id}, the surveyed dataset whose closure is nearest "
        f"{LARGE:,} nodes ({large.expected.nodes:,} nodes; the survey takes 16 random datasets "
        "per layer and every hub), "
        f"walked unbounded. Times: Neo4j {', '.join(ms(t) for t in l_times)}; embedded "
        f"{', '.join(ms(t) for t in le_times)}.",
        f"Naive Cypher: `{NAIVE}` with a {NAIVE_TIMEOUT:.0f} s transaction timeout, every row "
        "read by the client. It returns one row per path, not per node, so its work grows with "
        "the number of paths through the diamonds of the DAG; Ripple's closure statement "
        "(ripple/graph/neo4j/cypher.py) aggregates `min(length(p))` per node, which the planner "
        "runs as a pruning breadth-first expansion. Per root: "
        + "; ".join(
            f"{r.node_id} ({r.expected.nodes:,} nodes): "
            + (
                f"timed out after {s:.1f} s, {rows:,} rows received"
                if n is None
                else f"{ms(s)}, {rows:,} rows for {n:,} nodes"
            )
            for r, s, n, rows in naive
        )
        + ".",
        "Closure checks: Neo4j and the embedded store return the plan's node count from every root."
        if not mismatches
        else f"Closure checks: {len(mismatches)} MISMATCHES: " + "; ".join(mismatches[:5]),
    ]
    section.data = {
        **data,
        "events": events,
        "prepare_seconds": prepare_seconds,
        "apply_seconds": apply_seconds,
        "rerun_events": reruns,
        "rerun_prepare_seconds": rerun_prepare,
        "rerun_apply_seconds": rerun_seconds,
        "embedded_apply_seconds": embedded_seconds,
        "ceiling": {
            "events": ceiling.events,
            "nodes": ceiling.nodes,
            "relationships": ceiling.relationships,
            "node_seconds": ceiling.node_seconds,
            "relationship_seconds": ceiling.relationship_seconds,
            "warm_up_seconds": ceiling.warm_up_seconds,
        },
        "mismatches": mismatches,
    }
    return section


def run(n_datasets: int, seed: int, uri: str | None = None) -> Section:
    progress(f"neo4j: planning {n_datasets:,} datasets")
    plan = build_plan(n_datasets, seed)
    plan.readers()
    server = None
    if uri is None:
        server = Server()
        progress(f"neo4j: starting a private server in {server.home}")
        try:
            uri = server.start()
        except BaseException:
            server.stop()
            raise
    try:
        return asyncio.run(_measure(plan, seed, uri, server is not None))
    finally:
        if server is not None:
            progress("neo4j: stopping the private server")
            server.stop()
