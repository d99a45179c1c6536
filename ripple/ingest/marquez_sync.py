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
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity import wait_random_exponential as full_jitter

from ripple.config import Settings
from ripple.errors import SourceUnavailable, StoreUnavailable
from ripple.ingest.eventlog import EventLog
from ripple.ingest.fields import parse_timestamp
from ripple.ingest.marquez_records import KIND, has_metadata
from ripple.ingest.pipeline import Ingestor, Outcome, Prepared, prepare, prepare_record
from ripple.model import DatasetKey

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = "9999-12-31T00:00:00Z"  # Marquez's own default `before` is 2030-01-01
# Marquez keeps microseconds (PostgreSQL rounds nanoseconds, Ripple cuts them): times this close
# to the cursor count as "at the cursor" when deciding what was already synced.
SLACK = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries of one request: `attempts` in all, waits drawn with full jitter from an
    exponentially growing range starting at `initial` seconds and capped at `max_wait`."""

    attempts: int = 6
    max_wait: float = 10.0
    initial: float = 0.5


class _Transient(Exception):
    """A failure worth retrying (connection, timeout, 5xx, 429)."""


class MarquezClient:
    """Marquez's read API over HTTP; every failure leaves here as SourceUnavailable."""

    def __init__(
        self,
        url: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = base_url(url)
        self.retry = retry or RetryPolicy()
        self._http = httpx.AsyncClient(
            base_url=self.url + "/api/v1/", timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> MarquezClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def events(
        self, after: datetime, before: datetime | None, limit: int
    ) -> tuple[list[Any], int]:
        """Stored run events with `after <= eventTime < before`, oldest first, and their count."""
        params = {
            "after": _iso(after),
            "before": FAR_FUTURE if before is None else _iso(before),
            "sortDirection": "asc",
            "limit": limit,
            "offset": 0,
        }
        body = await self._get("events/lineage", params)
        events = body.get("events")
        if not isinstance(events, list):
            raise self._not_marquez("events/lineage", "no `events` list")
        total = body.get("totalCount")
        return events, int(total) if isinstance(total, (int, float)) else len(events)

    async def namespaces(self, page_size: int) -> AsyncIterator[str]:
        async for item in self._paged("namespaces", "namespaces", page_size):
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                yield item["name"]

    async def datasets(self, namespace: str, page_size: int) -> AsyncIterator[dict[str, Any]]:
        path = f"namespaces/{quote(namespace, safe='')}/datasets"
        async for item in self._paged(path, "datasets", page_size):
            if isinstance(item, dict):
                yield item

    async def _paged(self, path: str, key: str, page_size: int) -> AsyncIterator[Any]:
        offset = 0
        while True:
            body = await self._get(path, {"limit": page_size, "offset": offset})
            items = body.get(key)
            if not isinstance(items, list):
                raise self._not_marquez(path, f"no `{key}` list")
            for item in items:
                yield item
            if len(items) < page_size:
                return
            offset += len(items)

    async def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=full_jitter(multiplier=self.retry.initial, max=self.retry.max_wait),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._get_once(path, params)
        except _Transient as exc:
            raise SourceUnavailable(
                f"Marquez at {self.url} did not answer GET /api/v1/{path} after "
                f"{self.retry.attempts} attempts over {time.monotonic() - started:.1f} s "
                f"(last: {exc}) — is it running, and is --url its base URL "
                "(scheme, host and port, without /api/v1)?"
            ) from exc
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _get_once(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._http.get(path, params=params)
        except httpx.TransportError as exc:
            raise _Transient(f"{type(exc).__name__}: {exc or 'no detail'}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise _Transient(f"HTTP {status}")
        if status >= 400:
            raise SourceUnavailable(
                f"Marquez at {self.url} answered {status} to GET /api/v1/{path}: "
                f"{response.text[:200]!r} — is --url Marquez's base URL (without /api/v1)?"
            )
        try:
            body = response.json()
        except ValueError:
            raise self._not_marquez(path, "the answer is not JSON") from None
        if not isinstance(body, dict):
            raise self._not_marquez(path, "the answer is not a JSON object")
        return body

    def _not_marquez(self, path: str, why: str) -> SourceUnavailable:
        return SourceUnavailable(
            f"{self.url}/api/v1/{path} does not look like Marquez ({why}) — check --url"
        )


def base_url(url: str) -> str:
    """Marquez's base URL as given, without a trailing `/` or `/api/v1` (the cursor's key)."""
    url = url.strip().rstrip("/")
    if url.endswith("/api/v1"):
        url = url[: -len("/api/v1")]
    return url


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
        return orjson.dumps({"time": _iso(self.time), "seen": sorted(self.seen)}).decode()

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


async def run(
    settings: Settings,
    url: str,
    *,
    page_size: int,
    from_start: bool,
    retry: RetryPolicy,
    console: Console,
) -> SyncSummary:
    """`ripple sync marquez`: the sync into the data directory, with progress and a summary."""
    from ripple.runtime import open_runtime

    runtime = await open_runtime(settings)
    try:
        async with MarquezClient(url, retry=retry) as client:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                observer = _BarObserver(bar)
                summary = await sync_marquez(
                    runtime.log,
                    runtime.ingestor,
                    client,
                    page_size=page_size,
                    from_start=from_start,
                    observer=observer,
                )
    finally:
        await runtime.close()
    print_summary(summary, console)
    return summary


class _BarObserver:
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


def print_summary(summary: SyncSummary, console: Console) -> None:
    console.print(
        f"Synced from Marquez at {summary.url}: [green]{summary.accepted} events accepted[/], "
        f"[red]{len(summary.rejected)} rejected[/]; {summary.datasets_read} datasets read, "
        f"{summary.datasets_recorded} with new tags or descriptions recorded"
    )
    for where, reason in summary.rejected[:50]:
        console.print(f"  {where}: {reason}", soft_wrap=True)
    if len(summary.rejected) > 50:
        console.print(f"  … and {len(summary.rejected) - 50} more")


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


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
