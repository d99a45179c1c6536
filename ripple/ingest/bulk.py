"""Bulk ingest: batches of events (JSON bytes) prepared and committed one transaction at a time.

Used by `ripple ingest`. (Preparing batches in worker processes was measured and rejected: on
this project's 2-vCPU machines two busy processes each run at about half speed, and handing deltas
between processes costs more than it saves.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ripple.heap import collector_paused
from ripple.ingest.pipeline import Ingestor, Outcome, prepare_raw

Batch = tuple[list[str], list[bytes]]  # (where each event came from, its JSON)


async def ingest_batches(
    ingestor: Ingestor,
    batches: Iterable[Batch],
    done: Callable[[Batch, list[Outcome]], None],
) -> None:
    """Prepare and commit each batch; `done(batch, outcomes)` once it is durable and projected."""
    for batch in batches:
        # Paused across the commit too: resumed in between, the collector's first pass would
        # scan every object of the prepared batch (about a tenth of the ingest time, measured).
        with collector_paused():
            prepared = [prepare_raw(body, ingestor.memo) for body in batch[1]]
            outcomes = await ingestor.commit(prepared)
        done(batch, outcomes)
