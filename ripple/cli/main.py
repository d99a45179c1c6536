"""The `ripple` command: serve, ingest, replay and the impact questions; the `backfill`,
`quarantine` and `sync` groups live beside it."""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import click
from rich.table import Table

from ripple.cli import admin, backfill, sync, tokens
from ripple.cli.console import (
    bytes_progress,
    count_progress,
    data_dir_option,
    err,
    out,
    print_json,
    run,
    settings,
    with_runtime,
)
from ripple.cli.render import print_closure
from ripple.config import Settings
from ripple.errors import MalformedInput
from ripple.graph import queries
from ripple.graph.store import WalkOptions
from ripple.ingest.bulk import Batch, ingest_batches
from ripple.ingest.files import RawEvent, expand, input_size, read_raw
from ripple.ingest.pipeline import Outcome
from ripple.runtime import open_runtime, open_state

T = TypeVar("T")


@click.group()
@click.version_option(package_name="ripple-lineage")
def main() -> None:
    """Ripple: OpenLineage in, column-level lineage graph, blast radius and backfill order out."""


main.add_command(backfill.backfill)
main.add_command(backfill.quarantine)
main.add_command(sync.sync)
main.add_command(tokens.token)
main.add_command(admin.retract)


@main.command()
@data_dir_option
@click.option("--host", help="Address to listen on [default: 127.0.0.1; env RIPPLE_HOST].")
@click.option("--port", type=int, help="Port [default: 5000; env RIPPLE_PORT].")
@click.option(
    "--ssl-certfile",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Serve HTTPS with this certificate (PEM) [env RIPPLE_SSL_CERTFILE].",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The certificate's private key (PEM) [env RIPPLE_SSL_KEYFILE].",
)
@click.option("--demo", is_flag=True, help="Load the demo pipeline before serving.")
def serve(
    data_dir: Path | None,
    host: str | None,
    port: int | None,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
    demo: bool,
) -> None:
    """Serve the HTTP API (Marquez's ingest contract + impact questions)."""
    import uvicorn

    from ripple.api import logs
    from ripple.api.app import create_app

    config = settings(
        data_dir=data_dir, host=host, port=port, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile
    )
    if (config.ssl_certfile is None) != (config.ssl_keyfile is None):
        raise click.UsageError("TLS needs both --ssl-certfile and --ssl-keyfile")
    if not _loopback(config.host) and not run(_tokens_exist(config)):
        raise click.ClickException(
            f"Refusing to listen on {config.host}: no API token exists, so anyone who reaches "
            "this address could post events and run backfills. Create an admin token first — "
            "`ripple token create admin --role admin` (with the same --data-dir / "
            "RIPPLE_DATABASE_URL) — or listen on 127.0.0.1."
        )
    logs.configure(config.log_format)
    # The address first: a port already taken fails at once, not after the graph has loaded.
    sock = _bind(config.host, config.port)
    if demo:
        run(_load_demo(config))
    err.print(f"Ripple opening its graph (data in {config.data_dir}) …", soft_wrap=True)
    scheme = "https" if config.ssl_certfile is not None else "http"

    def ready(seconds: float) -> None:
        message = (
            f"Ripple listening on {scheme}://{config.host}:{config.port} "
            f"(graph opened in {seconds:.1f} s)"
        )
        err.print(message, soft_wrap=True)

    app = create_app(config, on_ready=ready)
    server = uvicorn.Config(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,  # Ripple's own access log has the request id and the caller
        log_config=None,  # keep the handlers logs.configure set up
        # uvicorn answers 503 once this many connections are open, counting the new one
        limit_concurrency=config.max_connections + 1,
        timeout_keep_alive=30,
        ssl_certfile=str(config.ssl_certfile) if config.ssl_certfile else None,
        ssl_keyfile=str(config.ssl_keyfile) if config.ssl_keyfile else None,
    )
    uvicorn.Server(server).run(sockets=[sock])


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


async def _tokens_exist(config: Settings) -> bool:
    async with open_state(config) as state:
        return bool(await state.tokens())


def _bind(host: str, port: int) -> socket.socket:
    """The server's listening address, bound as uvicorn binds it (its Config.bind_socket would
    exit on a taken port without saying what to do)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio turns Nagle's algorithm off only on sockets that say they
    # are TCP, and an answer written in two parts (head, then body) would otherwise wait for the
    # client's delayed ACK, 40 ms a request on a keep-alive connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
def ingest(data_dir: Path | None, paths: tuple[str, ...], batch: int) -> None:
    """Ingest OpenLineage events from files or directories (`-` reads stdin)."""
    config = settings(data_dir=data_dir)
    try:
        files = expand(list(paths))
    except MalformedInput as exc:
        raise click.ClickException(str(exc)) from None
    sizes = [input_size(name) for name in files]
    accepted, rejected = run(_ingest_files(config, files, sizes, batch))
    err.print(f"[green]{accepted} accepted[/], [red]{len(rejected)} rejected[/]")
    for where, reason in rejected[:50]:
        err.print(f"  {where}: {reason}", soft_wrap=True)
    if len(rejected) > 50:
        err.print(f"  … and {len(rejected) - 50} more")
    if rejected:
        sys.exit(1)


@main.command()
@data_dir_option
def replay(data_dir: Path | None) -> None:
    """Rebuild the graph from the event log alone."""
    config = settings(data_dir=data_dir)

    async def go() -> int:
        async with await open_runtime(config, replaying=True) as runtime:
            total = await runtime.log.last_seq()
            with count_progress() as bar:
                task = bar.add_task("replaying", total=total)
                return await runtime.ingestor.replay(lambda n: bar.advance(task, n))

    err.print(f"Replayed {run(go())} events from {config.event_log_path}")


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
        data_dir: Path | None,
        node_id: str,
        depth: int,
        limit: int,
        columns: bool,
        direct_only: bool,
        fmt: str,
    ) -> None:
        options = WalkOptions(depth, limit, columns, direct_only)
        ask = queries.impact if name == "impact" else queries.upstream
        closure = run(with_runtime(data_dir, lambda rt: ask(rt.store, node_id, options)))
        if fmt == "json":
            print_json(closure.as_dict())
        else:
            print_closure(out, closure)

    return command


_walk_command("impact", "Blast radius: everything downstream of NODE_ID.")
_walk_command("upstream", "Root cause: everything NODE_ID comes from, with last run states.")


@main.command(name="order")
@data_dir_option
@click.argument("node_id")
@click.option("--depth", default=50, show_default=True, type=click.IntRange(1, queries.MAX_DEPTH))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def order_command(data_dir: Path | None, node_id: str, depth: int, fmt: str) -> None:
    """Backfill order: the impacted jobs in layers (each layer can run in parallel)."""
    options = WalkOptions(depth, 1_000_000)
    result = run(with_runtime(data_dir, lambda rt: queries.order(rt.store, node_id, options)))
    if fmt == "json":
        print_json(result.as_dict())
        return
    table = Table(title=f"Backfill order from {result.root}")
    table.add_column("layer", justify="right")
    table.add_column("jobs (run in parallel)")
    for i, layer in enumerate(result.layers, start=1):
        table.add_row(str(i), "\n".join(layer))
    out.print(table)
    for cycle in result.cycles:
        out.print(f"[red]cycle:[/] {' ⇄ '.join(cycle)}")


async def _ingest_files(
    config: Settings, files: list[str], sizes: list[int | None], batch: int
) -> tuple[int, list[tuple[str, str]]]:
    """Ingest the files (`sizes` in bytes, None for stdin) in batches, with a progress bar."""
    accepted = 0
    rejected: list[tuple[str, str]] = []
    total = None if None in sizes else sum(size or 0 for size in sizes)
    async with await open_runtime(config) as runtime:
        with bytes_progress() as bar:
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
    return accepted, rejected


async def _load_demo(config: Settings) -> None:
    """Load the demo pipeline unless this data directory already has it."""
    from ripple.ingest.demo import JOB_NAMESPACE, demo_events

    async with await open_runtime(config) as runtime:
        if await runtime.store.nodes([f"job:{JOB_NAMESPACE}:stg_orders"]):
            err.print(f"The demo pipeline is already in {config.data_dir}")
            return
        outcomes = await runtime.ingestor.ingest(demo_events())
        err.print(f"Loaded the demo pipeline ({len(outcomes)} events) into {config.data_dir}")
