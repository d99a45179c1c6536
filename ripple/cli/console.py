"""What every `ripple` command shares: the terminal, settings from flags, running a coroutine, and
progress bars. The only module besides the commands that imports click and rich."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
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

from ripple.config import Settings
from ripple.errors import RippleError
from ripple.runtime import Runtime, open_runtime

T = TypeVar("T")
# No emoji codes: node ids are full of them (`dataset:a:b` would print an emoji for `:a:`).
err = Console(stderr=True, emoji=False)
out = Console(emoji=False)

# Flags only override: `Settings` reads every RIPPLE_* variable and holds every default, so an
# option left out is passed as None and dropped (see `settings`).
data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the event log and graph live [default: .ripple; env RIPPLE_DATA_DIR].",
)


def settings(**flags: Any) -> Settings:
    """Settings from `RIPPLE_*` environment, overridden by the flags given (None: not given); a bad
    value names the setting."""
    try:
        return Settings(**{name: value for name, value in flags.items() if value is not None})
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"RIPPLE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise click.ClickException(f"Bad setting — {problems}") from None


def run(work: Awaitable[T]) -> T:
    """Run a command's coroutine; Ripple's errors end the command with their message."""
    try:
        return asyncio.run(work)  # type: ignore[arg-type]
    except RippleError as exc:
        raise click.ClickException(str(exc)) from None


async def with_runtime(
    data_dir: Path | None, work: Callable[[Runtime], Awaitable[T]], *, read_only: bool = True
) -> T:
    """`work` on the data directory's runtime (read-only unless asked: a query never writes a
    snapshot, so it can run beside a live server), closed afterwards."""
    async with await open_runtime(settings(data_dir=data_dir), read_only=read_only) as runtime:
        return await work(runtime)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def actor() -> str:
    """Who the audit trail names for a command run here."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def bytes_progress() -> Progress:
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


def count_progress() -> Progress:
    """Progress counted in items (events replayed, events and datasets synced)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )
