"""A runId names one run of one job: the check that keeps a writer from re-pointing a run.

Without it, an event reusing a runId with another job would silently move the run (its `job`
property is merged like any other: a later stamp wins). The ingest pipeline asks `RunBindings`
before it appends a batch: runs accepted recently are checked in memory, the others with one
store lookup for the whole batch, and an event that disagrees becomes its rejection
(RunBoundElsewhere, a 409) and never reaches the log. Replay does not check: a log accepted
before this rule projects as it did.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from ripple.errors import RunBoundElsewhere
from ripple.graph.delta import GraphDelta
from ripple.graph.store import GraphStore
from ripple.ingest.projection import bound_elsewhere, run_bindings

REMEMBERED = 100_000  # run -> job bindings kept in memory (the oldest go first)


class RunBindings:
    """The jobs of runs recently accepted, and the check of a batch against them and the graph."""

    def __init__(self, capacity: int = REMEMBERED) -> None:
        self._capacity = capacity
        self._jobs: dict[str, str] = {}  # run node id -> job node id, oldest first

    async def check(
        self, deltas: Sequence[GraphDelta | None], store: GraphStore
    ) -> tuple[dict[int, RunBoundElsewhere], dict[str, str]]:
        """The rejection of each delta (by position) that claims a run bound to another job —
        in the graph, or by an earlier delta of the batch (the first claim wins) — and the
        bindings the others make, to `remember` once they are logged. None is not checked."""
        known = self._jobs
        claims = [run_bindings(delta) if delta is not None else [] for delta in deltas]
        unknown = {run for pairs in claims for run, _ in pairs if run not in known}
        bound = await store.jobs_of(sorted(unknown)) if unknown else {}
        rejected: dict[int, RunBoundElsewhere] = {}
        for i, (delta, pairs) in enumerate(zip(deltas, claims, strict=True)):
            for run, claimed in pairs:
                job = bound.get(run) or known.get(run)
                if job is not None and job != claimed:
                    assert delta is not None  # it made the claim
                    rejected[i] = bound_elsewhere(delta, run, job, claimed)
                    break
            else:
                for run, claimed in pairs:
                    bound.setdefault(run, claimed)
        return rejected, bound

    def remember(self, bound: dict[str, str]) -> None:
        """Keep bindings that are now in the log."""
        jobs = self._jobs
        jobs.update(bound)
        excess = len(jobs) - self._capacity
        if excess > 0:
            for run in list(itertools.islice(jobs, excess)):
                del jobs[run]

    def forget(self) -> None:
        """Drop every remembered binding (the graph was rebuilt; the store answers again)."""
        self._jobs.clear()
