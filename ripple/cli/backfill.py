"""`ripple backfill …` and `ripple quarantine …`: plan (a dry run unless --save), show, list, run
and cancel plans, and quarantine datasets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from ripple.cli import render
from ripple.cli.console import actor, data_dir_option, err, out, print_json, run, with_runtime
from ripple.graph import queries
from ripple.remediation import service
from ripple.remediation.planner import PlanOptions
from ripple.runtime import Runtime

T = TypeVar("T")
FORMATS = click.Choice(["table", "json", "mermaid"])


def _show(plan: dict[str, Any], fmt: str, title: str | None = None) -> None:
    if fmt == "json":
        print_json(plan)
    elif fmt == "mermaid":
        click.echo(render.plan_mermaid(plan), nl=False)
    else:
        out.print(render.plan_table(plan, title))


@click.group()
def backfill() -> None:
    """Backfill plans: the minimal, ordered Airflow task instances to redo after bad data."""


@backfill.command(name="plan")
@data_dir_option
@click.argument("roots", nargs=-1, required=True)
@click.option("--date", "dates", multiple=True, help="A logical date (repeatable), ISO 8601.")
@click.option("--from", "start", help="First logical date of a range (inclusive).")
@click.option("--to", "end", help="Last logical date of a range (inclusive).")
@click.option("--include-dag", multiple=True, help="Only DAGs matching this glob (repeatable).")
@click.option("--exclude-dag", multiple=True, help="Leave out DAGs matching this glob.")
@click.option("--include-task", multiple=True, help="Only tasks matching (dag.task or task).")
@click.option("--exclude-task", multiple=True, help="Leave out tasks matching this glob.")
@click.option(
    "--max-tasks",
    type=click.IntRange(1),
    help="Refuse plans with more units (default: RIPPLE_DEFAULT_MAX_TASKS, 1000).",
)
@click.option("--truncate", is_flag=True, help="Cut the plan at --max-tasks instead (flagged).")
@click.option("--max-parallel", type=click.IntRange(1), help="Units running at once.")
@click.option(
    "--depth",
    default=queries.MAX_DEPTH,
    show_default=True,
    type=click.IntRange(1, queries.MAX_DEPTH),
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--save", is_flag=True, help="Persist the plan (prints its id and hash).")
def plan_command(
    data_dir: Path | None,
    roots: tuple[str, ...],
    dates: tuple[str, ...],
    start: str | None,
    end: str | None,
    include_dag: tuple[str, ...],
    exclude_dag: tuple[str, ...],
    include_task: tuple[str, ...],
    exclude_task: tuple[str, ...],
    max_tasks: int | None,
    truncate: bool,
    max_parallel: int | None,
    depth: int,
    fmt: str,
    save: bool,
) -> None:
    """Plan a backfill from ROOT… (datasets, columns, jobs or failed runs); a dry run unless
    --save."""

    async def work(runtime: Runtime) -> Any:
        options = PlanOptions(
            include_dag,
            exclude_dag,
            include_task,
            exclude_task,
            max_tasks,
            max_parallel,
            truncate,
            runtime.settings.default_max_tasks,  # RIPPLE_DEFAULT_MAX_TASKS, unless --max-tasks
        )
        request = service.PlanRequest(roots, service.parse_dates(dates, start, end), options, depth)
        return await service.plan_and_store(
            runtime.store, runtime.remediation, request, actor=actor(), save=save
        )

    result, stored = run(with_runtime(data_dir, work))
    _show(result.as_dict(), fmt)
    if stored is not None:
        click.echo(f"saved plan {stored.id} sha256 {stored.content_hash}", err=True)


@backfill.command(name="show")
@data_dir_option
@click.argument("plan_id")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def show_command(data_dir: Path | None, plan_id: str, fmt: str) -> None:
    """A saved plan, with its units' states."""

    async def work(runtime: Runtime) -> Any:
        stored = await runtime.remediation.get_plan(plan_id)
        return stored, await runtime.remediation.units(plan_id)

    stored, units = run(with_runtime(data_dir, work))
    assert stored.plan is not None
    if fmt == "json":
        print_json(
            {**stored.summary(), "plan": stored.plan, "unitStates": [u.as_dict() for u in units]}
        )
        return
    title = f"Backfill plan {stored.id} ({stored.status}), sha256 {stored.content_hash[:16]}…"
    _show(stored.plan, fmt, title)
    if fmt == "table":
        counts: dict[str, int] = {}
        for unit in units:
            counts[unit.state] = counts.get(unit.state, 0) + 1
        out.print("unit states: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


@backfill.command(name="run")
@data_dir_option
@click.argument("plan_id")
@click.option(
    "--poll",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds between looks at Airflow.",
)
@click.option(
    "--max-parallel",
    type=click.IntRange(1),
    help="Units running at once (default: the plan's maxParallel, else 4).",
)
@click.option(
    "--breaker-threshold",
    default=3,
    show_default=True,
    type=click.IntRange(1),
    help="Failed Airflow calls (each after its own retries) that open the circuit.",
)
@click.option(
    "--breaker-ttl",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds the circuit stays open before a probe.",
)
def run_command(
    data_dir: Path | None,
    plan_id: str,
    poll: float,
    max_parallel: int | None,
    breaker_threshold: int,
    breaker_ttl: float,
) -> None:
    """Run (or resume) a saved plan through Airflow's REST API (RIPPLE_AIRFLOW_*)."""
    from ripple.remediation.executor import ExecutorOptions  # slow to import: only here

    options = ExecutorOptions(
        actor=actor(),
        poll_interval=poll,
        max_parallel=max_parallel,
        breaker_threshold=breaker_threshold,
        breaker_ttl=breaker_ttl,
    )

    async def work(runtime: Runtime) -> str:
        with err.status(f"running backfill {plan_id}") as status:

            def say(message: str) -> None:
                status.update(f"{plan_id}: {message}")

            async def progress() -> None:
                while True:
                    units = await runtime.remediation.units(plan_id)
                    counts: dict[str, int] = {}
                    for unit in units:
                        counts[unit.state] = counts.get(unit.state, 0) + 1
                    say(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
                    await asyncio.sleep(max(poll, 1.0))

            ticker = asyncio.create_task(progress())
            try:
                return await runtime.run_backfill(plan_id, options, say)
            finally:
                ticker.cancel()

    final = run(with_runtime(data_dir, work, read_only=False))
    click.echo(f"backfill {plan_id}: {final}", err=True)
    if final != "succeeded":
        raise SystemExit(1)


@backfill.command(name="cancel")
@data_dir_option
@click.argument("plan_id")
def cancel_command(data_dir: Path | None, plan_id: str) -> None:
    """Stop launching a plan's units (running ones are followed to their end)."""

    async def work(runtime: Runtime) -> str:
        return await service.cancel(runtime.remediation, plan_id, actor())

    click.echo(f"backfill {plan_id}: {run(with_runtime(data_dir, work))}", err=True)


@backfill.command(name="list")
@data_dir_option
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def list_command(data_dir: Path | None, limit: int, fmt: str) -> None:
    """Saved plans, newest first."""

    async def work(runtime: Runtime) -> Any:
        return await runtime.remediation.list_plans(limit)

    plans = run(with_runtime(data_dir, work))
    if fmt == "json":
        print_json([p.summary() for p in plans])
        return
    table = Table(title="Backfill plans")
    table.add_column("id", no_wrap=True)
    for column in ("created", "by", "status", "units", "roots", "sha256"):
        table.add_column(column, overflow="fold")
    for p in plans:
        table.add_row(
            p.id,
            p.created_at[:19],
            p.created_by,
            p.status,
            str(p.unit_count),
            "\n".join(p.request.get("roots", [])),
            p.content_hash[:12],
        )
    out.print(table)


@click.group()
def quarantine() -> None:
    """Quarantined datasets: backfill plans hold everything downstream of them."""


@quarantine.command(name="add")
@data_dir_option
@click.argument("dataset_id")
@click.option("--reason", help="Why (kept with the entry and in the audit log).")
def quarantine_add(data_dir: Path | None, dataset_id: str, reason: str | None) -> None:
    """Quarantine DATASET_ID."""

    async def work(runtime: Runtime) -> Any:
        return await service.quarantine(
            runtime.store, runtime.remediation, dataset_id, actor(), reason
        )

    entry = run(with_runtime(data_dir, work))
    click.echo(f"quarantined {entry.dataset_id} since {entry.since}")


@quarantine.command(name="remove")
@data_dir_option
@click.argument("dataset_id")
def quarantine_remove(data_dir: Path | None, dataset_id: str) -> None:
    """Lift the quarantine of DATASET_ID."""

    async def work(runtime: Runtime) -> Any:
        await service.release(runtime.remediation, dataset_id, actor(), runtime.store)

    run(with_runtime(data_dir, work))
    click.echo(f"released {dataset_id}")


@quarantine.command(name="list")
@data_dir_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def quarantine_list(data_dir: Path | None, fmt: str) -> None:
    """Every quarantined dataset."""

    async def work(runtime: Runtime) -> Any:
        return await runtime.remediation.quarantined()

    entries = run(with_runtime(data_dir, work))
    if fmt == "json":
        print_json([e.as_dict() for e in entries])
        return
    table = Table(title="Quarantined datasets")
    for column in ("dataset", "since", "by", "reason"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(e.dataset_id, e.since[:19], e.actor, e.reason or "")
    out.print(table)
