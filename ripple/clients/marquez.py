"""Marquez's read API over HTTP: stored lineage events, namespaces and datasets, paged.

Every request is retried a bounded number of times with full jitter when the failure is
transient (no connection, a timeout, 429, 5xx); anything else, or retries running out, leaves
here as SourceUnavailable naming the request and what to check.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity import wait_random_exponential as full_jitter

from ripple.errors import SourceUnavailable

FAR_FUTURE = "9999-12-31T00:00:00Z"  # Marquez's own default `before` is 2030-01-01


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
            "after": iso(after),
            "before": FAR_FUTURE if before is None else iso(before),
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


def iso(value: datetime) -> str:
    """A time as Marquez's query parameters take it (UTC, microseconds, `Z`)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
