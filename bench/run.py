"""Run every Ripple benchmark and print a markdown report (also written to bench/results/latest.md).

    .venv/bin/python -m bench.run            # full: 8 to 10 minutes on 2 cores
    .venv/bin/python -m bench.run --quick    # smaller graph and loads: under a minute

Progress goes to stderr, the report to stdout. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import aliases, backfill, http_ingest, ingest, neo4j_store, queries
from bench.report import CpuAccount, Section, progress, render, write_atomic

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("ingest", "http", "queries", "neo4j", "backfill", "aliases")


@dataclass(frozen=True, slots=True)
class Sizes:
    ingest_events: int
    http_events: int
    http_seconds: float
    query_datasets: int
    neo4j_datasets: int


FULL = Sizes(
    ingest_events=20_000,
    http_events=10_000,
    http_seconds=120.0,
    query_datasets=100_000,
    neo4j_datasets=100_000,
)
QUICK = Sizes(
    ingest_events=5_000,
    http_events=2_000,
    http_seconds=30.0,
    query_datasets=10_000,
    neo4j_datasets=1_000,
)


def command_line(argv: Sequence[str]) -> str:
    """The command that reproduces this run, from the repository root."""
    root = Path(__file__).resolve().parent.parent
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(root))
    except ValueError:
        shown = str(python)
    return shlex.join([shown, "-m", "bench.run", *argv])


def _guarded(name: str, runner: Callable[[], Section]) -> Section:
    """Run one benchmark; a crash becomes a 'not run' line in the report, not a lost run."""
    try:
        return runner()
    except Exception as exc:  # noqa: BLE001 — reported in full on stderr and in the report
        traceback.print_exc()
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Section(
            name,
            skipped=f"failed with {type(exc).__name__}: {exc} "
            f"({Path(where.filename).name}:{where.lineno})",
        )


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 2 minutes)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="run only this benchmark (repeatable)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="HTTP client tasks (8)")
    parser.add_argument(
        "--http-client",
        choices=http_ingest.CLIENTS,
        default="raw",
        help="raw: a minimal keep-alive HTTP/1.1 client (default); httpx: httpx.AsyncClient",
    )
    parser.add_argument(
        "--server-cmd",
        help="command that starts the API instead of `ripple serve`; {python}, {data_dir}, "
        "{port} and {host} are filled in",
    )
    parser.add_argument(
        "--neo4j-uri",
        help="Bolt URI of a running Neo4j for the neo4j benchmark (its database is cleared); "
        "default: start a private one with scripts/neo4j",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS / "latest.md",
        help="report file (bench/results/latest.md)",
    )
    args = parser.parse_args(args_list)
    sizes = QUICK if args.quick else FULL
    chosen = args.only or list(SECTIONS)

    runners: dict[str, Callable[[], Section]] = {
        "ingest": lambda: ingest.run(sizes.ingest_events, args.seed),
        "http": lambda: http_ingest.run(
            sizes.http_events,
            args.seed + 1,
            args.concurrency,
            sizes.http_seconds,
            args.server_cmd,
            args.http_client,
        ),
        "queries": lambda: queries.run(sizes.query_datasets, args.seed),
        "neo4j": lambda: neo4j_store.run(sizes.neo4j_datasets, args.seed, args.neo4j_uri),
        "backfill": lambda: backfill.run(args.seed, args.quick),
        "aliases": lambda: aliases.run(sizes.query_datasets, args.seed),
    }
    started = time.perf_counter()
    cpu = CpuAccount()
    sections = []
    for name in SECTIONS:
        if name in chosen:
            progress(f"== {name}")
            sections.append(_guarded(name, runners[name]))
    elapsed = time.perf_counter() - started

    mode = "quick mode" if args.quick else "full mode"
    others = cpu.others()
    extra = {
        "other load": f"{others:,.0f} CPU-seconds used by other processes during the run "
        f"({others / elapsed:.0%} of one core; near 0 on a quiet machine)"
    }
    text = render(command_line(args_list), mode, sections, elapsed, extra)
    print(text)
    write_atomic(args.out, text)
    raw = {section.title: section.data for section in sections}
    write_atomic(args.out.with_suffix(".json"), json.dumps(raw, indent=2, default=str) + "\n")
    progress(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
