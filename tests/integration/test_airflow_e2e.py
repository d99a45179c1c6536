"""End to end: a real Airflow 3.3 runs the example shop pipeline (examples/airflow/dags) on a real
PostgreSQL, its OpenLineage provider posts to a real Ripple, and Ripple's answers match the SQL.

One logical date runs the whole pipeline (raw → staging → marts); a second one runs raw and staging
and then the marts with `fail` set, so `build_customer_stats` fails with a known message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import airflow_client.client as ac
import httpx
import psycopg
import pytest

from tests.airflow_service import AirflowEnv, DagRunResult

FIRST_DAY = date(2026, 1, 1)  # the DAGs' start_date; a private Airflow uses Jan 1 and 2
PIPELINE = ("shop_raw_orders", "shop_stg_orders", "shop_marts")
FAIL_MESSAGE = "build_customer_stats failed on demand (param fail=true)"

pytestmark = pytest.mark.integration


@dataclass
class Pipeline:
    env: AirflowEnv
    good_day: date  # the whole pipeline succeeded
    failing_day: date  # raw and staging succeeded, the marts failed on demand
    dag_runs: dict[tuple[str, date], DagRunResult]
    # (dag_id, day, task_id or None for the DAG run) → Ripple's run node
    ripple_runs: dict[tuple[str, date, str | None], dict[str, Any]]

    def run_node(self, dag_id: str, day: date, task_id: str | None) -> dict[str, Any]:
        return self.ripple_runs[(dag_id, day, task_id)]


def run_and_wait_for_ripple(
    env: AirflowEnv, pipeline: Pipeline, dag_id: str, day: date, **conf: Any
) -> DagRunResult:
    """Trigger one DAG run, then wait until Ripple has every task run and the DAG run."""
    result = env.trigger(dag_id, day, conf=conf)
    pipeline.dag_runs[(dag_id, day)] = result
    for task_id, ti in result.task_instances.items():
        pipeline.ripple_runs[(dag_id, day, task_id)] = env.wait_for_ripple_run(
            dag_id, task_id, result.dag_run_id, try_number=ti.try_number
        )
    pipeline.ripple_runs[(dag_id, day, None)] = env.wait_for_ripple_run(
        dag_id, None, result.dag_run_id
    )
    return result


@pytest.fixture(scope="module")
def pipeline(airflow_env: AirflowEnv) -> Pipeline:
    good_day, failing_day = airflow_env.unused_days(PIPELINE, 2, FIRST_DAY)
    ran = Pipeline(airflow_env, good_day, failing_day, {}, {})
    for dag_id in PIPELINE:
        result = run_and_wait_for_ripple(airflow_env, ran, dag_id, good_day)
        assert result.state == "success", (dag_id, result.task_instances)
    for dag_id in PIPELINE[:2]:
        result = run_and_wait_for_ripple(airflow_env, ran, dag_id, failing_day)
        assert result.state == "success", (dag_id, result.task_instances)
    result = run_and_wait_for_ripple(airflow_env, ran, "shop_marts", failing_day, fail=True)
    assert result.state == "failed", result.task_instances
    return ran


def ids(answer: Mapping[str, Any]) -> set[str]:
    return {node["id"] for node in answer["nodes"]}


def derives(answer: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {(edge["from"], edge["to"]) for edge in answer["edges"] if edge["kind"] == "DERIVES"}


def test_the_warehouse_holds_each_day_once(pipeline: Pipeline) -> None:
    with psycopg.connect(pipeline.env.warehouse_dsn) as conn:
        counts = conn.execute(
            """
            SELECT (SELECT count(*) FROM raw.orders WHERE order_date = %(d)s),
                   (SELECT count(*) FROM staging.orders WHERE order_date = %(d)s),
                   (SELECT order_count FROM marts.daily_revenue WHERE order_date = %(d)s),
                   (SELECT sum(order_count) FROM marts.customer_stats WHERE order_date = %(d)s)
            """,
            {"d": pipeline.good_day},
        ).fetchone()
        failed_day = conn.execute(
            "SELECT count(*) FROM marts.customer_stats WHERE order_date = %s",
            (pipeline.failing_day,),
        ).fetchone()
    assert counts == (20, 18, 18, 18)  # every tenth raw order is cancelled
    assert failed_day == (0,)


def test_blast_radius_of_the_raw_table_reaches_staging_marts_and_their_tasks(
    pipeline: Pipeline,
) -> None:
    env = pipeline.env
    answer = env.ripple("/api/v1/impact", nodeId=env.dataset_id("raw.orders"))
    assert answer["truncated"] is False
    reached = ids(answer)
    for table in ("staging.orders", "marts.daily_revenue", "marts.customer_stats"):
        assert env.dataset_id(table) in reached, table
    for table, column in [
        ("staging.orders", "amount"),
        ("staging.orders", "customer_id"),
        ("marts.daily_revenue", "revenue"),
        ("marts.daily_revenue", "order_count"),
        ("marts.customer_stats", "total_amount"),
        ("marts.customer_stats", "customer_id"),
    ]:
        assert env.field_id(table, column) in reached, (table, column)
    for dag_id, task_id in [
        ("shop_stg_orders", "stage_orders"),
        ("shop_marts", "build_daily_revenue"),
        ("shop_marts", "build_customer_stats"),
    ]:
        assert env.job_id(dag_id, task_id) in reached, task_id
    # Upstream of the raw table, and tasks that read nothing, are not in its blast radius.
    assert env.job_id("shop_raw_orders", "load_raw_orders") not in reached
    assert env.job_id("shop_marts", "wait_for_stg_orders") not in reached
    distance = {node["id"]: node["distance"] for node in answer["nodes"]}
    assert distance[env.job_id("shop_stg_orders", "stage_orders")] == 1
    assert distance[env.dataset_id("staging.orders")] == 2
    assert distance[env.dataset_id("marts.daily_revenue")] == 4


def test_column_lineage_matches_the_sql(pipeline: Pipeline) -> None:
    env = pipeline.env
    raw, stg = "raw.orders", "staging.orders"
    revenue, stats = "marts.daily_revenue", "marts.customer_stats"
    edges = derives(env.ripple("/api/v1/impact", nodeId=env.dataset_id(raw)))
    expected = {
        # stage_orders: amount_cents / 100.0 AS amount, upper(status) AS status, ...
        (env.field_id(raw, "order_id"), env.field_id(stg, "order_id")),
        (env.field_id(raw, "customer_id"), env.field_id(stg, "customer_id")),
        (env.field_id(raw, "amount_cents"), env.field_id(stg, "amount")),
        (env.field_id(raw, "status"), env.field_id(stg, "status")),
        (env.field_id(raw, "order_date"), env.field_id(stg, "order_date")),
        # build_daily_revenue: count(order_id) AS order_count, sum(amount) AS revenue
        (env.field_id(stg, "order_date"), env.field_id(revenue, "order_date")),
        (env.field_id(stg, "order_id"), env.field_id(revenue, "order_count")),
        (env.field_id(stg, "amount"), env.field_id(revenue, "revenue")),
        # build_customer_stats: per customer and day
        (env.field_id(stg, "customer_id"), env.field_id(stats, "customer_id")),
        (env.field_id(stg, "order_date"), env.field_id(stats, "order_date")),
        (env.field_id(stg, "order_id"), env.field_id(stats, "order_count")),
        (env.field_id(stg, "amount"), env.field_id(stats, "total_amount")),
    }
    assert expected <= edges, expected - edges
    # Nothing the SQL does not say: no column feeds another it is not selected into.
    assert (env.field_id(raw, "amount_cents"), env.field_id(stg, "customer_id")) not in edges
    assert (env.field_id(stg, "customer_id"), env.field_id(revenue, "revenue")) not in edges

    # The Marquez-shaped column lineage of one mart column: exactly its SQL inputs, upstream to raw.
    graph = env.ripple("/api/v1/column-lineage", nodeId=env.field_id(revenue, "revenue"))["graph"]
    by_id = {node["id"]: node for node in graph}
    inputs = by_id[env.field_id(revenue, "revenue")]["data"]["inputFields"]
    assert [(i["dataset"], i["field"]) for i in inputs] == [
        (f"{env.warehouse_database}.{stg}", "amount")
    ]
    assert env.field_id(raw, "amount_cents") in by_id

    # Schemas come with the datasets (types from PostgreSQL's catalog).
    staging = env.ripple_node(env.dataset_id(stg))
    assert staging is not None
    fields = {f["name"]: f["type"] for f in staging["props"]["fields"]}
    assert fields == {
        "order_id": "int8",
        "customer_id": "int4",
        "amount": "numeric",
        "status": "text",
        "order_date": "date",
    }


def test_task_runs_are_children_of_their_dag_runs(pipeline: Pipeline) -> None:
    env = pipeline.env
    for dag_id in PIPELINE:
        dag_run = pipeline.run_node(dag_id, pipeline.good_day, None)
        assert dag_run["props"]["job"] == env.job_id(dag_id)
        assert dag_run["props"]["state"] == "COMPLETE"
        assert dag_run["props"]["nominal_start"].startswith(pipeline.good_day.isoformat())
        tasks = pipeline.dag_runs[(dag_id, pipeline.good_day)].task_instances
        assert tasks
        for task_id in tasks:
            run = pipeline.run_node(dag_id, pipeline.good_day, task_id)
            assert run["props"]["job"] == env.job_id(dag_id, task_id)
            assert run["props"]["parent_run"] == dag_run["id"], (dag_id, task_id)
            assert run["props"]["root_run"] == dag_run["id"]
            assert run["props"]["state"] == "COMPLETE"
            assert run["props"]["nominal_start"].startswith(pipeline.good_day.isoformat())
    # The two days are different runs of the same jobs.
    assert (
        pipeline.run_node("shop_raw_orders", pipeline.good_day, "load_raw_orders")["id"]
        != pipeline.run_node("shop_raw_orders", pipeline.failing_day, "load_raw_orders")["id"]
    )


def test_a_failed_task_is_a_failed_run_with_its_error_and_an_answerable_impact(
    pipeline: Pipeline,
) -> None:
    env = pipeline.env
    airflow_run = pipeline.dag_runs[("shop_marts", pipeline.failing_day)]
    states = {task: str(ti.state) for task, ti in airflow_run.task_instances.items()}
    assert states["build_customer_stats"] == str(ac.TaskInstanceState.FAILED)
    assert states["build_daily_revenue"] == str(ac.TaskInstanceState.SUCCESS)

    failed = pipeline.run_node("shop_marts", pipeline.failing_day, "build_customer_stats")
    assert failed["props"]["state"] == "FAIL"
    assert FAIL_MESSAGE in failed["props"]["error_message"]
    dag_run = pipeline.run_node("shop_marts", pipeline.failing_day, None)
    assert dag_run["props"]["state"] == "FAIL"
    assert failed["props"]["parent_run"] == dag_run["id"]
    sibling = pipeline.run_node("shop_marts", pipeline.failing_day, "build_daily_revenue")
    assert sibling["props"]["state"] == "COMPLETE"

    # The job remembers its last run failed.
    job = env.ripple_node(env.job_id("shop_marts", "build_customer_stats"))
    assert job is not None
    assert job["props"]["last_run"] == failed["id"]
    assert job["props"]["last_run_state"] == "FAIL"

    # What the failed run would have written is its blast radius: the mart and its columns.
    impact = env.ripple("/api/v1/impact", nodeId=failed["id"])
    reached = ids(impact)
    assert env.dataset_id("marts.customer_stats") in reached
    assert env.field_id("marts.customer_stats", "total_amount") in reached
    assert env.dataset_id("marts.daily_revenue") not in reached
    # And where its data came from, upstream to the raw table.
    upstream = ids(env.ripple("/api/v1/upstream", nodeId=failed["id"]))
    assert env.dataset_id("staging.orders") in upstream
    assert env.dataset_id("raw.orders") in upstream


def test_clearing_a_task_reruns_it_without_duplicating_rows(pipeline: Pipeline) -> None:
    """What a backfill does to a day that already ran: clear the task instance, Airflow reruns it
    as try 2, the day is replaced (not appended) and Ripple gets the new run under the same DAG."""
    env = pipeline.env
    dag_id, task_id = "shop_stg_orders", "stage_orders"
    first = pipeline.dag_runs[(dag_id, pipeline.good_day)]
    with env.api_client() as client:
        ac.TaskInstanceApi(client).post_clear_task_instances(
            dag_id,
            ac.ClearTaskInstancesBody(
                dag_run_id=first.dag_run_id,
                task_ids=[ac.ClearTaskInstancesBodyTaskIdsInner(task_id)],
                include_downstream=False,
                only_failed=False,
                dry_run=False,
            ),
        )
    again = env.wait_for_dag_run(dag_id, first.dag_run_id)
    assert again.state == "success"
    assert again.task_instances[task_id].try_number == 2
    assert again.task_instances["create_stg_orders"].try_number == 1  # not cleared

    rerun = env.wait_for_ripple_run(dag_id, task_id, first.dag_run_id, try_number=2)
    before = pipeline.run_node(dag_id, pipeline.good_day, task_id)
    assert rerun["id"] != before["id"]
    assert rerun["props"]["state"] == "COMPLETE"
    parent = env.ripple_node(rerun["props"]["parent_run"])
    assert parent is not None
    assert parent["props"]["job"] == env.job_id(dag_id)

    with psycopg.connect(env.warehouse_dsn) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT order_id) FROM staging.orders WHERE order_date = %s",
            (pipeline.good_day,),
        ).fetchone()
    assert rows == (18, 18)


def test_the_api_server_can_go_down_and_come_back(pipeline: Pipeline) -> None:
    """The harness can take Airflow's API away for a while (what the backfill executor's circuit
    breaker is tested against) and bring it back with the same settings."""
    env = pipeline.env
    if env.script_env is None:
        pytest.skip("Airflow given by RIPPLE_TEST_AIRFLOW_URL: not ours to stop")
    env.stop_components("api-server")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{env.airflow_url}/api/v2/monitor/health", timeout=5)
    env.start_components()
    assert httpx.get(f"{env.airflow_url}/api/v2/monitor/health", timeout=5).status_code == 200
    runs = {
        dag_id: env.task_instances(dag_id, r.dag_run_id)
        for (dag_id, _), r in pipeline.dag_runs.items()
        if dag_id == "shop_raw_orders"
    }
    assert runs and all(runs.values())  # the token still works: same JWT secret
