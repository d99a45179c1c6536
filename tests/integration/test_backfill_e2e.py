"""Backfills end to end on the real Airflow of the test session (tests/airflow_service.py).

Each test runs the example pipeline for two days of its own, lets bad data flow from `raw.orders`
into staging and the marts, repairs the raw partitions, plans the backfill from `raw.orders` for
those days, and runs the plan with `ripple backfill run` (a real subprocess, so it can be killed).
Airflow's task instances are the witness: every planned task instance ran exactly once more (its
try number went up by one), nothing else reran, the marts started after the staging rerun of
their day, and the tables end equal to a clean run's, without duplicate rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import airflow_client.client as ac
import httpx
import psycopg
import pytest

from ripple.clients.airflow import AirflowRest
from ripple.config import Settings
from ripple.ingest.airflow_sync import sync_airflow
from ripple.ingest.eventlog import SqliteEventLog
from ripple.ingest.pipeline import prepare_logged
from ripple.remediation import service
from ripple.remediation.planner import PlanOptions
from ripple.remediation.sql_state import SqliteRemediationState
from ripple.runtime import open_runtime
from tests.airflow_service import AirflowEnv
from tests.integration.server import RippleServer

DAGS = ("shop_raw_orders", "shop_stg_orders", "shop_marts")
REDONE = {
    ("shop_stg_orders", "stage_orders"),
    ("shop_marts", "build_daily_revenue"),
    ("shop_marts", "build_customer_stats"),
}
TABLES = {  # table -> its columns in a stable order (the day's rows, compared whole)
    "staging.orders": "order_id, customer_id, amount, status, order_date",
    "marts.daily_revenue": "order_date, order_count, revenue",
    "marts.customer_stats": "customer_id, order_date, order_count, total_amount",
}

pytestmark = pytest.mark.integration


@dataclass
class Scenario:
    env: AirflowEnv
    days: list[date]
    runs: dict[tuple[str, date], str]  # (dag, day) -> Airflow dag run id
    tries: dict[tuple[str, str, date], int]  # (dag, task, day) -> try number before the backfill
    clean: dict[str, list[tuple[Any, ...]]]  # table -> the days' rows after a clean run
    data_dir: Path
    plan_id: str
    plan: dict[str, Any]

    def current_tries(self) -> dict[tuple[str, str, date], int]:
        found = {}
        for (dag_id, day), run_id in self.runs.items():
            for task_id, ti in self.env.task_instances(dag_id, run_id).items():
                found[(dag_id, task_id, day)] = int(ti.try_number or 0)
        return found

    def task_instance(self, dag_id: str, task_id: str, day: date) -> Any:
        return self.env.task_instances(dag_id, self.runs[(dag_id, day)])[task_id]

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        with psycopg.connect(self.env.warehouse_dsn) as conn:
            return {
                table: conn.execute(
                    f"SELECT {columns} FROM {table} WHERE order_date = ANY(%s) ORDER BY {columns}",
                    (self.days,),
                ).fetchall()
                for table, columns in TABLES.items()
            }

    def command(self, *args: str) -> list[str]:
        ripple = str(Path(sys.executable).parent / "ripple")
        return [ripple, "backfill", *args, "--data-dir", str(self.data_dir)]

    def environ(self) -> dict[str, str]:
        return {
            **os.environ,
            "RIPPLE_AIRFLOW_URL": self.env.airflow_url,
            "RIPPLE_AIRFLOW_USERNAME": self.env.username,
            "RIPPLE_AIRFLOW_PASSWORD": self.env.password,
        }

    def start_executor(self, *options: str) -> subprocess.Popen[bytes]:
        """`ripple backfill run` in the background; its output goes to executor.log."""
        with self.log.open("ab") as log:
            return subprocess.Popen(
                [*self.command("run", self.plan_id), "--poll", "0.5", *options],
                env=self.environ(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def log(self) -> Path:
        return self.data_dir.parent / "executor.log"

    def finish(self, process: subprocess.Popen[bytes], timeout: float = 600) -> int:
        """Wait for an executor; its exit code (the log is in assertion messages)."""
        return process.wait(timeout=timeout)

    async def state(self) -> tuple[str, dict[str, str], list[Any]]:
        """The plan's status, each unit's state and the audit trail, from the state store."""
        store = SqliteRemediationState(self.data_dir / "events.db")
        await store.open()
        try:
            plan = await store.get_plan(self.plan_id)
            units = {u.unit_id: u.state for u in await store.units(self.plan_id)}
            return plan.status, units, await store.audit_for(self.plan_id)
        finally:
            await store.close()


def _bad_data_flows_then_raw_is_repaired(env: AirflowEnv, days: list[date]) -> None:
    """Raw amounts were wrong (x100) for those days and staging and the marts were built from
    them; then the raw partitions were repaired. The derived tables are still wrong."""
    with psycopg.connect(env.warehouse_dsn) as conn:
        conn.execute(
            "UPDATE staging.orders SET amount = amount * 100 WHERE order_date = ANY(%s)", (days,)
        )
        conn.execute(
            "UPDATE marts.daily_revenue SET revenue = revenue * 100 WHERE order_date = ANY(%s)",
            (days,),
        )
        conn.execute(
            "UPDATE marts.customer_stats SET total_amount = total_amount * 100 "
            "WHERE order_date = ANY(%s)",
            (days,),
        )


async def prepare(env: AirflowEnv, tmp_path: Path, start: date, days: int = 2) -> Scenario:
    """The pipeline run for `days` unused dates from `start`, bad data let through, the raw
    partitions repaired, and a saved plan from raw.orders over those dates."""
    dates = env.unused_days(DAGS, days, start)
    runs: dict[tuple[str, date], str] = {}
    for day in dates:
        for dag_id in DAGS:
            result = env.trigger(dag_id, day)
            assert result.state == "success", (dag_id, day, result.task_instances)
            runs[(dag_id, day)] = result.dag_run_id
        env.wait_for_ripple_run("shop_marts", "build_customer_stats", runs[("shop_marts", day)])
    scenario = Scenario(env, dates, runs, {}, {}, tmp_path / "ripple", "", {})
    scenario.clean = scenario.rows()
    _bad_data_flows_then_raw_is_repaired(env, dates)
    assert scenario.rows() != scenario.clean
    scenario.tries = scenario.current_tries()

    dates_ = service.parse_dates(start=dates[0].isoformat(), end=dates[-1].isoformat())
    scenario.plan_id, scenario.plan = await save_plan(env, scenario.data_dir, dates_)
    return scenario


async def save_plan(
    env: AirflowEnv, data_dir: Path, dates: Any, max_parallel: int = 2
) -> tuple[str, dict[str, Any]]:
    """In a data directory of the test's own: the lineage Ripple got from Airflow's OpenLineage
    provider, an Airflow sync, and a saved plan from raw.orders for `dates`; (id, plan)."""
    runtime = await open_runtime(Settings(data_dir=data_dir))
    try:
        assert env.ripple_data_dir is not None
        log = SqliteEventLog(env.ripple_data_dir / "events.db")
        await log.open()
        try:
            rows = await log.read(0, 10_000_000)
        finally:
            await log.close()
        await runtime.ingestor.commit([prepare_logged(body) for _, body in rows])
        rest = AirflowRest(env.airflow_url, username=env.username, password=env.password)
        await sync_airflow(runtime.ingestor, rest, env.namespace)
        request = service.PlanRequest(
            (env.dataset_id("raw.orders"),), dates, PlanOptions(max_parallel=max_parallel)
        )
        plan, stored = await service.plan_and_store(
            runtime.store, runtime.remediation, request, actor="test", save=True
        )
        assert stored is not None
        return stored.id, plan.as_dict()
    finally:
        await runtime.close()


def planned(scenario: Scenario) -> set[tuple[str, str, date]]:
    return {
        (u["dagId"], u["taskId"], datetime.fromisoformat(u["logicalDate"]).date())
        for u in scenario.plan["units"]
    }


def assert_ran_exactly_once_in_lineage_order(scenario: Scenario) -> None:
    expected = {(dag, task, day) for dag, task in REDONE for day in scenario.days}
    after = scenario.current_tries()
    for key, before in scenario.tries.items():
        assert after[key] == before + (1 if key in expected else 0), key
    for day in scenario.days:
        staged = scenario.task_instance("shop_stg_orders", "stage_orders", day)
        for task in ("build_daily_revenue", "build_customer_stats"):
            mart = scenario.task_instance("shop_marts", task, day)
            assert mart.start_date >= staged.end_date, (task, day)  # across DAGs, by lineage
    assert scenario.rows() == scenario.clean  # correct again, no duplicate rows


@pytest.fixture
def stop_later() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


async def test_a_plan_from_a_bad_raw_table_reruns_its_downstream_once_in_order(
    airflow_env: AirflowEnv, tmp_path: Path, stop_later: list[subprocess.Popen[bytes]]
) -> None:
    scenario = await prepare(airflow_env, tmp_path, date(2026, 3, 1))
    assert planned(scenario) == {(d, t, day) for d, t in REDONE for day in scenario.days}
    assert {u["action"] for u in scenario.plan["units"]} == {"clear"}
    assert scenario.plan["unmapped"] == [] and scenario.plan["cycles"] == []

    executor = scenario.start_executor()
    stop_later.append(executor)
    assert scenario.finish(executor) == 0, scenario.log.read_text()
    assert_ran_exactly_once_in_lineage_order(scenario)

    status, units, audit = await scenario.state()
    assert status == "succeeded" and set(units.values()) == {"succeeded"}
    clears = [a for a in audit if a.action == "airflow.clear_task_instances"]
    # One clear per unit, each with Airflow's answer — plus one more for each unit whose DAG run
    # Airflow closed before scheduling the cleared task (it had not run; try numbers prove it).
    reclears = [a for a in audit if a.action == "unit.reclear"]
    assert len(clears) == len(units) + len(reclears)
    assert all(a.response and a.response.get("cleared") for a in clears)
    assert any(a.action == "graph.link" for a in audit)
    runtime = await open_runtime(Settings(data_dir=scenario.data_dir))
    try:
        job = airflow_env.job_id("shop_marts", "build_daily_revenue")
        record = (await runtime.store.nodes([job]))[job]
        assert record.props["last_backfill"] == scenario.plan_id
        revenue = airflow_env.dataset_id("marts.daily_revenue")
        assert (await runtime.store.nodes([revenue]))[revenue].props["last_backfill"] == (
            scenario.plan_id
        )
    finally:
        await runtime.close()


async def test_an_executor_killed_halfway_resumes_without_rerunning_anything(
    airflow_env: AirflowEnv, tmp_path: Path, stop_later: list[subprocess.Popen[bytes]]
) -> None:
    scenario = await prepare(airflow_env, tmp_path, date(2026, 4, 1))
    executor = scenario.start_executor("--max-parallel", "1")
    stop_later.append(executor)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        _, units, _ = await scenario.state()
        if sum(1 for s in units.values() if s == "succeeded") >= 2:
            break
        assert executor.poll() is None, scenario.log.read_text()
        time.sleep(0.2)
    executor.send_signal(signal.SIGKILL)
    executor.wait(timeout=10)
    status, units, _ = await scenario.state()
    assert status == "running"
    assert sum(1 for s in units.values() if s == "succeeded") < len(units)  # truly halfway

    resumed = scenario.start_executor("--max-parallel", "1")
    stop_later.append(resumed)
    assert scenario.finish(resumed) == 0, scenario.log.read_text()
    assert_ran_exactly_once_in_lineage_order(scenario)
    status, units, _ = await scenario.state()
    assert status == "succeeded" and set(units.values()) == {"succeeded"}


async def test_the_circuit_opens_while_airflow_is_down_and_the_plan_completes_after(
    airflow_env: AirflowEnv, tmp_path: Path, stop_later: list[subprocess.Popen[bytes]]
) -> None:
    scenario = await prepare(airflow_env, tmp_path, date(2026, 5, 1))
    # Airflow 3's api-server also serves the Execution API its running tasks report to, so an
    # outage fails whatever task is running at that moment (Airflow would retry it; the example
    # DAGs have retries=0). The outage therefore comes while nothing of the plan runs: it starts
    # with the api-server down, finds the circuit open and waits, paused, without launching.
    airflow_env.stop_components("api-server")
    try:
        executor = scenario.start_executor(
            "--max-parallel", "1", "--breaker-threshold", "2", "--breaker-ttl", "3"
        )
        stop_later.append(executor)
        deadline = time.monotonic() + 240
        status = ""
        while time.monotonic() < deadline:
            status, _, _ = await scenario.state()
            if status == "paused":
                break
            assert executor.poll() is None, scenario.log.read_text()
            time.sleep(0.5)
        assert status == "paused"
        time.sleep(8)  # it stays paused, probing every few seconds, while Airflow is away
        status, units, _ = await scenario.state()
        assert status == "paused"
        assert set(units.values()) <= {"pending", "ready"}  # nothing launched blind
    finally:
        airflow_env.start_components()
    assert scenario.finish(executor) == 0, scenario.log.read_text()
    assert_ran_exactly_once_in_lineage_order(scenario)
    status, _, audit = await scenario.state()
    assert status == "succeeded"
    actions = [a.action for a in audit]
    assert "circuit.open" in actions and "airflow.unavailable" in actions
    changes = [(a.from_state, a.to_state) for a in audit if a.action == "plan.status"]
    assert ("running", "paused") in changes and ("paused", "running") in changes


async def test_a_failing_unit_holds_back_its_downstream_and_the_plan_ends_partially_failed(
    airflow_env: AirflowEnv, tmp_path: Path, stop_later: list[subprocess.Popen[bytes]]
) -> None:
    scenario = await prepare(airflow_env, tmp_path, date(2026, 6, 1))
    with psycopg.connect(airflow_env.warehouse_dsn) as conn:  # staging now refuses every row
        conn.execute(
            "ALTER TABLE staging.orders ADD CONSTRAINT ripple_test_refuse CHECK (amount < 0) "
            "NOT VALID"
        )
    try:
        executor = scenario.start_executor()
        stop_later.append(executor)
        code = scenario.finish(executor)
    finally:
        with psycopg.connect(airflow_env.warehouse_dsn) as conn:
            conn.execute("ALTER TABLE staging.orders DROP CONSTRAINT ripple_test_refuse")
    assert code == 1, scenario.log.read_text()
    status, units, _ = await scenario.state()
    assert status == "partially_failed"
    by_task = {uid.split("/")[1]: state for uid, state in units.items()}
    assert by_task["stage_orders"] == "failed"
    assert by_task["build_daily_revenue"] == "skipped"
    assert by_task["build_customer_stats"] == "skipped"
    after = scenario.current_tries()
    for day in scenario.days:  # the marts were never launched
        for task in ("build_daily_revenue", "build_customer_stats"):
            assert after[("shop_marts", task, day)] == scenario.tries[("shop_marts", task, day)]


async def test_missing_partitions_are_triggered_once_per_dag_and_date(
    airflow_env: AirflowEnv, tmp_path: Path, stop_later: list[subprocess.Popen[bytes]]
) -> None:
    env = airflow_env
    [day] = env.unused_days(DAGS, 1, date(2026, 8, 1))
    raw = env.trigger("shop_raw_orders", day)  # only the raw partition exists downstream-less
    assert raw.state == "success"
    env.wait_for_ripple_run("shop_raw_orders", "load_raw_orders", raw.dag_run_id)
    plan_id, plan = await save_plan(
        env, tmp_path / "ripple", service.parse_dates([day.isoformat()])
    )
    units = {(u["dagId"], u["taskId"]): u["action"] for u in plan["units"]}
    assert units == {key: "trigger" for key in REDONE}
    scenario = Scenario(env, [day], {}, {}, {}, tmp_path / "ripple", plan_id, plan)
    executor = scenario.start_executor()
    stop_later.append(executor)
    assert scenario.finish(executor) == 0, scenario.log.read_text()
    status, states, audit = await scenario.state()
    assert status == "succeeded" and set(states.values()) == {"succeeded"}
    triggers = [a for a in audit if a.action == "airflow.trigger_dag_run"]
    assert sorted(a.request["dagId"] for a in triggers) == ["shop_marts", "shop_stg_orders"]
    with psycopg.connect(env.warehouse_dsn) as conn:  # the marts of that day now exist, once
        revenue = conn.execute(
            "SELECT count(*) FROM marts.daily_revenue WHERE order_date = %s", (day,)
        ).fetchone()
        assert revenue == (1,)


async def test_cancel_stops_launching_and_the_running_unit_is_followed_to_its_end(
    airflow_env: AirflowEnv, tmp_path: Path, stop_later: list[subprocess.Popen[bytes]]
) -> None:
    scenario = await prepare(airflow_env, tmp_path, date(2026, 9, 1))
    executor = scenario.start_executor("--max-parallel", "1")
    stop_later.append(executor)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        _, units, _ = await scenario.state()
        if "succeeded" in units.values():
            break
        time.sleep(0.2)
    cancelled = subprocess.run(
        [*scenario.command("cancel", scenario.plan_id)],
        env=scenario.environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert cancelled.returncode == 0 and "cancelling" in cancelled.stderr, cancelled.stderr
    assert scenario.finish(executor) == 1, scenario.log.read_text()  # not "succeeded"
    status, units, _ = await scenario.state()
    assert status == "cancelled"
    assert "cancelled" in units.values() and "succeeded" in units.values()
    assert set(units.values()) <= {"succeeded", "cancelled"}  # nothing left running
    after = scenario.current_tries()
    for unit_id, state in units.items():
        dag_id, task_id, when = unit_id.split("/")
        key = (dag_id, task_id, datetime.fromisoformat(when).date())
        assert after[key] == scenario.tries[key] + (1 if state == "succeeded" else 0), unit_id


async def test_a_plan_runs_through_the_http_api(airflow_env: AirflowEnv, tmp_path: Path) -> None:
    scenario = await prepare(airflow_env, tmp_path, date(2026, 10, 1))
    environ = scenario.environ()
    server = RippleServer(
        scenario.data_dir,
        env={k: v for k, v in environ.items() if k.startswith("RIPPLE_AIRFLOW_")},
    )
    server.start()
    try:
        started = httpx.post(
            f"{server.url}/api/v1/backfills/{scenario.plan_id}/run", json={}, timeout=30
        )
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 300
        answer: dict[str, Any] = {}
        while time.monotonic() < deadline:
            answer = httpx.get(
                f"{server.url}/api/v1/backfills/{scenario.plan_id}", timeout=30
            ).json()
            if answer["status"] in ("succeeded", "partially_failed", "failed", "cancelled"):
                break
            time.sleep(0.5)
        assert answer["status"] == "succeeded", answer.get("statusReason")
        assert {u["state"] for u in answer["unitStates"]} == {"succeeded"}
        assert any(a["action"] == "airflow.clear_task_instances" for a in answer["audit"])
    finally:
        server.stop()
    assert_ran_exactly_once_in_lineage_order(scenario)


async def test_a_unit_airflow_refuses_fails_with_its_answer_and_holds_back_its_downstream(
    airflow_env: AirflowEnv, tmp_path: Path, stop_later: list[subprocess.Popen[bytes]]
) -> None:
    scenario = await prepare(airflow_env, tmp_path, date(2026, 11, 1))
    gone_day = scenario.days[1]
    with airflow_env.api_client() as client:  # deleted between planning and running
        ac.DagRunApi(client).delete_dag_run(
            "shop_stg_orders", scenario.runs[("shop_stg_orders", gone_day)]
        )
    executor = scenario.start_executor()
    stop_later.append(executor)
    assert scenario.finish(executor) == 1, scenario.log.read_text()
    status, units, audit = await scenario.state()
    assert status == "partially_failed"
    for unit_id, state in units.items():
        on_gone_day = datetime.fromisoformat(unit_id.split("/")[2]).date() == gone_day
        expected = (
            "succeeded"
            if not on_gone_day
            else ("failed" if "/stage_orders/" in unit_id else "skipped")
        )
        assert state == expected, (unit_id, state)
    failed = [a for a in audit if a.action == "unit.state" and a.to_state == "failed"]
    assert len(failed) == 1 and "Airflow refused it" in (failed[0].detail or "")
