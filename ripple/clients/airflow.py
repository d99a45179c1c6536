"""The Airflow REST API adapter (API v2 through apache-airflow-client), for sync and backfills:
the only module of Ripple that imports the generated client.

Every call goes through `AirflowRest.call`, which is the one place that touches the network:
the generated client is synchronous, so calls run in a worker thread; a transient failure (no
connection, timeout, 429, 5xx) is retried with capped exponential backoff and full jitter
(tenacity), a bounded number of times; an expired token is renewed once; anything else, or
retries running out, becomes SourceUnavailable naming the call and what to check.

`AirflowRest` reads what the sync needs; `AirflowOrchestrator` wraps it for the backfill
executor (the `Orchestrator` protocol of ripple/remediation/orchestrator.py) and answers in the
plain values defined here (`DagRun`, `TaskInstance`), never in generated-client objects.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import airflow_client.client as ac
import httpx
import urllib3
from airflow_client.client.exceptions import ApiException
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from ripple.clients.runs import DagRun, TaskInstance
from ripple.errors import SourceRefused, SourceUnavailable

T = TypeVar("T")
PAGE = 100


class _Transient(Exception):
    """A failure worth retrying; carries the description of the last one."""


class RetryBudget:
    """A token bucket shared by every call of one client: each retry spends a token, tokens come
    back at `refill` per second up to `capacity`. When Airflow keeps failing, retries stop
    multiplying the load (each call then fails after its first attempt) until tokens return."""

    def __init__(self, capacity: float = 20.0, refill: float = 0.5) -> None:
        self.capacity = capacity
        self.refill = refill
        self._tokens = capacity
        self._at = time.monotonic()
        self.spent = 0
        self.denied = 0

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.refill)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            self.spent += 1
            return True
        self.denied += 1
        return False


class AirflowRest:
    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str = "",
        token: str | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        attempts: int = 5,
        max_wait: float = 8.0,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        budget: RetryBudget | None = None,
    ) -> None:
        if token is None and username is None:
            raise SourceUnavailable(
                "Airflow needs credentials: set RIPPLE_AIRFLOW_USERNAME and "
                "RIPPLE_AIRFLOW_PASSWORD, or RIPPLE_AIRFLOW_TOKEN"
            )
        self.url = url.rstrip("/")
        self._username = username
        self._password = password
        self._token = token
        self._fixed_token = token is not None
        self._timeout = timeout
        self._attempts = attempts
        self._max_wait = max_wait
        self._sleep = sleep
        self.budget = budget or RetryBudget()
        self._client: ac.ApiClient | None = None
        self._lock = threading.Lock()
        self.calls = 0  # API calls made, retries included (for reports and tests)

    # -- the one way out ------------------------------------------------------------------------

    async def call(self, what: str, fn: Callable[[ac.ApiClient], T]) -> T:
        """Run `fn(api_client)` in a thread with bounded, jittered retries of transient errors."""
        options: dict[str, Any] = {} if self._sleep is None else {"sleep": self._sleep}
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_random_exponential(multiplier=0.25, max=self._max_wait),
            retry=retry_if_exception(
                lambda exc: isinstance(exc, _Transient) and self.budget.take()
            ),
            reraise=False,
            **options,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await asyncio.to_thread(self._once, what, fn)
        except RetryError as exc:
            raise self._unavailable(what, exc.last_attempt.attempt_number, exc) from None
        except _Transient as exc:  # the retry budget is spent: no retry
            raise self._unavailable(what, 1, exc) from None
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _unavailable(self, what: str, attempts: int, exc: BaseException) -> SourceUnavailable:
        last = exc.last_attempt.exception() if isinstance(exc, RetryError) else exc
        return SourceUnavailable(
            f"Airflow at {self.url} did not answer {what} after {attempts} attempt"
            f"{'s' if attempts != 1 else ''} ({last}) — check that its api-server is running "
            "and reachable"
        )

    def _once(self, what: str, fn: Callable[[ac.ApiClient], T]) -> T:
        renewed = False
        while True:
            self.calls += 1
            try:
                return fn(self._api())
            except ApiException as exc:
                status = exc.status or 0
                if status == 401 and not renewed and not self._fixed_token:
                    renewed = True
                    self._reset()
                    continue
                if status in (429, 502, 503, 504) or status >= 500 or status == 0:
                    raise _Transient(f"HTTP {status}: {_reason(exc)}") from exc
                raise SourceRefused(
                    f"Airflow at {self.url} refused {what}: HTTP {status} {_reason(exc)}"
                    + (" — check RIPPLE_AIRFLOW_USERNAME/PASSWORD" if status in (401, 403) else ""),
                    status,
                ) from None
            except (urllib3.exceptions.HTTPError, OSError, httpx.TransportError) as exc:
                self._reset()
                raise _Transient(f"{type(exc).__name__}: {exc}") from exc

    def _api(self) -> ac.ApiClient:
        with self._lock:
            if self._client is None:
                token = self._token if self._fixed_token else self._login()
                config = ac.Configuration(host=self.url, access_token=token)
                config.retries = False  # ours, above, with jitter and a budget
                self._client = ac.ApiClient(config)
            return self._client

    def _reset(self) -> None:
        with self._lock:
            self._client = None

    def _login(self) -> str:
        answer = httpx.post(  # a TransportError is transient: `_once` retries it
            f"{self.url}/auth/token",
            json={"username": self._username, "password": self._password},
            timeout=self._timeout[1],
        )
        if answer.status_code in (401, 403):
            raise SourceRefused(
                f"Airflow at {self.url} rejected user {self._username!r} — check "
                "RIPPLE_AIRFLOW_USERNAME and RIPPLE_AIRFLOW_PASSWORD",
                answer.status_code,
            )
        if answer.status_code >= 500:
            raise _Transient(f"token: HTTP {answer.status_code}")
        if answer.status_code >= 400:
            raise SourceRefused(
                f"Airflow at {self.url} refused a token: HTTP {answer.status_code} "
                f"{answer.text[:200]} — is this Airflow 3 with the simple or FAB auth manager?",
                answer.status_code,
            )
        token: str = answer.json()["access_token"]
        return token

    def timeout(self) -> tuple[float, float]:
        return self._timeout

    # -- reads used by the sync -----------------------------------------------------------------

    async def dags(self) -> list[ac.DAGResponse]:
        return await self._pages(
            "GET /api/v2/dags",
            lambda api, offset: (
                ac.DAGApi(api)
                .get_dags(
                    limit=PAGE, offset=offset, order_by=["dag_id"], _request_timeout=self._timeout
                )
                .dags
            ),
        )

    async def tasks(self, dag_id: str) -> list[ac.TaskResponse]:
        collection = await self.call(
            f"GET /api/v2/dags/{dag_id}/tasks",
            lambda api: ac.TaskApi(api).get_tasks(dag_id, _request_timeout=self._timeout),
        )
        return list(collection.tasks or [])

    async def dag_versions(self) -> list[ac.DagVersionResponse]:
        return await self._pages(
            "GET /api/v2/dags/~/dagVersions",
            lambda api, offset: (
                ac.DagVersionApi(api)
                .get_dag_versions("~", limit=PAGE, offset=offset, _request_timeout=self._timeout)
                .dag_versions
            ),
        )

    async def assets(self) -> list[ac.AssetResponse]:
        return await self._pages(
            "GET /api/v2/assets",
            lambda api, offset: (
                ac.AssetApi(api)
                .get_assets(
                    limit=PAGE, offset=offset, order_by=["id"], _request_timeout=self._timeout
                )
                .assets
            ),
        )

    async def dag_runs(self, updated_since: datetime) -> list[ac.DAGRunResponse]:
        return await self._pages(
            "GET /api/v2/dags/~/dagRuns",
            lambda api, offset: (
                ac.DagRunApi(api)
                .get_dag_runs(
                    "~",
                    updated_at_gte=updated_since,
                    limit=PAGE,
                    offset=offset,
                    order_by=["id"],
                    _request_timeout=self._timeout,
                )
                .dag_runs
            ),
        )

    async def task_instances(self, updated_since: datetime) -> list[ac.TaskInstanceResponse]:
        return await self._pages(
            "GET /api/v2/dags/~/dagRuns/~/taskInstances",
            lambda api, offset: (
                ac.TaskInstanceApi(api)
                .get_task_instances(
                    "~",
                    "~",
                    updated_at_gte=updated_since,
                    limit=PAGE,
                    offset=offset,
                    order_by=["id"],
                    _request_timeout=self._timeout,
                )
                .task_instances
            ),
        )

    async def _pages(
        self, what: str, page: Callable[[ac.ApiClient, int], list[T] | None]
    ) -> list[T]:
        found: list[T] = []
        while True:
            offset = len(found)

            def one(api: ac.ApiClient, at: int = offset) -> list[T] | None:
                return page(api, at)

            items = await self.call(f"{what} (offset {offset})", one)
            found.extend(items or [])
            if not items or len(items) < PAGE:
                return found


def _reason(exc: ApiException) -> str:
    body = (exc.body or "") if isinstance(exc.body, str) else ""
    return (body or str(exc.reason or "")).strip()[:300]


class AirflowOrchestrator:
    """What the backfill executor asks of Airflow (ripple/remediation/orchestrator.py), through
    an `AirflowRest` and so with its retries: each method is one REST call, named in errors by
    the executor's audit action (`airflow.get_task_instance` …)."""

    def __init__(self, rest: AirflowRest) -> None:
        self.rest = rest

    @property
    def url(self) -> str:
        return self.rest.url

    async def run_at(self, dag_id: str, logical_date: datetime) -> str | None:
        runs = await self.rest.call(
            "airflow.get_dag_runs",
            lambda api: ac.DagRunApi(api).get_dag_runs(
                dag_id,
                logical_date_gte=logical_date,
                logical_date_lte=logical_date,
                limit=1,
                _request_timeout=self.rest.timeout(),
            ),
        )
        found = runs.dag_runs or []
        return found[0].dag_run_id if found else None

    async def dag_run(self, dag_id: str, run_id: str) -> DagRun:
        run = await self.rest.call(
            "airflow.get_dag_run",
            lambda api: ac.DagRunApi(api).get_dag_run(
                dag_id, run_id, _request_timeout=self.rest.timeout()
            ),
        )
        return DagRun(dag_id, run.dag_run_id, _text(run.state))

    async def task_instance(self, dag_id: str, run_id: str, task_id: str) -> TaskInstance | None:
        try:
            ti = await self.rest.call(
                "airflow.get_task_instance",
                lambda api: ac.TaskInstanceApi(api).get_task_instance(
                    dag_id, run_id, task_id, _request_timeout=self.rest.timeout()
                ),
            )
        except SourceRefused as exc:
            if exc.status == 404:
                return None
            raise
        return _task_instance(ti, dag_id)

    async def clear_task(self, dag_id: str, run_id: str, task_id: str) -> list[TaskInstance]:
        body = ac.ClearTaskInstancesBody(
            dag_run_id=run_id,
            task_ids=[ac.ClearTaskInstancesBodyTaskIdsInner(task_id)],
            only_failed=False,
            only_running=False,
            include_downstream=False,
            include_upstream=False,
            include_future=False,
            include_past=False,
            reset_dag_runs=True,
            dry_run=False,
        )
        cleared = await self.rest.call(
            "airflow.clear_task_instances",
            lambda api: ac.TaskInstanceApi(api).post_clear_task_instances(
                dag_id, body, _request_timeout=self.rest.timeout()
            ),
        )
        return [_task_instance(ti, dag_id) for ti in cleared.task_instances or []]

    async def trigger_run(
        self, dag_id: str, run_id: str, logical_date: datetime, conf: dict[str, Any]
    ) -> DagRun | None:
        body = ac.TriggerDAGRunPostBody(dag_run_id=run_id, logical_date=logical_date, conf=conf)
        try:
            run = await self.rest.call(
                "airflow.trigger_dag_run",
                lambda api: ac.DagRunApi(api).trigger_dag_run(
                    dag_id, body, _request_timeout=self.rest.timeout()
                ),
            )
        except SourceRefused as exc:
            if exc.status == 409:  # a run with that id (or at that date) exists already
                return None
            raise
        return DagRun(dag_id, run.dag_run_id, _text(run.state))


def _task_instance(ti: Any, dag_id: str) -> TaskInstance:
    return TaskInstance(
        dag_id=getattr(ti, "dag_id", None) or dag_id,
        run_id=ti.dag_run_id,
        task_id=ti.task_id,
        state=_text(ti.state),
        try_number=int(ti.try_number or 0),
    )


def _text(value: Any) -> str | None:
    """A generated-client enum (or plain string) as its string value."""
    if value is None:
        return None
    return str(getattr(value, "value", value))
