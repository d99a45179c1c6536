"""The ingest pipeline: validate, append to the durable log, then project into the graph.

The order is the durability rule of DESIGN.md: an event is acknowledged only after it is in the
log, and the graph is caught up from the log on start-up, so a crash between append and
projection loses nothing. Projection is idempotent, so catching up twice is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from ripple.errors import ConfigError, InvalidEvent, MalformedInput, StoreUnavailable
from ripple.graph.delta import GraphDelta
from ripple.graph.store import GraphStore
from ripple.heap import collector_paused
from ripple.ingest import (
    airflow_records,
    aliases,
    backfill_records,
    marquez_records,
    records,
    retractions,
)
from ripple.ingest.aliases import Naming
from ripple.ingest.columns import FacetMemo
from ripple.ingest.eventlog import EventLog, log_identity
from ripple.ingest.facets import FacetWarning
from ripple.ingest.fastparse import fast_delta, fast_deltas, parse_event_json
from ripple.ingest.limits import Limits
from ripple.ingest.projection import project
from ripple.ingest.retractions import Retraction
from ripple.ingest.runs import RunBindings


@dataclass(frozen=True, slots=True)
class Prepared:
    """An event made ready to commit: its log body and graph delta, or why it is invalid; and
    the facets left out of its delta (ingest/facets.py)."""

    body: bytes | None
    delta: GraphDelta | None
    error: InvalidEvent | None = None
    warnings: tuple[FacetWarning, ...] = ()


class Reading(NamedTuple):
    """An event's graph delta, and the facets left out of it."""

    delta: GraphDelta
    warnings: tuple[FacetWarning, ...] = ()


def prepare(doc: Any, memo: FacetMemo | None = None, limits: Limits | None = None) -> Prepared:
    """Validate and project one decoded event (pure): encoded once, then as `prepare_raw`."""
    try:
        body = orjson.dumps(doc)
    except TypeError as exc:
        return Prepared(None, None, InvalidEvent("$", None, f"not JSON-encodable: {exc}"))
    return prepare_raw(body, memo, limits)


def read_event(body: bytes, memo: FacetMemo | None = None, limits: Limits | None = None) -> Reading:
    """One event's JSON to its graph delta, by the one reader ladder every route takes: the C
    projection of the common shape (`fast_delta`), else msgspec's checked structs, else the dict
    parser, which owns every error message. Raises MalformedInput when the body is not JSON at
    all (a 400 over HTTP) and InvalidEvent naming the path, value and reason otherwise (a 422).

    `limits` bound a new event from a producer (names, counts, its time); replaying the log
    passes none, so what was accepted once is read again."""
    delta = fast_delta(body, memo)
    if delta is not None and (limits is None or limits.admits(delta, limits.cutoff())):
        return Reading(delta)
    event = parse_event_json(body, memo)
    if limits is not None:
        limits.check_event(event)
    return Reading(project(event), tuple(event.warnings))


def prepare_raw(
    body: bytes, memo: FacetMemo | None = None, limits: Limits | None = None
) -> Prepared:
    """Validate and project one event's JSON (`read_event`); the body is logged as received.

    JSON that does not decode is an InvalidEvent at `$` here; call `read_event` directly where
    it must be told apart (a 400 rather than a 422)."""
    try:
        delta, warnings = read_event(body, memo, limits)
    except InvalidEvent as exc:
        return Prepared(None, None, exc)
    except MalformedInput as exc:  # the text itself is the offending value
        text = body[:200].decode("utf-8", "replace").strip()
        return Prepared(None, None, InvalidEvent("$", text, str(exc)))
    return Prepared(body, delta, None, warnings)


def prepare_many(
    bodies: list[bytes], memo: FacetMemo | None = None, limits: Limits | None = None
) -> list[Prepared]:
    """`prepare_raw` of each body, the common shape in one call into C (a batch)."""
    deltas = fast_deltas(bodies, memo)
    if limits is not None:  # what C read beyond a limit, the Python path reads and names
        cutoff = limits.cutoff()
        deltas = [d if d is None or limits.admits(d, cutoff) else None for d in deltas]
    return [
        prepare_raw(body, memo, limits) if delta is None else Prepared(body, delta)
        for body, delta in zip(bodies, deltas, strict=True)
    ]


def prepare_record(kind: str, payload: dict[str, Any]) -> Prepared:
    """One sync record (see ingest/records.py) made ready to commit like an event."""
    body = records.encode(kind, payload)
    try:
        return Prepared(body, project_record(body))
    except InvalidEvent as exc:
        return Prepared(None, None, exc)


def prepare_logged(body: bytes, memo: FacetMemo | None = None) -> Prepared:
    """A logged body, event or record, re-projected (catch-up and replay)."""
    if records.is_record(body):
        try:
            return Prepared(body, project_record(body))
        except InvalidEvent as exc:
            return Prepared(None, None, exc)
    return prepare_raw(body, memo)


PROJECTORS: dict[str, records.Projector] = {
    **airflow_records.PROJECTORS,
    **marquez_records.PROJECTORS,
    **backfill_records.PROJECTORS,
    **retractions.PROJECTORS,
}


def project_record(body: bytes) -> GraphDelta:
    """The graph delta of one logged record; InvalidEvent if its kind is unknown or it is bad."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent("$", None, f"not JSON: {exc}") from exc
    kind = doc.get(records.KEY)
    projector = PROJECTORS.get(kind) if isinstance(kind, str) else None
    if projector is None:
        raise InvalidEvent(
            f"$.{records.KEY}", kind, "not a record kind this version of Ripple knows"
        )
    try:
        return projector(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidEvent("$", kind, f"malformed {kind} record: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one submitted event: its log sequence number, or why it was rejected; and
    the facets of an accepted event that were left out of the graph."""

    seq: int | None = None
    error: InvalidEvent | None = None
    warnings: tuple[FacetWarning, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.error is None

    def as_dict(self, index: int) -> dict[str, Any]:
        if self.error is None:
            answer: dict[str, Any] = {"index": index, "status": "accepted", "seq": self.seq}
            if self.warnings:
                answer["warnings"] = [warning.as_dict() for warning in self.warnings]
            return answer
        return {"index": index, "status": "rejected", "error": self.error.as_dict()}


Progress = Callable[[int], None]
logger = logging.getLogger("ripple.ingest")


class Ingestor:
    """Validates, logs and projects events. `limits` bound the new events it is given (none:
    unbounded); the log's own events, caught up or replayed, are never held to them."""

    def __init__(
        self,
        log: EventLog,
        store: GraphStore,
        limits: Limits | None = None,
        naming: Naming | None = None,
    ) -> None:
        self.log = log
        self.store = store
        self.limits = limits
        self.naming = Naming() if naming is None else naming  # datasets' names (ingest/aliases.py)
        self.memo = FacetMemo()
        # Commits run one at a time, so the graph's "projected through" mark never passes an
        # appended batch that is not applied yet (catch-up after a crash starts from that mark).
        self._committing = asyncio.Lock()
        self._through: int | None = None  # the graph's mark as this ingestor last knew it
        self.runs = RunBindings()  # which job each recently accepted run belongs to
        self._retracted: set[int] = set()  # retracted sequence numbers this ingestor knows of

    async def ingest(self, docs: Sequence[Any]) -> list[Outcome]:
        """Validate each decoded event; append the valid ones in one transaction; project them.

        One invalid event never rejects its neighbours."""
        with collector_paused():
            return await self.commit([prepare(doc, self.memo, self.limits) for doc in docs])

    async def ingest_bodies(self, bodies: list[bytes]) -> list[Outcome]:
        """Validate each event's JSON; append the valid ones in one transaction; project them.

        One invalid event never rejects its neighbours."""
        with collector_paused():
            return await self.commit(prepare_many(bodies, self.memo, self.limits))

    async def commit(self, prepared: Sequence[Prepared]) -> list[Outcome]:
        """Append the valid prepared events to the log (one transaction), then project them."""
        batch = list(prepared)
        async with self._committing:
            seqs = await self.log_batch(batch)
            return await self.project_batch(batch, seqs)

    async def log_batch(self, prepared: list[Prepared]) -> list[int]:
        """The first half of `commit`: append the valid events; their sequence numbers. The
        caller holds `committing` until it has projected them with `project_batch`.

        An event that claims a run already bound to another job (in the graph, or earlier in
        this batch: the first claim wins) is replaced in `prepared` by its rejection
        (RunBoundElsewhere) before anything is appended: it never reaches the log."""
        # Paused until the append is done: while SQLite writes on its thread, the caller reads
        # its next batch, and a collection then would rescan every object it has prepared.
        with collector_paused():
            checked = [
                None if p.error or records.is_record(p.body or b"") else p.delta for p in prepared
            ]
            rejected, bound = await self.runs.check(checked, self.store)
            for i, error in rejected.items():
                prepared[i] = Prepared(None, None, error)
            seqs = await self.log.append([p.body for p in prepared if p.error is None])  # type: ignore[misc]
            self.runs.remember(bound)
            return seqs

    async def project_batch(self, prepared: Sequence[Prepared], seqs: list[int]) -> list[Outcome]:
        """The second half of `commit`: project the events `log_batch` appended as `seqs`."""
        if seqs:
            with collector_paused():
                gap = await self._gap_before(seqs[0])
                if gap is None:  # another process retracted events: rebuild, ours included
                    await self.replay()
                else:
                    deltas = [*gap, *(p.delta for p in prepared if p.error is None)]
                    aliases.link(deltas, self.naming)  # type: ignore[arg-type]
                    await self.store.apply(deltas, seqs[-1])  # type: ignore[arg-type]
                    self._through = seqs[-1]
        numbered = iter(seqs)
        return [
            Outcome(error=p.error) if p.error else Outcome(next(numbered), None, p.warnings)
            for p in prepared
        ]

    @property
    def committing(self) -> asyncio.Lock:
        """Held while a batch is between its append and its projection (one at a time, so the
        graph's mark never passes an appended batch that is not applied yet)."""
        return self._committing

    async def _gap_before(self, first: int) -> list[GraphDelta] | None:
        """The logged events between the graph's mark and `first` (this commit's first sequence
        number), which the graph may not hold yet; None when they include a retraction (the
        graph must then be rebuilt).

        The mark means "everything up to here is applied", and a commit moves it to its own last
        event. When the log is shared (several processes on one PostgreSQL log), others' events
        may sit below ours unapplied — their process may have died between append and apply — so
        they are applied with ours (idempotent) before the mark moves past them. One process alone
        never has a gap, and pays one integer comparison."""
        if self._through is None or first > self._through + 1:
            self._through = await self.store.projected_through()
        after, deltas = self._through, []
        while after + 1 < first:
            rows = await self.log.read(after, min(first - 1 - after, 2_000))
            for seq, body in rows:
                if retractions.is_retraction(body):
                    return None
                if seq < first and seq not in self._retracted:
                    delta = prepare_logged(body, self.memo).delta
                    if delta is not None:
                        deltas.append(delta)
            if not rows or rows[-1][0] >= first - 1:
                break
            after = rows[-1][0]
        return deltas

    async def follow(self, interval: float = 1.0) -> None:
        """Keep catching up with a log other processes append to (runs until cancelled)."""
        while True:
            await asyncio.sleep(interval)
            try:
                async with self._committing:
                    await self.catch_up()
            except StoreUnavailable as exc:  # the log or graph is away: try again next time
                logger.warning("catching up with the shared log failed: %s", exc)

    async def catch_up(self, progress: Progress | None = None, chunk: int = 2_000) -> int:
        """Project every logged event the graph has not seen yet, but retracted ones; return
        how many log records were read. A tombstone retracting events the graph holds (appended
        by another process, or before a crash) rebuilds the graph from the log without them."""
        done, stale = await self._project_log(progress, chunk)
        while stale:
            await self._clear()
            more, stale = await self._project_log(progress, chunk)
            done += more
        return done

    async def _project_log(self, progress: Progress | None, chunk: int) -> tuple[int, bool]:
        """Catch up from the graph's mark, skipping retracted events; stop early (True) at a
        tombstone whose events the graph may hold."""
        after = start = await self.store.projected_through()
        self._through = after
        if start == 0:  # from the beginning: learn every tombstone first
            self._retracted = {
                seq for retraction in await self.retractions() for seq in retraction.seqs
            }
        done = 0
        while True:
            rows = await self.log.read(after, chunk)
            if not rows:
                return done, False
            deltas = []
            for seq, body in rows:
                if seq in self._retracted:
                    continue
                if retractions.is_retraction(body):
                    retracted = retractions.retracted_by(body)
                    # Below `start` the graph may hold them; above it, they were applied in
                    # this pass unless already known to be retracted.
                    if any(s <= start or s not in self._retracted for s in retracted):
                        self._retracted |= retracted
                        return done, True
                    continue
                prepared = prepare_logged(body, self.memo)
                if prepared.delta is not None:  # else: accepted under older, looser rules
                    deltas.append(prepared.delta)
            after = rows[-1][0]
            aliases.link(deltas, self.naming)
            with collector_paused():
                await self.store.apply(deltas, after)
            self._through = after
            done += len(rows)
            if progress is not None:
                progress(len(rows))

    async def adopt_log(self) -> None:
        """Check that the graph is projected from this log, before its mark is trusted.

        The mark counts sequence numbers of one particular log; against another (a log file
        deleted and started afresh, another database) it would skip events or claim ones never
        applied. A graph that names no log yet (new, or from before logs had names) takes this
        one's; a graph that names another is refused until `ripple replay` rebuilds it."""
        identity = await log_identity(self.log)
        seen = await self.store.projected_from()
        if seen == identity:
            return
        if seen is not None:
            raise ConfigError(
                f"The graph was projected from another event log ({seen}) than the one "
                f"configured ({identity}), so it cannot be caught up from it — rebuild the graph "
                "from this log with `ripple replay` (same data directory and settings), or point "
                "Ripple at the event log the graph belongs to"
            )
        await self.store.set_projected_from(identity)

    async def replay(self, progress: Progress | None = None) -> int:
        """Rebuild the graph from the log alone (retracted events left out)."""
        await self._clear()
        return await self.catch_up(progress)

    async def _clear(self) -> None:
        await self.store.clear()
        await self.store.set_projected_from(await log_identity(self.log))
        self._through = 0
        self.runs.forget()  # the bindings of retracted events go with them

    # -- retraction -------------------------------------------------------------------------

    async def retractions(self) -> list[Retraction]:
        """Every tombstone in the log, oldest first."""
        return await retractions.logged(self.log)

    async def retract(
        self, *, run_id: uuid.UUID | None, seq: int | None, actor: str, reason: str, at: str
    ) -> tuple[Retraction, bool]:
        """Retract every event of run `run_id`, or the one logged as `seq`: a tombstone appended
        to the log, then the graph rebuilt without them. Idempotent: events already retracted
        answer the tombstone that retracted them (and False: nothing new). NotFound for a run
        with no event or a `seq` beyond the log; Conflict for a `seq` that is not an event."""
        async with self._committing:
            targets = await retractions.targets(self.log, run_id, seq)
            done = {s: r for r in await self.retractions() for s in r.seqs}
            fresh = [s for s in targets if s not in done]
            if not fresh:
                return max((done[s] for s in targets), key=lambda r: r.id), False
            run = None if run_id is None else str(run_id)
            body = retractions.encode(fresh, run, actor, reason, at)
            [tombstone] = await self.log.append([body])
            await self.replay()
            return retractions.decode(tombstone, body), True


class GroupCommitter:
    """Gathers concurrent single-event submissions into one log transaction and one projection.

    Each caller awaits its own outcome; under load many requests share one fsync."""

    def __init__(self, ingestor: Ingestor, max_batch: int = 256) -> None:
        self._ingestor = ingestor
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Prepared, asyncio.Future[Outcome]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, prepared: Prepared) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        await self._queue.put((prepared, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                outcomes = await self._ingestor.commit([prepared for prepared, _ in batch])
            except Exception as exc:  # noqa: BLE001 — every waiter must learn of the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)
