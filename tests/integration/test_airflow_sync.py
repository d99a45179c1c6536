"""`ripple sync airflow` against the real Airflow 3 of the test session (tests/airflow_service.py).

The sync reads DAGs, tasks, asset links, runs and task states through apache-airflow-client;
these tests check what lands in the graph against what Airflow's own API says, that a second sync
is incremental (no task lists re-read, nothing re-written for unchanged DAGs), that a DAG setting
changed in Airflow arrives with the next sync, that replay rebuilds it, and that impact now follows
Airflow's task dependencies and asset links — with and without OpenLineage datasets.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import airflow_client.client as ac
import httpx
import orjson
import pytest

from ripple.clients.airflow import AirflowRest
from ripple.config import Settings
from ripple.errors import SourceUnavailable
from ripple.graph import queries
from ripple.graph.store import WalkOptions
from ripple.ingest.airflow_sync import sync_airflow
from ripple.ingest.eventlog import SqliteEventLog
from ripple.ingest.pipeline import prepare_logged
from ripple.runtime import Runtime, open_runtime
from tests.airflow_service import AirflowEnv
from tests.integration.server import RippleServer

DAGS = ("shop_raw_orders", "shop_stg_orders", "shop_marts")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    opened = await open_runtime(Settings(data_dir=tmp_path / "ripple"))
    try:
        yield opened
    finally:
        await opened.close()


def rest(env: AirflowEnv) -> AirflowRest:
    return AirflowRest(env.airflow_url, username=env.username, password=env.password)


@pytest.fixture(scope="module")
def one_run(airflow_env: AirflowEnv) -> str:
    """One day of the whole pipeline, so the sync has runs and task states to read and Ripple
    has the OpenLineage events of every task; the raw DAG's run id."""
    day = airflow_env.unused_days(DAGS, 1, start=date(2026, 2, 1))[0]
    results = [airflow_env.trigger(dag_id, day) for dag_id in DAGS]
    assert all(result.state == "success" for result in results), results
    last = results[-1]
    airflow_env.wait_for_ripple_run(last.dag_id, "build_customer_stats", last.dag_run_id)
    return results[0].dag_run_id


async def test_a_full_sync_mirrors_airflow_dags_tasks_and_dependencies(
    airflow_env: AirflowEnv, runtime: Runtime, one_run: str
) -> None:
    env = airflow_env
    report = await sync_airflow(runtime.ingestor, rest(env), env.namespace)
    assert report.full and report.dags >= len(DAGS)
    assert report.tasks_read == report.dags  # a first sync reads every DAG's tasks
    assert report.written >= len(DAGS)

    with env.api_client() as client:
        for dag_id in DAGS:
            dag = ac.DAGApi(client).get_dag(dag_id)
            node = (await runtime.store.nodes([f"dag:{env.namespace}:{dag_id}"]))[
                f"dag:{env.namespace}:{dag_id}"
            ]
            assert node.props["tags"] == sorted(t.name for t in dag.tags)
            assert node.props["owners"] == list(dag.owners)
            assert node.props["paused"] == dag.is_paused
            tasks = ac.TaskApi(client).get_tasks(dag_id).tasks
            expected = {
                (f"task:{env.namespace}:{dag_id}.{t.task_id}", down)
                for t in tasks
                for down in (f"task:{env.namespace}:{dag_id}.{d}" for d in t.downstream_task_ids)
            }
            task_ids = [f"task:{env.namespace}:{dag_id}.{t.task_id}" for t in tasks]
            edges = await runtime.store.neighbourhood(task_ids)
            within = {
                (e.src, e.dst)
                for e in edges
                if e.kind == "PRECEDES" and e.src in task_ids and e.dst in task_ids
            }
            assert within == expected, dag_id
            implements = {(e.src, e.dst) for e in edges if e.kind == "IMPLEMENTS"}
            assert implements == {
                (f"task:{env.namespace}:{dag_id}.{t.task_id}", env.job_id(dag_id, t.task_id))
                for t in tasks
            }

    # asset links: the task updating raw_orders precedes the staging task that reads it
    load = f"task:{env.namespace}:shop_raw_orders.load_raw_orders"
    stage = f"task:{env.namespace}:shop_stg_orders.stage_orders"
    assert (load, "PRECEDES", stage) in {
        (e.src, e.kind, e.dst) for e in await runtime.store.neighbourhood([load])
    }
    raw_dag = (await runtime.store.nodes([f"dag:{env.namespace}:shop_raw_orders"]))[
        f"dag:{env.namespace}:shop_raw_orders"
    ]
    assert one_run in {run["run_id"] for run in raw_dag.props["recent_runs"]}
    task = (await runtime.store.nodes([load]))[load]
    assert task.props["last_state"] == "success"


async def test_a_second_sync_is_incremental_and_picks_up_changes(
    airflow_env: AirflowEnv, runtime: Runtime, one_run: str
) -> None:
    env = airflow_env
    client = rest(env)
    full = await sync_airflow(runtime.ingestor, client, env.namespace)
    again = await sync_airflow(runtime.ingestor, client, env.namespace)
    assert not again.full
    assert again.tasks_read == 0  # no DAG version changed
    assert again.calls < full.calls
    before = await runtime.log.last_seq()

    with env.api_client() as api:
        dags = ac.DAGApi(api)
        paused = dags.get_dag("shop_marts").is_paused
        dags.patch_dag(
            "shop_marts", ac.DAGPatchBody(is_paused=not paused), update_mask=["is_paused"]
        )
        try:
            changed = await sync_airflow(runtime.ingestor, client, env.namespace)
        finally:
            dags.patch_dag(
                "shop_marts", ac.DAGPatchBody(is_paused=paused), update_mask=["is_paused"]
            )
    assert changed.tasks_read == 0 and changed.written >= 1
    assert await runtime.log.last_seq() > before
    node_id = f"dag:{env.namespace}:shop_marts"
    assert (await runtime.store.nodes([node_id]))[node_id].props["paused"] == (not paused)

    dump = await runtime.store.dump()
    await runtime.ingestor.replay()
    assert await runtime.store.dump() == dump  # synced metadata is in the log, like events


async def test_impact_follows_airflow_dependencies_with_and_without_datasets(
    airflow_env: AirflowEnv, runtime: Runtime, one_run: str
) -> None:
    env = airflow_env
    await sync_airflow(runtime.ingestor, rest(env), env.namespace)
    # Without any OpenLineage event: from the DDL task, through the DAG and the asset links.
    closure = await queries.impact(
        runtime.store, env.job_id("shop_raw_orders", "create_raw_orders"), WalkOptions()
    )
    found = {n.id for n in closure.nodes}
    assert env.job_id("shop_raw_orders", "load_raw_orders") in found
    assert env.job_id("shop_stg_orders", "stage_orders") in found
    assert env.job_id("shop_marts", "build_customer_stats") in found
    order = await queries.order(
        runtime.store, env.job_id("shop_raw_orders", "create_raw_orders"), WalkOptions()
    )
    position = {job: i for i, layer in enumerate(order.layers) for job in layer}
    assert (
        position[env.job_id("shop_raw_orders", "load_raw_orders")]
        < position[env.job_id("shop_stg_orders", "stage_orders")]
        < position[env.job_id("shop_marts", "build_daily_revenue")]
    )

    # With the OpenLineage events Airflow posted to the session's Ripple: datasets and tasks.
    assert env.ripple_data_dir is not None
    log = SqliteEventLog(env.ripple_data_dir / "events.db")
    await log.open()
    try:
        rows = await log.read(0, 1_000_000)
    finally:
        await log.close()
    await runtime.ingestor.commit([prepare_logged(body) for _, body in rows])
    closure = await queries.impact(runtime.store, env.dataset_id("raw.orders"), WalkOptions())
    found = {n.id for n in closure.nodes}
    assert f"task:{env.namespace}:shop_stg_orders.stage_orders" in found
    assert env.dataset_id("staging.orders") in found


def test_the_sync_command_reports_and_names_a_down_airflow(
    airflow_env: AirflowEnv, tmp_path: Path
) -> None:
    ripple = str(Path(sys.executable).parent / "ripple")
    env = {
        "RIPPLE_AIRFLOW_URL": airflow_env.airflow_url,
        "RIPPLE_AIRFLOW_USERNAME": airflow_env.username,
        "RIPPLE_AIRFLOW_PASSWORD": airflow_env.password,
        "RIPPLE_AIRFLOW_NAMESPACE": airflow_env.namespace,
        "PATH": str(Path(sys.executable).parent),
    }
    done = subprocess.run(
        [ripple, "sync", "airflow", "--data-dir", str(tmp_path / "d"), "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    assert report["dags"] >= len(DAGS) and report["written"] >= len(DAGS)

    down = {**env, "RIPPLE_AIRFLOW_URL": "http://127.0.0.1:9"}  # nothing listens on port 9
    failed = subprocess.run(
        [ripple, "sync", "airflow", "--data-dir", str(tmp_path / "d")],
        env=down,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert failed.returncode != 0
    assert "did not answer" in failed.stderr and "api-server" in failed.stderr


class _FailsOnTasksOf(AirflowRest):
    """The real Airflow, except that reading one DAG's tasks fails (after the others were read)."""

    def __init__(self, env: AirflowEnv, dag_id: str) -> None:
        super().__init__(env.airflow_url, username=env.username, password=env.password)
        self._dag_id = dag_id

    async def tasks(self, dag_id: str) -> list[ac.TaskResponse]:
        if dag_id == self._dag_id:
            raise SourceUnavailable(f"Airflow at {self.url} did not answer (injected)")
        return await super().tasks(dag_id)


async def test_a_sync_that_fails_midway_writes_nothing_and_keeps_its_cursor(
    airflow_env: AirflowEnv, runtime: Runtime, one_run: str
) -> None:
    env = airflow_env
    before = await runtime.log.last_seq()
    with pytest.raises(SourceUnavailable):
        await sync_airflow(runtime.ingestor, _FailsOnTasksOf(env, DAGS[-1]), env.namespace)
    assert await runtime.log.last_seq() == before  # not one DAG record of the half-read sync
    assert await runtime.log.get_meta(f"sync.airflow.{env.airflow_url}") is None
    assert (await runtime.store.counts())["dag"] == 0
    report = await sync_airflow(runtime.ingestor, rest(env), env.namespace)
    assert report.full and report.written >= len(DAGS)  # the next sync starts over, whole


def test_ripple_serve_syncs_airflow_periodically(airflow_env: AirflowEnv, tmp_path: Path) -> None:
    server = RippleServer(
        tmp_path / "served",
        env={
            "RIPPLE_AIRFLOW_URL": airflow_env.airflow_url,
            "RIPPLE_AIRFLOW_USERNAME": airflow_env.username,
            "RIPPLE_AIRFLOW_PASSWORD": airflow_env.password,
            "RIPPLE_AIRFLOW_NAMESPACE": airflow_env.namespace,
            "RIPPLE_AIRFLOW_SYNC_INTERVAL": "1",
        },
    )
    server.start()
    try:
        deadline = time.monotonic() + 120
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = httpx.get(f"{server.url}/api/v1/health", timeout=10).json()["airflowSync"]
            if status.get("last") and status["last"]["dags"] >= len(DAGS):
                break
            time.sleep(0.5)
        assert status["enabled"] and status["error"] is None, status
        assert status["last"]["dags"] >= len(DAGS)
        node = f"dag:{airflow_env.namespace}:shop_marts"
        answer = httpx.get(f"{server.url}/api/v1/nodes", params={"nodeId": node}, timeout=10)
        assert answer.status_code == 200, answer.text
    finally:
        server.stop()
