"""`ripple sync marquez` and `ripple sync airflow`: take metadata over from a Marquez or an
Airflow, with progress and a summary."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import Progress

from ripple.cli.console import count_progress, data_dir_option, err, print_json, run, settings
from ripple.config import Settings
from ripple.ingest.airflow_sync import sync_airflow
from ripple.runtime import airflow_client, open_runtime

if TYPE_CHECKING:  # imported by the command that uses them (httpx and tenacity are not free)
    from ripple.clients.marquez import RetryPolicy
    from ripple.ingest.marquez_sync import SyncSummary


@click.group()
def sync() -> None:
    """Take metadata over from Airflow or Marquez (appended to the event log, then projected)."""


@sync.command(name="marquez")
@data_dir_option
@click.option(
    "--url", help="Marquez's base URL, e.g. http://127.0.0.1:5000 [env RIPPLE_MARQUEZ_URL]."
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
def sync_marquez_command(
    data_dir: Path | None,
    url: str | None,
    page_size: int,
    from_start: bool,
    retries: int,
    retry_wait: float,
) -> None:
    """Replay a Marquez's stored events, then its dataset tags and descriptions (resumable)."""
    config = settings(data_dir=data_dir, marquez_url=url)
    if config.marquez_url is None:
        raise click.UsageError("Missing option '--url' (or set RIPPLE_MARQUEZ_URL).")
    from ripple.clients.marquez import RetryPolicy

    retry = RetryPolicy(retries, retry_wait, min(0.5, retry_wait))
    summary = run(_sync_marquez(config, config.marquez_url, page_size, from_start, retry))
    _print_summary(summary, err)
    if summary.rejected:
        sys.exit(1)


async def _sync_marquez(
    config: Settings, url: str, page_size: int, from_start: bool, retry: RetryPolicy
) -> SyncSummary:
    from ripple.clients.marquez import MarquezClient
    from ripple.ingest.marquez_sync import sync_marquez

    async with await open_runtime(config) as runtime, MarquezClient(url, retry=retry) as client:
        with count_progress() as bar:
            return await sync_marquez(
                runtime.log,
                runtime.ingestor,
                client,
                page_size=page_size,
                from_start=from_start,
                observer=_BarObserver(bar),
            )


class _BarObserver:
    """Progress bars for the two halves of a Marquez sync: events, then datasets."""

    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._events = bar.add_task("Marquez events", total=None)
        self._datasets: Any = None

    def events(self, committed: int, total: int | None) -> None:
        if total is not None:
            self._bar.update(self._events, total=total)
        self._bar.advance(self._events, committed)

    def datasets(self, read: int, total: int | None) -> None:
        if self._datasets is None:
            self._datasets = self._bar.add_task("Marquez datasets", total=None)
        if total is not None:
            self._bar.update(self._datasets, total=total)
        self._bar.advance(self._datasets, read)


def _print_summary(summary: SyncSummary, console: Console) -> None:
    console.print(
        f"Synced from Marquez at {summary.url}: [green]{summary.accepted} events accepted[/], "
        f"[red]{len(summary.rejected)} rejected[/]; {summary.datasets_read} datasets read, "
        f"{summary.datasets_recorded} with new tags or descriptions recorded"
    )
    for where, reason in summary.rejected[:50]:
        console.print(f"  {where}: {reason}", soft_wrap=True)
    if len(summary.rejected) > 50:
        console.print(f"  … and {len(summary.rejected) - 50} more")


@sync.command(name="airflow")
@data_dir_option
@click.option("--url", help="Airflow api-server base URL [env RIPPLE_AIRFLOW_URL].")
@click.option("--username", help="[env RIPPLE_AIRFLOW_USERNAME]")
@click.option("--password", help="[env RIPPLE_AIRFLOW_PASSWORD]")
@click.option(
    "--namespace",
    help="The OpenLineage namespace of Airflow's jobs [default: default; env "
    "RIPPLE_AIRFLOW_NAMESPACE].",
)
@click.option("--full", is_flag=True, help="Ignore the saved cursor: read every DAG's tasks.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def sync_airflow_command(
    data_dir: Path | None,
    url: str | None,
    username: str | None,
    password: str | None,
    namespace: str | None,
    full: bool,
    fmt: str,
) -> None:
    """DAGs, tasks, dependencies, asset links, runs and task states from Airflow's REST API."""
    config = settings(
        data_dir=data_dir,
        airflow_url=url,
        airflow_username=username,
        airflow_password=password,
        airflow_namespace=namespace,
    )

    async def go() -> dict[str, Any]:
        client = airflow_client(config)  # before the data directory is opened: no Airflow, no log
        async with await open_runtime(config) as runtime:
            with err.status("syncing Airflow") as status:
                report = await sync_airflow(
                    runtime.ingestor,
                    client,
                    config.airflow_namespace,
                    full=full,
                    lookback=timedelta(hours=config.airflow_lookback_hours),
                    say=lambda message: status.update(message),
                )
            return report.as_dict()

    report = run(go())
    if fmt == "json":
        print_json(report)
        return
    err.print(
        f"Synced {report['dags']} DAGs from {config.airflow_url}: {report['written']} records "
        f"written, tasks read for {report['tasksRead']}, {report['runs']} runs and "
        f"{report['taskInstances']} task instances, {report['apiCalls']} API calls in "
        f"{report['seconds']} s"
    )
    for problem in report["rejected"]:
        err.print(f"  [red]rejected[/]: {problem}")
