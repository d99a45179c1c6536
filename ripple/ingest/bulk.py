"""Bulk ingest: batches of events (JSON bytes) prepared, logged and projected in order.

Used by `ripple ingest`. Three steps overlap on two cores: while the log appends batch k+1 (the
SQLite log writes a batch with the GIL released), the main thread projects batch k into the graph
and then parses batch k+2. Each batch is still logged before it is projected, batches are logged
and projected in order, and each is reported done only once it is durable and projected.
(Preparing batches in worker processes was measured and rejected: handing deltas between
processes costs more than it saves.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from ripple.heap import collector_paused
from ripple.ingest.pipeline import Ingestor, Outcome, Prepared, prepare_many

Batch = tuple[list[str], list[bytes]]  # (where each event came from, its JSON)


async def ingest_batches(
    ingestor: Ingestor,
    batches: Iterable[Batch],
    done: Callable[[Batch, list[Outcome]], None],
) -> None:
    """Prepare, log and project each batch; `done(batch, outcomes)` once it is durable and
    projected. Holds the ingestor's commit lock throughout."""
    # The batch whose append is under way: (batch, its prepared events, the append).
    in_flight: tuple[Batch, list[Prepared], asyncio.Task[list[int]]] | None = None
    async with ingestor.committing:
        try:
            for batch in batches:
                # Paused across the commit too: resumed in between, the collector's first pass
                # would scan every object of the prepared batch (a tenth of the time, measured).
                with collector_paused():
                    prepared = prepare_many(batch[1], ingestor.memo, ingestor.limits)
                    if in_flight is not None:
                        seqs = await in_flight[2]
                    started = (batch, prepared, asyncio.ensure_future(ingestor.log_batch(prepared)))
                    await asyncio.sleep(0)  # the append starts before the projection below
                    if in_flight is not None:
                        outcomes = await ingestor.project_batch(in_flight[1], seqs)
                if in_flight is not None:
                    done(in_flight[0], outcomes)
                in_flight = started
            if in_flight is not None:
                batch, prepared, task = in_flight
                in_flight = None
                with collector_paused():
                    outcomes = await ingestor.project_batch(prepared, await task)
                done(batch, outcomes)
        finally:
            if in_flight is not None:  # an error (or a stop) while an append was under way
                await asyncio.gather(in_flight[2], return_exceptions=True)
