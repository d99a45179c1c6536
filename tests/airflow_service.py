"""A real Airflow 3.3 for the tests, wired to a real Ripple: the session harness.

How it is had (see tests/script_service.py for the conventions):

- `RIPPLE_TEST_AIRFLOW_URL` names a running Airflow (admin/admin, the example DAGs of
  examples/airflow/dags, `RIPPLE_AIRFLOW_SCHEDULES=off` advised). It must come with
  `RIPPLE_TEST_AIRFLOW_RIPPLE_URL` (the Ripple its OpenLineage transport posts to),
  `RIPPLE_TEST_AIRFLOW_WAREHOUSE_URL` (the `warehouse` connection's database) and optionally
  `RIPPLE_TEST_AIRFLOW_NAMESPACE` (default `airflow`).
- Otherwise the first test that asks starts, once per session: a `ripple serve` on a free port with
  its own data directory (first: the OpenLineage transport must point at it), then
  `scripts/airflow start` on a free port in a temporary home, with two fresh databases (metadata and
  warehouse) on the tests' PostgreSQL (tests/postgres_service.py) and schedules off, so only runs
  the tests trigger run. The session stops both and drops the databases.
- Unavailable: the test fails in CI (env CI set) and is skipped elsewhere, with how to fix it.

Tests get an `AirflowEnv` (fixture `airflow_env` in tests/integration/conftest.py, session-scoped):

    env.airflow_url, env.username, env.password       the api-server, admin/admin
    env.token(), env.api_client()                     a JWT; an airflow_client ApiClient
    env.ripple_url, env.ripple_data_dir               the Ripple Airflow posts OpenLineage to
    env.warehouse_dsn                                 the pipeline's PostgreSQL database
    env.namespace                                     the OpenLineage namespace of DAG/task jobs
    env.dataset_id("raw.orders"), env.field_id("raw.orders", "amount_cents"),
    env.job_id("shop_marts", "build_customer_stats")  Ripple node ids
    env.unused_days(dag_ids, n, start)                dates with no run yet (one run per date)
    env.trigger(dag_id, day, conf=...)                run one logical date and wait → DagRunResult
    env.start_run(...), env.wait_for_dag_run(...)     the same in two steps
    env.task_instances(dag_id, dag_run_id)            task_id → TaskInstanceResponse
    env.wait_for_ripple_run(dag_id, task_id, dag_run_id, try_number=...)
                                                      Ripple's run node once it is terminal
    env.ripple(path, **params), env.ripple_node(id)   Ripple's HTTP API
    env.stop_components("api-server"), env.start_components()
                                                      take parts of Airflow down and back up

Airflow allows one run per DAG and logical date: give each test its own dates (unused_days), and
rerun a date by clearing task instances (TaskInstanceApi.post_clear_task_instances, see
tests/integration/test_airflow_e2e.py). The example DAGs run with schedules off (only triggered
runs) and `retries=0`, so try numbers count reruns exactly.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import airflow_client.client as ac
import httpx
import psycopg
from psycopg import sql

from tests.integration.server import RippleServer, free_port
from tests.postgres_service import SERVICE as POSTGRES
from tests.script_service import ROOT, ScriptService

USERNAME = "admin"
PASSWORD = "admin"
NAMESPACE = "ripple-test"
TERMINAL_DAG_RUN_STATES = frozenset({"success", "failed"})
TERMINAL_RIPPLE_STATES = frozenset({"COMPLETE", "FAIL", "ABORT"})


@dataclass(frozen=True)
class DagRunResult:
    """A finished DAG run: its id, final state and task instances (task_id → instance)."""

    dag_id: str
    dag_run_id: str
    logical_date: datetime | None
    state: str  # "success" | "failed"
    task_instances: Mapping[str, ac.TaskInstanceResponse]
    seconds: float  # from the trigger call to the terminal state


@dataclass
class AirflowEnv:
    """One Airflow wired to one Ripple, and helpers to drive both.

    airflow_url        Airflow's api-server (UI at /, REST API at /api/v2, no trailing slash)
    username/password  simple auth manager user (admin/admin)
    ripple_url         the Ripple server Airflow's OpenLineage transport posts to
    ripple_data_dir    its data directory (None when the Ripple was given by env)
    warehouse_dsn      the example pipeline's database (the DAGs' `warehouse` connection)
    namespace          the OpenLineage namespace of the DAG and task jobs
    script_env         the environment scripts/airflow started it with (None when given by env):
                       stop_components / start_components use it
    warehouse_namespace / warehouse_database
                       how the provider names the warehouse tables: dataset
                       `<warehouse_namespace>:<warehouse_database>.<schema>.<table>`
    """

    airflow_url: str
    ripple_url: str
    ripple_data_dir: Path | None
    warehouse_dsn: str
    namespace: str
    username: str = USERNAME
    password: str = PASSWORD
    script_env: Mapping[str, str] | None = field(default=None, repr=False)  # scripts/airflow's
    _token: tuple[str, float] | None = field(default=None, repr=False)

    # --- naming ---------------------------------------------------------------------------------

    @property
    def warehouse_namespace(self) -> str:
        parts = urlsplit(self.warehouse_dsn)
        return f"postgres://{parts.hostname}:{parts.port or 5432}"

    @property
    def warehouse_database(self) -> str:
        return urlsplit(self.warehouse_dsn).path.lstrip("/")

    def dataset_id(self, table: str) -> str:
        """Ripple's node id of a warehouse table, e.g. dataset_id("raw.orders")."""
        return f"dataset:{self.warehouse_namespace}:{self.warehouse_database}.{table}"

    def field_id(self, table: str, column: str) -> str:
        """Ripple's node id of a warehouse column, e.g. field_id("raw.orders", "amount_cents")."""
        return f"datasetField:{self.warehouse_namespace}:{self.warehouse_database}.{table}:{column}"

    def job_id(self, dag_id: str, task_id: str | None = None) -> str:
        """Ripple's node id of a DAG's job (task_id None) or a task's job (`<dag_id>.<task_id>`)."""
        name = dag_id if task_id is None else f"{dag_id}.{task_id}"
        return f"job:{self.namespace}:{name}"

    # --- Airflow --------------------------------------------------------------------------------

    def token(self) -> str:
        """A JWT for the REST API (cached; Airflow's are valid for 24 h)."""
        if self._token is None or self._token[1] < time.monotonic():
            response = httpx.post(
                f"{self.airflow_url}/auth/token",
                json={"username": self.username, "password": self.password},
                timeout=30,
            )
            response.raise_for_status()
            self._token = (response.json()["access_token"], time.monotonic() + 3600)
        return self._token[0]

    def api_client(self) -> ac.ApiClient:
        """An `airflow_client.client` ApiClient, authenticated (host without /api/v2)."""
        return ac.ApiClient(ac.Configuration(host=self.airflow_url, access_token=self.token()))

    def trigger(
        self,
        dag_id: str,
        logical_date: date | datetime,
        *,
        conf: Mapping[str, Any] | None = None,
        dag_run_id: str | None = None,
        timeout: float = 300.0,
    ) -> DagRunResult:
        """Trigger `dag_id` for `logical_date` (a date means its UTC midnight, the DAGs' schedule)
        and wait until the run is success or failed. Returns the run with its task instances."""
        started = time.monotonic()
        run_id = self.start_run(dag_id, logical_date, conf=conf, dag_run_id=dag_run_id)
        return self.wait_for_dag_run(dag_id, run_id, timeout=timeout, started=started)

    def start_run(
        self,
        dag_id: str,
        logical_date: date | datetime,
        *,
        conf: Mapping[str, Any] | None = None,
        dag_run_id: str | None = None,
    ) -> str:
        """Trigger `dag_id` for `logical_date` without waiting; returns the DAG run id."""
        when = as_logical_date(logical_date)
        run_id = dag_run_id or f"ripple_test__{when:%Y-%m-%d}__{secrets.token_hex(3)}"
        with self.api_client() as client:
            ac.DagRunApi(client).trigger_dag_run(
                dag_id,
                ac.TriggerDAGRunPostBody(
                    dag_run_id=run_id, logical_date=when, conf=dict(conf or {})
                ),
            )
        return run_id

    def wait_for_dag_run(
        self, dag_id: str, dag_run_id: str, *, timeout: float = 300.0, started: float | None = None
    ) -> DagRunResult:
        """Poll a DAG run until it is success or failed; TimeoutError names the task states."""
        started = time.monotonic() if started is None else started
        deadline = time.monotonic() + timeout
        with self.api_client() as client:
            runs = ac.DagRunApi(client)
            while True:
                run = runs.get_dag_run(dag_id, dag_run_id)
                state = str(getattr(run.state, "value", run.state))
                if state in TERMINAL_DAG_RUN_STATES:
                    break
                if time.monotonic() > deadline:
                    states = {
                        task_id: str(ti.state)
                        for task_id, ti in self._tis(client, dag_id, dag_run_id)
                    }
                    raise TimeoutError(
                        f"{dag_id} {dag_run_id} still {state} after {timeout}s: {states}"
                    )
                time.sleep(0.5)
            seconds = time.monotonic() - started
            return DagRunResult(
                dag_id=dag_id,
                dag_run_id=dag_run_id,
                logical_date=run.logical_date,
                state=state,
                task_instances=dict(self._tis(client, dag_id, dag_run_id)),
                seconds=seconds,
            )

    def unused_days(self, dag_ids: Iterable[str], count: int, start: date) -> list[date]:
        """The first `count` days from `start` on which none of `dag_ids` has a run yet (Airflow
        allows one run per DAG and logical date; a shared Airflow may have run some already)."""
        taken: set[date] = set()
        with self.api_client() as client:
            runs = ac.DagRunApi(client)
            for dag_id in dag_ids:
                found = runs.get_dag_runs(dag_id, limit=1000)
                taken |= {r.logical_date.date() for r in found.dag_runs if r.logical_date}
        days: list[date] = []
        day = start
        while len(days) < count:
            if day not in taken:
                days.append(day)
            day += timedelta(days=1)
        return days

    def task_instances(self, dag_id: str, dag_run_id: str) -> dict[str, ac.TaskInstanceResponse]:
        """The task instances of one DAG run, by task id (unmapped tasks only)."""
        with self.api_client() as client:
            return dict(self._tis(client, dag_id, dag_run_id))

    @staticmethod
    def _tis(
        client: ac.ApiClient, dag_id: str, dag_run_id: str
    ) -> Iterable[tuple[str, ac.TaskInstanceResponse]]:
        found = ac.TaskInstanceApi(client).get_task_instances(dag_id, dag_run_id, limit=1000)
        return [(ti.task_id, ti) for ti in found.task_instances]

    def stop_components(self, *components: str) -> None:
        """Stop some of Airflow's components (e.g. "api-server", to make its API fail for a
        while); start_components() brings them back. Only for an Airflow this session started."""
        self._script("stop", *components)

    def start_components(self) -> None:
        """Start whatever components are stopped, with the same settings; wait until ready."""
        self._script("start")

    def _script(self, *args: str) -> None:
        if self.script_env is None:
            raise RuntimeError(
                "this Airflow was given by RIPPLE_TEST_AIRFLOW_URL; not ours to stop"
            )
        done = subprocess.run(
            [str(ROOT / "scripts" / "airflow"), *args],
            env=dict(self.script_env),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/airflow {' '.join(args)} failed: {done.stderr[-2000:]}")

    # --- Ripple ---------------------------------------------------------------------------------

    def ripple(self, path: str, **params: Any) -> Any:
        """GET a Ripple API path (e.g. "/api/v1/impact", nodeId=...) and return its JSON."""
        response = httpx.get(f"{self.ripple_url}{path}", params=params, timeout=60)
        response.raise_for_status()
        return response.json()

    def ripple_node(self, node_id: str) -> dict[str, Any] | None:
        """Ripple's node (GET /api/v1/nodes), or None while it does not know it."""
        response = httpx.get(
            f"{self.ripple_url}/api/v1/nodes", params={"nodeId": node_id}, timeout=60
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        node: dict[str, Any] = response.json()
        return node

    def wait_for_ripple_run(
        self,
        dag_id: str,
        task_id: str | None,
        dag_run_id: str,
        *,
        try_number: int | None = None,
        states: Iterable[str] = TERMINAL_RIPPLE_STATES,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        """Wait until Ripple has the OpenLineage run of one Airflow task instance (task_id given)
        or DAG run (task_id None) in one of `states`, and return its node
        (`{"id": "run:<uuid>", "props": {...}}`).

        Found through the job's last run (`props.last_run` of GET /api/v1/nodes; not `lastRun`,
        the run that last asserted the node — a SQL hook's query run can), matched on the
        Airflow run facet's dag_run_id (and try number): wait for each run before starting
        another run of the same task, as the tests do."""
        wanted = frozenset(states)
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            run = self.find_ripple_run(dag_id, task_id, dag_run_id, try_number=try_number)
            if run is not None:
                last = run["props"].get("state")
                if last in wanted:
                    return run
            time.sleep(0.2)
        name = dag_id if task_id is None else f"{dag_id}.{task_id}"
        raise TimeoutError(
            f"Ripple has no {sorted(wanted)} run of {name} for {dag_run_id} after {timeout}s "
            f"(last state seen: {last}); is Airflow's OpenLineage transport pointed at "
            f"{self.ripple_url}?"
        )

    def find_ripple_run(
        self, dag_id: str, task_id: str | None, dag_run_id: str, *, try_number: int | None = None
    ) -> dict[str, Any] | None:
        """One look (no waiting) for the run wait_for_ripple_run waits for, in any state."""
        job = self.ripple_node(self.job_id(dag_id, task_id))
        if job is None or not job["props"].get("last_run"):
            return None
        run = self.ripple_node(job["props"]["last_run"])
        if run is None or not _matches(run["props"], task_id, dag_run_id, try_number):
            return None
        return run


def _matches(
    props: Mapping[str, Any], task_id: str | None, dag_run_id: str, try_number: int | None
) -> bool:
    if task_id is None:
        facet = props.get("facet.airflowDagRun", {})
        return bool(facet.get("dagRun", {}).get("run_id") == dag_run_id)
    facet = props.get("facet.airflow", {})
    if facet.get("dagRun", {}).get("run_id") != dag_run_id:
        return False
    return try_number is None or facet.get("taskInstance", {}).get("try_number") == try_number


def as_logical_date(value: date | datetime) -> datetime:
    """A date → its UTC midnight (the example DAGs' daily schedule); a datetime must be aware."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"logical date {value} has no time zone")
        return value
    return datetime.combine(value, dtime(0), tzinfo=UTC)


class AirflowService(ScriptService):
    name = "Airflow"
    script = "airflow"
    configured_by = "RIPPLE_TEST_AIRFLOW_URL"
    how_to = (
        "the tests start one themselves with scripts/airflow (Airflow 3.3.2 from PyPI into "
        ".services/airflow-venv: run `scripts/airflow install` once with network access) on the "
        "tests' PostgreSQL (Debian's postgresql package, see tests/postgres_service.py); or "
        "set RIPPLE_TEST_AIRFLOW_URL, RIPPLE_TEST_AIRFLOW_RIPPLE_URL and "
        "RIPPLE_TEST_AIRFLOW_WAREHOUSE_URL"
    )
    failures = (OSError, RuntimeError, httpx.HTTPError, psycopg.Error)

    def __init__(self) -> None:
        super().__init__()
        self._ripple: RippleServer | None = None
        self._ripple_dir: Path | None = None
        self._server_url: str | None = None  # the PostgreSQL server holding our databases
        self._databases: tuple[str, ...] = ()
        self._airflow_env: AirflowEnv | None = None

    def env(self) -> AirflowEnv:
        """The session's Airflow + Ripple; fails (CI) or skips the calling test."""
        url = self.address()
        if self._airflow_env is None:
            if self._ripple is not None:
                ripple_url, data_dir = self._ripple.url, self._ripple.data_dir
                warehouse, namespace = self._warehouse_dsn(), NAMESPACE
            else:
                ripple_url = _required("RIPPLE_TEST_AIRFLOW_RIPPLE_URL")
                warehouse = _required("RIPPLE_TEST_AIRFLOW_WAREHOUSE_URL")
                namespace = os.environ.get("RIPPLE_TEST_AIRFLOW_NAMESPACE", "airflow")
                data_dir = None
            self._airflow_env = AirflowEnv(
                url, ripple_url, data_dir, warehouse, namespace, script_env=self._env
            )
        return self._airflow_env

    def _connect(self) -> str:
        if os.environ.get(self.configured_by):
            return super()._connect()
        # Ripple first: Airflow's OpenLineage transport is configured with its URL at start.
        self._ripple_dir = Path(tempfile.mkdtemp(prefix="ripple-airflow-e2e-"))
        self._ripple = RippleServer(self._ripple_dir / "data")
        self._ripple.start()
        return super()._connect()

    def private_env(self, home: Path) -> tuple[dict[str, str], str]:
        assert self._ripple is not None
        self._server_url = POSTGRES.url()
        suffix = secrets.token_hex(4)
        self._databases = (f"airflow_{suffix}", f"shop_{suffix}")
        port = free_port()
        settings = {
            "RIPPLE_AIRFLOW_HOME": str(home),
            "RIPPLE_AIRFLOW_PORT": str(port),
            "RIPPLE_AIRFLOW_PG_URL": self._server_url,
            "RIPPLE_AIRFLOW_METADATA_DB": self._databases[0],
            "RIPPLE_AIRFLOW_WAREHOUSE_DB": self._databases[1],
            "RIPPLE_AIRFLOW_RIPPLE_URL": self._ripple.url,
            "RIPPLE_AIRFLOW_NAMESPACE": NAMESPACE,
            "RIPPLE_AIRFLOW_SCHEDULES": "off",
        }
        return settings, f"http://127.0.0.1:{port}"

    def _warehouse_dsn(self) -> str:
        assert self._server_url is not None
        parts = urlsplit(self._server_url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + self._databases[1], "", ""))

    def check(self, address: str) -> None:
        response = httpx.get(f"{address}/api/v2/monitor/health", timeout=10)
        response.raise_for_status()

    def stop(self) -> None:
        """Stop Airflow (through scripts/airflow), then Ripple, and drop the databases."""
        super().stop()
        if self._ripple is not None:
            self._ripple.stop()
            self._ripple = None
        if self._ripple_dir is not None:
            shutil.rmtree(self._ripple_dir, ignore_errors=True)
            self._ripple_dir = None
        if self._server_url is not None and self._databases:
            try:
                with psycopg.connect(self._server_url, autocommit=True, connect_timeout=10) as conn:
                    for name in self._databases:
                        conn.execute(
                            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                                sql.Identifier(name)
                            )
                        )
            except psycopg.Error:
                pass  # the server may be gone already (scripts/check stops it at the end)
            self._databases = ()
        self._airflow_env = None


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"RIPPLE_TEST_AIRFLOW_URL is set but {name} is not")
    return value


SERVICE = AirflowService()
