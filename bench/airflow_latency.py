"""End-to-end delay from a task finishing in Airflow to its run being queryable in Ripple.

    .venv/bin/python -m bench.airflow_latency [--days 5] [--out bench/results/airflow.md]

Uses the tests' harness (tests/airflow_service.py): a real Airflow 3.3 (scripts/airflow) running
the example shop pipeline on PostgreSQL, its OpenLineage provider posting over HTTP to a real
`ripple serve` — started here on free ports unless RIPPLE_TEST_AIRFLOW_URL & co. name running ones;
PostgreSQL from RIPPLE_TEST_DATABASE_URL or scripts/postgres. For each of `--days` unused logical
dates it runs shop_raw_orders, shop_stg_orders and shop_marts one after the other; while a DAG run
executes, a poller asks Ripple (GET /api/v1/nodes, the task job's last run) every `--poll` seconds
and notes when each task's run first shows a terminal state. Delay = that moment - the task
instance's `end_date` from Airflow's REST API (same machine, same clock). The poll interval bounds
the resolution. Not part of bench/run.py: it needs Airflow and takes minutes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import airflow_client.client as ac
import pytest

from tests.airflow_service import SERVICE, TERMINAL_RIPPLE_STATES, AirflowEnv
from tests.postgres_service import SERVICE as POSTGRES

PIPELINE = ("shop_raw_orders", "shop_stg_orders", "shop_marts")
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Sample:
    dag_id: str
    task_id: str
    day: date
    airflow_end: datetime
    ripple_seen: datetime

    @property
    def delay(self) -> float:
        return (self.ripple_seen - self.airflow_end).total_seconds()


def progress(message: str) -> None:
    print(f"airflow-latency: {message}", file=sys.stderr, flush=True)


def task_ids(env: AirflowEnv, dag_id: str) -> list[str]:
    with env.api_client() as client:
        found = ac.TaskApi(client).get_tasks(dag_id).tasks or []
        return [task.task_id for task in found if task.task_id is not None]


def watch(
    env: AirflowEnv,
    dag_id: str,
    tasks: list[str],
    dag_run_id: str,
    seen: dict[str, datetime],
    stop: threading.Event,
    poll: float,
) -> None:
    """Note the wall-clock time each task's run first shows a terminal state in Ripple."""
    pending = set(tasks)
    while pending and not stop.is_set():
        for task_id in sorted(pending):
            run = env.find_ripple_run(dag_id, task_id, dag_run_id)
            if run is not None and run["props"].get("state") in TERMINAL_RIPPLE_STATES:
                seen[task_id] = datetime.now(UTC)
                pending.discard(task_id)
        time.sleep(poll)


def measure(env: AirflowEnv, days: int, poll: float) -> list[Sample]:
    tasks = {dag_id: task_ids(env, dag_id) for dag_id in PIPELINE}
    samples: list[Sample] = []
    for day in env.unused_days(PIPELINE, days, date(2026, 2, 1)):
        for dag_id in PIPELINE:
            seen: dict[str, datetime] = {}
            stop = threading.Event()
            run_id = env.start_run(dag_id, day)
            watcher = threading.Thread(
                target=watch, args=(env, dag_id, tasks[dag_id], run_id, seen, stop, poll)
            )
            watcher.start()
            try:
                result = env.wait_for_dag_run(dag_id, run_id)
                watcher.join(timeout=60)
            finally:
                stop.set()
                watcher.join()
            if result.state != "success":
                raise RuntimeError(f"{dag_id} {run_id} ended {result.state}")
            for task_id, ti in result.task_instances.items():
                if task_id not in seen or ti.end_date is None:
                    raise RuntimeError(f"Ripple never showed {dag_id}.{task_id} of {run_id}")
                samples.append(Sample(dag_id, task_id, day, ti.end_date, seen[task_id]))
            progress(f"{day} {dag_id}: {len(result.task_instances)} tasks, {result.seconds:.1f}s")
    return samples


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def report(samples: list[Sample], days: int, poll: float, start_seconds: float | None) -> str:
    delays = [s.delay for s in samples]
    by_task: dict[str, list[float]] = {}
    for sample in samples:
        by_task.setdefault(f"{sample.dag_id}.{sample.task_id}", []).append(sample.delay)
    lines = [
        "# Airflow → Ripple: delay from a task finishing to its run being queryable",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; Airflow 3.3.2 (LocalExecutor, "
        "OpenLineage provider 2.20.3, HTTP transport) and `ripple serve` (embedded store) on the "
        f"same machine. {days} logical dates x 3 DAGs of the example shop pipeline, "
        f"{len(samples)} task instances; Ripple polled every {poll * 1000:.0f} ms "
        "(the resolution). Delay = first time GET /api/v1/nodes shows the task's run in a "
        "terminal state - the task instance's `end_date` in Airflow's REST API.",
        "",
        f"Reproduce: `.venv/bin/python -m bench.airflow_latency --days {days} --poll {poll}`.",
        "",
        "| | median | p95 | max | min |",
        "|---|---:|---:|---:|---:|",
        f"| all tasks | {statistics.median(delays):.3f} s | {percentile(delays, 0.95):.3f} s | "
        f"{max(delays):.3f} s | {min(delays):.3f} s |",
    ]
    for name, values in sorted(by_task.items()):
        lines.append(
            f"| {name} | {statistics.median(values):.3f} s | {percentile(values, 0.95):.3f} s | "
            f"{max(values):.3f} s | {min(values):.3f} s |"
        )
    if start_seconds is not None:
        lines += [
            "",
            f"Starting Ripple + Airflow (migrate, four components, ready): {start_seconds:.0f} s.",
        ]
    if min(delays) < 0:
        lines += [
            "",
            "A negative delay means Ripple had the run before Airflow recorded the task's end: the",
            "provider emits COMPLETE from the task process as the task succeeds, and the end date",
            "is written when the worker reports the state back.",
        ]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=5, help="logical dates to run (3 DAGs each)")
    parser.add_argument("--poll", type=float, default=0.05, help="Ripple poll interval, seconds")
    parser.add_argument("--out", type=Path, default=RESULTS / "airflow.md")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        progress("starting (or connecting to) Ripple and Airflow")
        env = SERVICE.env()
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        progress(f"no Airflow: {exc}")
        return 2
    start_seconds = None if os.environ.get(SERVICE.configured_by) else time.monotonic() - started
    try:
        samples = measure(env, args.days, args.poll)
    finally:
        SERVICE.stop()
        POSTGRES.stop()
    text = report(samples, args.days, args.poll, start_seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
