"""Take over an existing Marquez: replay its stored raw events, then its datasets' tags and
descriptions.

Events come from `GET /api/v1/events/lineage` oldest first and go through the normal ingest path
(`prepare` → `Ingestor.commit`), so they are validated, logged and projected exactly like posted
events. After each committed page the cursor is saved beside the log (`sync.marquez.<url>`), so a
rerun continues where the last one stopped; a crash between a commit and its cursor re-sends one
page, which projection absorbs (it is idempotent). Then every dataset of every namespace is read
from the datasets API, and those with tags or descriptions become `marquez.dataset` records (see
marquez_records.py); a record is written again only when its content changed.

Marquez's event listing filters `after <= eventTime < before` and orders by eventTime alone, so
events sharing a timestamp come back in no fixed order and plain offsets could skip or repeat them.
The cursor is therefore a time plus the digests of the events at that time already synced; a page
made only of one instant is read as a whole window instead. Marquez lists run events only (not
static DatasetEvent/JobEvent), and an event posted later with an older eventTime than the cursor
is seen only by `--from-start`.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from ripple.clients.marquez import MarquezClient, base_url, iso
from ripple.errors import StoreUnavailable
from ripple.ingest.eventlog import EventLog
from ripple.ingest.fields import parse_timestamp
from ripple.ingest.marquez_records import KIND, has_metadata
from ripple.ingest.pipeline import Ingestor, Outcome, Prepared, prepare, prepare_record
from ripple.model import DatasetKey

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Marquez keeps microseconds (PostgreSQL rounds nanoseconds, Ripple cuts them): times this close
# to the cursor count as "at the cursor" when deciding what was already synced.
SLACK = timedelta(milliseconds=1)


def cursor_key(url: str) -> str:
    return f"sync.marquez.{base_url(url)}"


def datasets_key(url: str) -> str:
    return f"{cursor_key(url)}.datasets"


@dataclass(frozen=True, slots=True)
class Cursor:
    """Every stored event before `time` is synced, and so are those at `time` whose digests are
    in `seen`."""

    time: datetime
    seen: frozenset[str] = frozenset()

    def dumps(self) -> str:
        return orjson.dumps({"time": iso(self.time), "seen": sorted(self.seen)}).decode()

    @classmethod
    def loads(cls, text: str | None) -> Cursor:
        if not text:
            return cls(EPOCH)
        try:
            doc = orjson.loads(text)
            when = parse_timestamp(doc["time"])
            seen = frozenset(str(digest) for digest in doc.get("seen") or ())
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            when = None
        if when is None:
            raise StoreUnavailable(
                f"saved Marquez cursor {text!r} is unreadable — use --from-start"
            )
        return cls(when, seen)


def event_digest(event: Any) -> str:
    """One event's identity across reads (key order aside)."""
    body = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(body, digest_size=12).hexdigest()


async def event_pages(
    client: MarquezClient, cursor: Cursor, page_size: int
) -> AsyncGenerator[tuple[list[Any], Cursor], None]:
    """Pages of events not yet synced, oldest first, each with the cursor that follows it."""
    while True:
        events, _ = await client.events(cursor.time, None, page_size)
        if not events:
            return
        times = [_event_time(event, cursor.time) for event in events]
        newest = max(times)
        if len(events) >= page_size and (newest == min(times) or newest <= cursor.time):
            # A full page of one instant: paging by time cannot move on, so read the instant whole.
            end = newest + SLACK
            window = await _whole_window(client, cursor.time, end, page_size)
            fresh = [e for e in window if event_digest(e) not in cursor.seen]
            # Committed a page at a time: until the last page the cursor stays at the instant
            # and grows the digests taken, so an interruption re-sends nothing.
            taken = set(cursor.seen)
            for start in range(0, max(len(fresh), 1), page_size):
                page = fresh[start : start + page_size]
                taken.update(event_digest(e) for e in page)
                last = start + page_size >= len(fresh)
                yield page, Cursor(end) if last else Cursor(cursor.time, frozenset(taken))
            cursor = Cursor(end)
            continue
        fresh = [e for e in events if event_digest(e) not in cursor.seen]
        seen = {event_digest(e) for e, t in zip(events, times, strict=True) if t >= newest - SLACK}
        if newest - cursor.time <= SLACK:
            seen |= cursor.seen
        cursor = Cursor(newest, frozenset(seen))
        yield fresh, cursor
        if len(events) < page_size:
            return


async def _whole_window(
    client: MarquezClient, after: datetime, before: datetime, page_size: int
) -> list[Any]:
    """Every event in [after, before) in one read, growing the limit until nothing is cut off."""
    _, total = await client.events(after, before, 0)
    limit = max(total, page_size) + page_size
    while True:
        events, _ = await client.events(after, before, limit)
        if len(events) < limit:
            return events
        limit *= 2


class SyncObserver(Protocol):
    def events(self, committed: int, total: int | None) -> None: ...

    def datasets(self, read: int, total: int | None) -> None: ...


@dataclass
class SyncSummary:
    url: str
    accepted: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    datasets_read: int = 0
    datasets_recorded: int = 0
    pages: int = 0


async def sync_marquez(
    log: EventLog,
    ingestor: Ingestor,
    client: MarquezClient,
    *,
    page_size: int = 500,
    from_start: bool = False,
    observer: SyncObserver | None = None,
) -> SyncSummary:
    """Replay Marquez's events after the saved cursor, then its dataset tags and descriptions.

    Raises SourceUnavailable (after bounded retries) when Marquez cannot be read; everything
    committed before that is kept and the cursor says where to continue."""
    summary = SyncSummary(client.url)
    key = cursor_key(client.url)
    cursor = Cursor(EPOCH) if from_start else Cursor.loads(await log.get_meta(key))
    if observer is not None:
        _, total = await client.events(cursor.time, None, 0)
        observer.events(0, total)
    async for batch, after in event_pages(client, cursor, page_size):
        outcomes = await ingestor.commit([prepare(doc, ingestor.memo) for doc in batch])
        await log.set_meta(key, after.dumps())
        summary.pages += 1
        for doc, outcome in zip(batch, outcomes, strict=True):
            if outcome.error is None:
                summary.accepted += 1
            else:
                summary.rejected.append((_where(doc), str(outcome.error)))
        if observer is not None:
            observer.events(len(batch), None)
    if observer is not None:  # the estimate counted events already synced at the cursor
        observer.events(0, summary.accepted + len(summary.rejected))
    await _sync_datasets(log, ingestor, client, summary, page_size, from_start, observer)
    if observer is not None:
        observer.datasets(0, summary.datasets_read)
    return summary


async def _sync_datasets(
    log: EventLog,
    ingestor: Ingestor,
    client: MarquezClient,
    summary: SyncSummary,
    page_size: int,
    from_start: bool,
    observer: SyncObserver | None,
) -> None:
    """Write a record for each dataset whose tags or descriptions differ from the last sync."""
    key = datasets_key(client.url)
    saved = None if from_start else await log.get_meta(key)
    known: dict[str, str] = orjson.loads(saved) if saved else {}
    pending: list[tuple[str, str, Prepared]] = []

    async def flush() -> None:
        outcomes: list[Outcome] = await ingestor.commit([p for _, _, p in pending])
        for (node_id, digest, _), outcome in zip(pending, outcomes, strict=True):
            if outcome.error is None:
                known[node_id] = digest
                summary.datasets_recorded += 1
            else:
                summary.rejected.append((f"Marquez dataset {node_id}", str(outcome.error)))
        await log.set_meta(key, orjson.dumps(known).decode())
        pending.clear()

    async for namespace in client.namespaces(page_size):
        async for dataset in client.datasets(namespace, page_size):
            summary.datasets_read += 1
            if observer is not None:
                observer.datasets(1, None)
            payload = dataset_payload(client.url, namespace, dataset)
            node_id = DatasetKey(payload["namespace"], payload["name"]).node_id
            digest = event_digest({k: v for k, v in payload.items() if k != "updatedAt"})
            if known.get(node_id) == digest or (node_id not in known and not has_metadata(payload)):
                continue
            pending.append((node_id, digest, prepare_record(KIND, payload)))
            if len(pending) >= page_size:
                await flush()
    if pending:
        await flush()


def dataset_payload(url: str, namespace: str, dataset: dict[str, Any]) -> dict[str, Any]:
    """The record of one dataset as Marquez's datasets API describes it."""
    ident = _object(dataset.get("id"))
    fields = [
        {"name": f.get("name"), "tags": f.get("tags") or [], "description": f.get("description")}
        for f in dataset.get("fields") or []
        if isinstance(f, dict)
    ]
    return {
        "source": url,
        "namespace": ident.get("namespace") or dataset.get("namespace") or namespace,
        "name": ident.get("name") or dataset.get("name"),
        "updatedAt": dataset.get("updatedAt") or dataset.get("createdAt"),
        "tags": dataset.get("tags") or [],
        "description": dataset.get("description"),
        "fields": fields,
    }


def _event_time(event: Any, default: datetime) -> datetime:
    text = event.get("eventTime") if isinstance(event, dict) else None
    parsed = parse_timestamp(text) if isinstance(text, str) else None
    return default if parsed is None else parsed


def _where(event: Any) -> str:
    if not isinstance(event, dict):
        return "Marquez event (not an object)"
    run, job = _object(event.get("run")), _object(event.get("job"))
    return (
        f"Marquez event {event.get('eventType')} of run {run.get('runId')} "
        f"(job {job.get('namespace')}:{job.get('name')}, {event.get('eventTime')})"
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
