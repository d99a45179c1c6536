"""The `ripple` command: serve, ingest, replay, and the impact questions."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
import pydantic
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ripple.config import Settings
from ripple.errors import MalformedInput, RippleError
from ripple.graph import queries
from ripple.graph.store import Closure, WalkOptions
from ripple.ingest.bulk import Batch, ingest_batches
from ripple.ingest.files import RawEvent, expand, input_size, read_raw
from ripple.ingest.pipeline import Outcome
from ripple.runtime import Runtime, open_runtime

T = TypeVar("T")
err = Console(stderr=True)
out = Console()

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="RIPPLE_DATA_DIR",
    default=Path(".ripple"),
    show_default=True,
    help="Where the event log and graph live (env RIPPLE_DATA_DIR).",
)


@click.group()
@click.version_option(package_name="ripple-lineage")
def main() -> None:
    """Ripple: OpenLineage in, column-level lineage graph, blast radius and backfill order out."""


@main.command()
@data_dir_option
@click.option("--host", envvar="RIPPLE_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="RIPPLE_PORT", type=int, default=5000, show_default=True)
@click.option("--demo", is_flag=True, help="Load the demo pipeline before serving.")
def serve(data_dir: Path, host: str, port: int, demo: bool) -> None:
    """Serve the HTTP API (Marquez's ingest contract + impact questions)."""
    import uvicorn

    from ripple.api.app import create_app

    settings = _settings(data_dir=data_dir, host=host, port=port)
    # The address first: a port already taken fails at once, not after the graph has loaded.
    sock = _bind(host, port)
    if demo:
        _run(_load_demo(settings))
    err.print(f"Ripple opening its graph (data in {data_dir}) …", soft_wrap=True)

    def ready(seconds: float) -> None:
        message = f"Ripple listening on http://{host}:{port} (graph opened in {seconds:.1f} s)"
        err.print(message, soft_wrap=True)

    app = create_app(settings, on_ready=ready)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    """The server's listening address, bound as uvicorn binds it (its Config.bind_socket would
    exit on a taken port without saying what to do)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise click.ClickException(
            f"Cannot listen on {host}:{port}: {exc.strerror} — another server (another "
            "`ripple serve`, or Marquez) may hold the port; stop it, or choose another with "
            "--port / RIPPLE_PORT"
        ) from None
    sock.set_inheritable(True)
    return sock


@main.command()
@data_dir_option
@click.argument("paths", nargs=-1, required=True)
@click.option("--batch", default=1000, show_default=True, help="Events per transaction.")
def ingest(data_dir: Path, paths: tuple[str, ...], batch: int) -> None:
    """Ingest OpenLineage events from files or directories (`-` reads stdin)."""
    settings = _settings(data_dir=data_dir)
    try:
        files = expand(list(paths))
    except MalformedInput as exc:
        raise click.ClickException(str(exc)) from None
    sizes = [input_size(name) for name in files]
    accepted, rejected = _run(_ingest_files(settings, files, sizes, batch))
    err.print(f"[green]{accepted} accepted[/], [red]{len(rejected)} rejected[/]")
    for where, reason in rejected[:50]:
        err.print(f"  {where}: {reason}", soft_wrap=True)
    if len(rejected) > 50:
        err.print(f"  … and {len(rejected) - 50} more")
    if rejected:
        sys.exit(1)


@main.command()
@data_dir_option
def replay(data_dir: Path) -> None:
    """Rebuild the graph from the event log alone."""

    async def go() -> int:
        runtime = await open_runtime(_settings(data_dir=data_dir), replaying=True)
        try:
            total = await runtime.log.last_seq()
            with _progress() as bar:
                task = bar.add_task("replaying", total=total)
                count = await runtime.ingestor.replay(lambda n: bar.advance(task, n))
            return count
        finally:
            await runtime.close()

    err.print(f"Replayed {_run(go())} events from {data_dir / 'events.db'}")


@main.group()
def sync() -> None:
    """Take metadata over from Airflow or Marquez (appended to the event log, then projected)."""


@sync.command(name="marquez")
@data_dir_option
@click.option(
    "--url",
    required=True,
    envvar="RIPPLE_MARQUEZ_URL",
    help="Marquez's base URL, e.g. http://127.0.0.1:5000 (env RIPPLE_MARQUEZ_URL).",
)
@click.option(
    "--page-size",
    default=500,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Events or datasets per request and per transaction.",
)
@click.option("--from-start", is_flag=True, help="Ignore the saved cursor; replay every event.")
@click.option("--retries", default=6, show_default=True, type=click.IntRange(1), help="Attempts.")
@click.option(
    "--retry-wait",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Longest wait between attempts, in seconds (exponential, full jitter).",
)
def sync_marquez(
    data_dir: Path, url: str, page_size: int, from_start: bool, retries: int, retry_wait: float
) -> None:
    """Replay a Marquez's stored events, then its dataset tags and descriptions (resumable)."""
    from ripple.ingest import marquez_sync

    retry = marquez_sync.RetryPolicy(retries, retry_wait, min(0.5, retry_wait))
    settings = _settings(data_dir=data_dir)
    run = marquez_sync.run(
        settings, url, page_size=page_size, from_start=from_start, retry=retry, console=err
    )
    if _run(run).rejected:
        sys.exit(1)


@sync.command(name="airflow")
@data_dir_option
@click.option("--url", envvar="RIPPLE_AIRFLOW_URL", help="Airflow api-server base URL.")
@click.option("--username", envvar="RIPPLE_AIRFLOW_USERNAME")
@click.option("--password", envvar="RIPPLE_AIRFLOW_PASSWORD", default="")
@click.option(
    "--namespace",
    envvar="RIPPLE_AIRFLOW_NAMESPACE",
    default="default",
    show_default=True,
    help="The OpenLineage namespace of Airflow's jobs.",
)
@click.option("--full", is_flag=True, help="Ignore the saved cursor: read every DAG's tasks.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def sync_airflow_command(
    data_dir: Path,
    url: str | None,
    username: str | None,
    password: str,
    namespace: str,
    full: bool,
    fmt: str,
) -> None:
    """DAGs, tasks, dependencies, asset links, runs and task states from Airflow's REST API."""
    from ripple.ingest.airflow_sync import client_from, sync_airflow

    settings = _settings(
        data_dir=data_dir,
        airflow_url=url,
        airflow_username=username,
        airflow_password=password,
        airflow_namespace=namespace,
    )

    async def go() -> dict[str, Any]:
        client = client_from(settings)
        runtime = await open_runtime(settings)
        try:
            with err.status("syncing Airflow") as status:
                report = await sync_airflow(
                    runtime.ingestor,
                    client,
                    settings.airflow_namespace,
                    full=full,
                    lookback=timedelta(hours=settings.airflow_lookback_hours),
                    say=lambda message: status.update(message),
                )
            return report.as_dict()
        finally:
            await runtime.close()

    report = _run(go())
    if fmt == "json":
        _print_json(report)
        return
    err.print(
        f"Synced {report['dags']} DAGs from {settings.airflow_url}: {report['written']} records "
        f"written, tasks read for {report['tasksRead']}, {report['runs']} runs and "
        f"{report['taskInstances']} task instances, {report['apiCalls']} API calls in "
        f"{report['seconds']} s"
    )
    for problem in report["rejected"]:
        err.print(f"  [red]rejected[/]: {problem}")


def _walk_command(name: str, help_text: str) -> Callable[..., None]:
    @main.command(name=name, help=help_text)
    @data_dir_option
    @click.argument("node_id")
    @click.option(
        "--depth", default=50, show_default=True, type=click.IntRange(1, queries.MAX_DEPTH)
    )
    @click.option("--limit", default=10_000, show_default=True, type=click.IntRange(1))
    @click.option(
        "--columns/--no-columns", default=True, show_default=True, help="Walk column lineage too."
    )
    @click.option("--direct-only", is_flag=True, help="Follow only DIRECT column lineage.")
    @click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
    def command(
        data_dir: Path,
        node_id: str,
        depth: int,
        limit: int,
        columns: bool,
        direct_only: bool,
        fmt: str,
    ) -> None:
        options = WalkOptions(depth, limit, columns, direct_only)
        ask = queries.impact if name == "impact" else queries.upstream
        closure = _run(_query(data_dir, lambda rt: ask(rt.store, node_id, options)))
        if fmt == "json":
            _print_json(closure.as_dict())
        else:
            _print_closure(closure)

    return command


_walk_command("impact", "Blast radius: everything downstream of NODE_ID.")
_walk_command("upstream", "Root cause: everything NODE_ID comes from, with last run states.")


@main.command(name="order")
@data_dir_option
@click.argument("node_id")
@click.option("--depth", default=50, show_default=True, type=click.IntRange(1, queries.MAX_DEPTH))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def order_command(data_dir: Path, node_id: str, depth: int, fmt: str) -> None:
    """Backfill order: the impacted jobs in layers (each layer can run in parallel)."""
    options = WalkOptions(depth, 1_000_000)
    result = _run(_query(data_dir, lambda rt: queries.order(rt.store, node_id, options)))
    if fmt == "json":
        _print_json(result.as_dict())
        return
    table = Table(title=f"Backfill order from {result.root}")
    table.add_column("layer", justify="right")
    table.add_column("jobs (run in parallel)")
    for i, layer in enumerate(result.layers, start=1):
        table.add_row(str(i), "\n".join(layer))
    out.print(table)
    for cycle in result.cycles:
        out.print(f"[red]cycle:[/] {' ⇄ '.join(cycle)}")


async def _query(data_dir: Path, ask: Callable[[Runtime], Awaitable[T]]) -> T:
    runtime = await open_runtime(_settings(data_dir=data_dir), read_only=True)
    try:
        return await ask(runtime)
    finally:
        await runtime.close()


async def _ingest_files(
    settings: Settings, files: list[str], sizes: list[int | None], batch: int
) -> tuple[int, list[tuple[str, str]]]:
    """Ingest the files (`sizes` in bytes, None for stdin) in batches, with a progress bar."""
    runtime = await open_runtime(settings)
    accepted = 0
    rejected: list[tuple[str, str]] = []
    total = None if None in sizes else sum(size or 0 for size in sizes)
    try:
        with _bytes_progress() as bar:
            task = bar.add_task("ingesting", total=total, events=0)
            position = 0  # bytes read up to the end of the batch being committed

            def batches() -> Iterator[Batch]:
                nonlocal position
                wheres: list[str] = []
                bodies: list[bytes] = []
                finished = 0  # bytes of the files read to their end
                for name, size in zip(files, sizes, strict=True):
                    bar.update(task, description=f"ingesting {Path(name).name}")
                    read = 0  # of this file (re-encoded array elements count roughly)
                    for item in read_raw(name):
                        if isinstance(item, RawEvent):
                            wheres.append(item.where)
                            bodies.append(item.body)
                            read += len(item.body) + 1
                        else:
                            rejected.append((item.where, str(item.doc)))
                        if len(bodies) >= batch:
                            position = finished + min(read, size or read)
                            yield wheres, bodies
                            wheres, bodies = [], []
                    finished += size or read
                    position = finished
                if bodies:
                    yield wheres, bodies

            def done(chunk: Batch, outcomes: list[Outcome]) -> None:
                nonlocal accepted
                for where, outcome in zip(chunk[0], outcomes, strict=True):
                    if outcome.error is None:
                        accepted += 1
                    else:
                        rejected.append((where, str(outcome.error)))
                bar.update(task, completed=position, events=accepted + len(rejected))

            await ingest_batches(runtime.ingestor, batches(), done)
    finally:
        await runtime.close()
    return accepted, rejected


async def _load_demo(settings: Settings) -> None:
    """Load the demo pipeline unless this data directory already has it."""
    from ripple.demo import JOB_NAMESPACE, demo_events

    runtime = await open_runtime(settings)
    try:
        if await runtime.store.nodes([f"job:{JOB_NAMESPACE}:stg_orders"]):
            err.print(f"The demo pipeline is already in {settings.data_dir}")
            return
        outcomes = await runtime.ingestor.ingest(demo_events())
        err.print(f"Loaded the demo pipeline ({len(outcomes)} events) into {settings.data_dir}")
    finally:
        await runtime.close()


def _print_closure(closure: Closure) -> None:
    heading = "Blast radius of" if closure.direction == "downstream" else "Upstream of"
    title = f"{heading} {closure.root}"
    table = Table(title=title)
    table.add_column("dist", justify="right")
    table.add_column("kind")
    table.add_column("node", overflow="fold")
    table.add_column("dependence")
    upstream = closure.direction == "upstream"
    if upstream:
        table.add_column("last state")
    for node in sorted(closure.nodes, key=lambda n: (n.distance, n.kind, n.id)):
        row = [str(node.distance), node.kind, node.id, node.dependence]
        if upstream:
            row.append(node.state or "-")
        table.add_row(*row)
    out.print(table)
    note = " [red](truncated: raise --limit for the full answer)[/]" if closure.truncated else ""
    out.print(f"{len(closure.nodes)} nodes, {len(closure.edges)} edges{note}")


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _settings(**values: Any) -> Settings:
    """Settings from flags and `RIPPLE_*` environment; a bad value names the setting."""
    try:
        return Settings(**values)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"RIPPLE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise click.ClickException(f"Bad setting — {problems}") from None


def _bytes_progress() -> Progress:
    """Progress through input files by bytes (with the time left), counting events as it goes."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[events]:,} events"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


def _run(coro: Awaitable[T]) -> T:
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except RippleError as exc:
        raise click.ClickException(str(exc)) from None


# Registered last: the command groups below use this module's helpers.
from ripple.remediation.commands import backfill, quarantine  # noqa: E402

main.add_command(backfill)
main.add_command(quarantine)
