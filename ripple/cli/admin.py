"""`ripple retract`: an admin takes a poisoned event out of the graph from the command line.

The twin of `POST /api/v1/admin/retractions`: a tombstone in the event log, the graph rebuilt
without the retracted events, an audit record naming who ran the command.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import click

from ripple.cli.console import actor, data_dir_option, print_json, run, with_runtime
from ripple.ingest.retractions import Retraction
from ripple.runtime import Runtime


@click.command()
@data_dir_option
@click.option("--run-id", type=click.UUID, help="Retract every event of this run.")
@click.option("--seq", type=click.IntRange(1), help="Or retract the one log record numbered so.")
@click.option("--reason", required=True, help="Why (kept in the tombstone and the audit log).")
def retract(data_dir: Path | None, run_id: uuid.UUID | None, seq: int | None, reason: str) -> None:
    """Retract the events of a run (or one log record) and rebuild the graph without them."""
    if (run_id is None) == (seq is None):
        raise click.UsageError("Give exactly one of --run-id and --seq")
    if not reason.strip():
        raise click.UsageError("--reason must say why")

    async def work(runtime: Runtime) -> Retraction:
        return await runtime.retract(actor(), reason, run_id=run_id, seq=seq)

    print_json(run(with_runtime(data_dir, work, read_only=False)).as_dict())
