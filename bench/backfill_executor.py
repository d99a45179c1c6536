"""The backfill executor's overhead per unit, beyond Airflow's own run time (issue 5).

    .venv/bin/python -m bench.backfill_executor [--days 5] [--poll 0.2] [--out FILE.md]

Uses the tests' harness (tests/airflow_service.py): a real Airflow 3.3 running the example shop
pipeline on PostgreSQL, its OpenLineage provider posting to a real `ripple serve`. The pipeline
runs for `--days` unused dates; bad data is let into staging and the marts; a plan from
`raw.orders` over those dates (3 task instances a day, across two DAGs) is run by the executor,
in process, against Airflow's REST API. Then, per unit, from the executor's audit trail and
Airflow's task instances (same machine, same clock):

- launch: from the unit becoming `launching` to `running` — Ripple's API calls (read the task
  instance, clear it), the compare-and-set writes between them;
- pick-up: from the moment a unit could start (its last parent succeeded, and no other unit of
  the plan held its DAG run — the executor runs one at a time per run) to its `launching` —
  Ripple's tick (units that could start at once are left out);
- detection: from the task instance's `end_date` to the unit's `succeeded` — Ripple's polling;
- Airflow's own: scheduling (clear returned → task start) and run time (start → end), shown
  beside, not counted as overhead.

Ripple's overhead per unit = launch + pick-up + detection.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import signal
import statistics
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ripple.clients.airflow import AirflowOrchestrator, AirflowRest
from ripple.config import Settings
from ripple.remediation.executor import Executor, ExecutorOptions
from ripple.runtime import open_runtime
from tests.airflow_service import SERVICE, AirflowEnv
from tests.integration.test_backfill_e2e import Scenario, prepare
from tests.postgres_service import SERVICE as POSTGRES

RESULTS = Path(__file__).resolve().parent / "results"


def progress(message: str) -> None:
    print(f"backfill-executor: {message}", file=sys.stderr, flush=True)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _stats(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered) * 1000:.0f} ms / {p95 * 1000:.0f} ms"


async def measure(env: AirflowEnv, days: int, poll: float, workdir: Path) -> dict[str, Any]:
    progress(f"running the pipeline for {days} days and planning from raw.orders")
    scenario: Scenario = await prepare(env, workdir, date(2026, 7, 1), days=days)
    runtime = await open_runtime(Settings(data_dir=scenario.data_dir))
    try:
        rest = AirflowRest(env.airflow_url, username=env.username, password=env.password)
        options = ExecutorOptions(actor="bench", poll_interval=poll, max_parallel=4)
        airflow = AirflowOrchestrator(rest)
        executor = Executor(runtime.remediation, airflow, options, link=runtime.link_backfill)
        progress(f"executing {len(scenario.plan['units'])} units (poll {poll} s, 4 at once)")
        started = datetime.now().astimezone()
        final = await executor.run(scenario.plan_id)
        wall = (datetime.now().astimezone() - started).total_seconds()
        units = await runtime.remediation.units(scenario.plan_id)
        audit = await runtime.remediation.audit_for(scenario.plan_id)
    finally:
        await runtime.close()
    assert final == "succeeded", final
    changed: dict[tuple[str, str], datetime] = {}
    for entry in audit:
        if entry.action == "unit.state" and entry.unit_id and entry.to_state:
            changed[(entry.unit_id, entry.to_state)] = _at(entry.at)
    launch, pickup, detection, scheduling, runtime_s, overhead = [], [], [], [], [], []
    for unit in units:
        day = datetime.fromisoformat(unit.logical_date).date()
        ti = scenario.task_instance(unit.dag_id, unit.task_id, day)
        launched = changed[(unit.unit_id, "launching")]
        running = changed[(unit.unit_id, "running")]
        done = changed[(unit.unit_id, "succeeded")]
        launch.append((running - launched).total_seconds())
        detection.append((done - ti.end_date).total_seconds())
        scheduling.append((ti.start_date - running).total_seconds())
        runtime_s.append((ti.end_date - ti.start_date).total_seconds())
        # When it could have started: its parents succeeded and no other unit held its DAG run
        # (the executor runs one unit at a time per DAG run; see ripple/remediation/executor.py).
        blockers = [changed[(p, "succeeded")] for p in unit.parents] + [
            changed[(other.unit_id, "succeeded")]
            for other in units
            if other.unit_id != unit.unit_id
            and (other.dag_id, other.logical_date) == (unit.dag_id, unit.logical_date)
            and changed[(other.unit_id, "succeeded")] <= launched
        ]
        wait = (launched - max(blockers)).total_seconds() if blockers else 0.0
        if blockers:
            pickup.append(wait)
        overhead.append(launch[-1] + detection[-1] + wait)
    return {
        "units": len(units),
        "wall": wall,
        "calls": executor.calls_made,
        "launch": launch,
        "pickup": pickup,
        "detection": detection,
        "scheduling": scheduling,
        "runtime": runtime_s,
        "overhead": overhead,
        "poll": poll,
        "days": days,
    }


def report(result: dict[str, Any]) -> str:
    rows = [
        ("launch (Ripple: read task instance, clear it, state writes)", result["launch"]),
        ("pick-up (Ripple: could start → launching)", result["pickup"]),
        (
            "detection (Ripple: task ended → unit succeeded; bounded by the poll)",
            result["detection"],
        ),
        ("**Ripple's overhead per unit** (launch + pick-up + detection)", result["overhead"]),
        ("Airflow: clear returned → task started (its scheduler)", result["scheduling"]),
        ("Airflow: task run time", result["runtime"]),
    ]
    lines = [
        "# Backfill executor overhead (bench/backfill_executor.py)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}; a real Airflow 3.3 "
        f"(LocalExecutor, PostgreSQL) on the same 2 vCPUs. {result['units']} units "
        f"({result['days']} days x 3 task instances, two DAGs), at most 4 at once, poll "
        f"{result['poll']} s; {result['calls']} Airflow API calls; plan wall time "
        f"{result['wall']:.1f} s.",
        "",
        "| per unit | median / p95 |",
        "| --- | --- |",
        *(f"| {name} | {_stats(values)} |" for name, values in rows),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--poll", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=RESULTS / "backfill_executor.md")
    args = parser.parse_args()
    # A `timeout` or Ctrl-C must still stop the Airflow and Ripple started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    progress("starting Ripple and Airflow (scripts/airflow; about a minute)")
    env = SERVICE.env()
    try:
        with tempfile.TemporaryDirectory(prefix="ripple-bench-executor-") as tmp:
            result = asyncio.run(measure(env, args.days, args.poll, Path(tmp)))
    finally:
        SERVICE.stop()
        POSTGRES.stop()  # a private one, when the harness had to start it
    text = report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
