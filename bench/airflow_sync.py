"""How long a full and an incremental Airflow sync take against a real Airflow: 200 DAGs x 10 tasks.

    .venv/bin/python -m bench.airflow_sync [--dags 200] [--repeat 5] [--out FILE]

Writes `--dags` generated DAG files (one file per DAG, 10 tasks each: a chain with a three-way
fan-out and a two-way fan-in/fan-out, nine EmptyOperators and one PythonOperator; every 20th DAG
produces an asset that the next DAG is scheduled on and the one after declares as a task inlet;
no timetable, `schedule=None`) into a temporary DAGs folder, and starts a private Airflow 3.3 with
`scripts/airflow start` (RIPPLE_AIRFLOW_DAGS pointing there, schedules off, a temporary home, a free
port, two fresh databases on the tests' PostgreSQL — RIPPLE_TEST_DATABASE_URL or a private
scripts/postgres). `start` returns once the first DAG is listed; it then waits for all of them.
Before starting anything it waits (up to `--quiet-wait` seconds) until no other Airflow process
runs on the machine.

Then, in this process, against fresh Ripple data directories
(`open_runtime(Settings(data_dir=...))`) and one `AirflowRest` client, it times `sync_airflow(...)`:

Worst case, before any DAG has run (no DAG "settled": Airflow 3.3 rewrites a DAG's current
version in place, same version number, while it has no task instances, so the sync re-reads the
task list of every such DAG on every incremental sync):

1. full sync (each repetition in its own fresh data directory; the last one is kept);
2. incremental sync, nothing changed: every DAG's task list is read;
3. incremental sync after editing the file of a never-run DAG (a task added; the version is
   rewritten in place). The new task must be in Ripple's graph after the sync (asserted).

Then every DAG is triggered once (the PythonOperator runs on the LocalExecutor; Airflow marks
EmptyOperators successful itself), and one sync sees their task instances (reported), settling
every DAG. 65 s later (a sync re-reads runs updated from a minute before the previous sync began),
the usual state, every DAG having run on its current version:

4. full sync (fresh data directories);
5. incremental sync, nothing changed;
6. incremental sync after pausing or unpausing one DAG through the REST API;
7. incremental sync after one new DAG run (10 task instances), an unmeasured sync 65 s after each
   so that the next case does not re-read it;
8. incremental sync after editing one DAG file (a task added; a new DAG version since the DAG has
   run), once Airflow lists the new task; asserted in Ripple's graph. Last, because the edited DAG's
   new version has no task instances, so its tasks are then read on every sync until it runs.

Reported per case: median / min / max seconds, API calls, DAG records written, DAGs whose tasks
were read, runs and task instances read, and the CPU time other processes used (machine-wide busy
time minus this process and the Airflow + PostgreSQL processes it started). Everything it started
is stopped at the end, also on errors and SIGTERM. Exit status 1 when an asserted change did not
reach the graph. Not part of bench/run.py: it needs Airflow and takes 10-20 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from psycopg import sql

from bench.report import CpuAccount, machine, write_atomic
from ripple.clients.airflow import AirflowRest
from ripple.config import Settings
from ripple.ingest.airflow_sync import SyncReport, sync_airflow
from ripple.model import TaskKey
from ripple.runtime import open_runtime
from tests.integration.server import free_port
from tests.postgres_service import SERVICE as POSTGRES

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
NAMESPACE = "airflow"
USERNAME = PASSWORD = "admin"
TASKS_PER_DAG = 10
MIN_SERIALIZED_UPDATE = 30  # [core] min_serialized_dag_update_interval, Airflow's default
ASSET_EVERY = 20  # DAG i with i % 20 == 0 produces an asset; i+1 is scheduled on it, i+2 reads it


def progress(message: str) -> None:
    print(f"airflow-sync [{datetime.now(UTC):%H:%M:%S}]: {message}", file=sys.stderr, flush=True)


# --- the generated DAGs ---------------------------------------------------------------------------


def dag_id(i: int) -> str:
    return f"bench_dag_{i:03d}"


def dag_source(i: int, extra: int = 0) -> str:
    """One DAG file: start >> extract >> [clean, enrich, score] >> merge >> check >> load >>
    [report, publish]; `extra` more tasks after load (the edits)."""
    asset_lines = ""
    schedule = "None"
    extract_inlets = ""
    load_outlets = ""
    if i % ASSET_EVERY == 0:
        load_outlets = (
            f", outlets=[Asset(name='bench_asset_{i:03d}', uri='bench://assets/{i:03d}')]"
        )
    elif i % ASSET_EVERY == 1:
        producer = i - 1
        asset_lines = (
            f"UPSTREAM = Asset(name='bench_asset_{producer:03d}', "
            f"uri='bench://assets/{producer:03d}')\n"
        )
        schedule = "[UPSTREAM]"
    elif i % ASSET_EVERY == 2:
        producer = i - 2
        asset = f"Asset(name='bench_asset_{producer:03d}', uri='bench://assets/{producer:03d}')"
        extract_inlets = f", inlets=[{asset}]"
    extras = "".join(
        f"    extra_{n} = EmptyOperator(task_id='extra_{n}')\n    load >> extra_{n}\n"
        for n in range(1, extra + 1)
    )
    return f'''"""Generated by bench/airflow_sync.py: DAG {i} of the sync benchmark."""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Asset

{asset_lines}

def _publish() -> str:
    return "published"


with DAG(
    dag_id="{dag_id(i)}",
    description="sync benchmark DAG {i}",
    schedule={schedule},
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={{"owner": "bench-team-{i % 7}", "retries": {i % 3}}},
    tags=["ripple-bench", "group-{i % 10}"],
):
    start = EmptyOperator(task_id="start")
    extract = EmptyOperator(task_id="extract"{extract_inlets})
    clean = EmptyOperator(task_id="clean")
    enrich = EmptyOperator(task_id="enrich")
    score = EmptyOperator(task_id="score")
    merge = EmptyOperator(task_id="merge")
    check = EmptyOperator(task_id="check")
    load = EmptyOperator(task_id="load"{load_outlets})
    report = EmptyOperator(task_id="report")
    publish = PythonOperator(task_id="publish", python_callable=_publish)
    start >> extract >> [clean, enrich, score] >> merge >> check >> load >> [report, publish]
{extras}'''


def write_dags(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{dag_id(i)}.py").write_text(dag_source(i))


# --- Airflow, started and driven ----------------------------------------------------------------


@dataclass
class Airflow:
    url: str
    home: Path
    script_env: dict[str, str]
    pg_server: str
    databases: tuple[str, ...]
    _token: str | None = None
    parsed_at: float = 0.0  # monotonic time by which every DAG had been parsed and listed

    def token(self) -> str:
        if self._token is None:
            answer = httpx.post(
                f"{self.url}/auth/token",
                json={"username": USERNAME, "password": PASSWORD},
                timeout=30,
            )
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        return self._token

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = httpx.request(
            method,
            f"{self.url}/api/v2{path}",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=60,
            **kwargs,
        )
        answer.raise_for_status()
        return answer.json()

    def component_pids(self) -> set[int]:
        pids = set()
        for file in (self.home / "run").glob("*.pid"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                pids.add(int(file.read_text().split()[0]))
        return pids

    def trigger(self, dag: str, logical_date: datetime) -> str:
        run_id = f"bench__{logical_date:%Y-%m-%d}__{secrets.token_hex(3)}"
        self.api(
            "POST",
            f"/dags/{dag}/dagRuns",
            json={"dag_run_id": run_id, "logical_date": logical_date.isoformat()},
        )
        return run_id

    def wait_run(self, dag: str, run_id: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run: dict[str, Any] = self.api("GET", f"/dags/{dag}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag} {run_id} still {run['state']} after {timeout}s")
            time.sleep(1)

    def wait_all_runs(self, timeout: float) -> dict[str, int]:
        """Wait until no DAG run is queued or running; {state: number of runs}."""
        deadline = time.monotonic() + timeout
        while True:
            active = self.api(
                "GET", "/dags/~/dagRuns", params={"state": ["queued", "running"], "limit": 1}
            )["total_entries"]
            if not active:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{active} DAG runs still queued or running after {timeout}s")
            time.sleep(3)
        return {
            state: self.api("GET", "/dags/~/dagRuns", params={"state": [state], "limit": 1})[
                "total_entries"
            ]
            for state in ("success", "failed")
        }

    def latest_version(self, dag: str) -> int:
        found = self.api("GET", f"/dags/{dag}/dagVersions", params={"limit": 100})
        return max((v["version_number"] for v in found["dag_versions"]), default=0)

    def task_ids(self, dag: str) -> set[str]:
        return {t["task_id"] for t in self.api("GET", f"/dags/{dag}/tasks")["tasks"]}

    def set_paused(self, dag: str, paused: bool) -> None:
        self.api("PATCH", f"/dags/{dag}", json={"is_paused": paused})


def prepare_airflow(tmp: Path, dags_folder: Path, first_dag: str, timeout: int) -> Airflow:
    """The settings of a private Airflow (nothing started yet)."""
    pg_server = POSTGRES.url()  # RIPPLE_TEST_DATABASE_URL, or a private scripts/postgres
    suffix = secrets.token_hex(4)
    databases = (f"airflow_bench_{suffix}", f"shop_bench_{suffix}")
    port = free_port()
    home = tmp / "home"
    settings = {
        "RIPPLE_AIRFLOW_HOME": str(home),
        "RIPPLE_AIRFLOW_PORT": str(port),
        "RIPPLE_AIRFLOW_PG_URL": pg_server,
        "RIPPLE_AIRFLOW_METADATA_DB": databases[0],
        "RIPPLE_AIRFLOW_WAREHOUSE_DB": databases[1],
        "RIPPLE_AIRFLOW_DAGS": str(dags_folder),
        # `start` waits for these in one /api/v2/dags page (at most 100 DAGs): the first DAG only;
        # wait_for_dags then waits for all of them.
        "RIPPLE_AIRFLOW_EXPECT_DAGS": first_dag,
        "RIPPLE_AIRFLOW_SCHEDULES": "off",
        "RIPPLE_AIRFLOW_TIMEOUT": str(timeout),
        # Not set in airflow.env, so inherited by the components: no OpenLineage events (this
        # measures the REST sync; nothing would receive them) and each file parsed once, then again
        # only when it changes (the dag-processor re-queues files whose mtime moved), instead of
        # every DAG re-parsed every 30 s on two cores.
        "AIRFLOW__OPENLINEAGE__DISABLED": "true",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
    }
    env = {**os.environ, **settings}
    return Airflow(f"http://127.0.0.1:{port}", home, env, pg_server, databases)


def start_airflow(airflow: Airflow) -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "airflow"), "start"],
        env=airflow.script_env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/airflow start failed: {done.stderr.strip()[-2000:]}")


def wait_for_dags(airflow: Airflow, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        listed = airflow.api("GET", "/dags", params={"limit": 1})["total_entries"]
        if listed >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{listed} of {count} DAGs parsed after {timeout:.0f}s")
        time.sleep(2)


def stop_airflow(airflow: Airflow) -> None:
    subprocess.run(
        [str(ROOT / "scripts" / "airflow"), "stop"],
        env=airflow.script_env,
        capture_output=True,
        check=False,
    )
    try:
        with psycopg.connect(airflow.pg_server, autocommit=True, connect_timeout=10) as conn:
            for name in airflow.databases:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
    except psycopg.Error:
        pass


# --- whose CPU is it ------------------------------------------------------------------------------


def our_processes(airflow: Airflow | None) -> set[int]:
    """This process, the Airflow components' process groups and our PostgreSQL's processes.

    Not this process's parents: the shells above it use no CPU, and the topmost (PID 1, or a
    subreaper) counts every orphan reaped on the machine in its children's CPU time."""
    groups = airflow.component_pids() if airflow is not None else set()
    pg_pid = None
    pg_home = getattr(POSTGRES, "_home", None)
    if pg_home is not None:
        try:
            pg_pid = int((Path(pg_home) / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pg_pid = None
    ours = {os.getpid()}
    for proc in psutil.process_iter(["pid", "ppid"]):
        try:
            in_group = os.getpgid(proc.pid) in groups
            of_postgres = pg_pid is not None and pg_pid in (proc.pid, proc.info["ppid"])
            if in_group or of_postgres:
                ours.add(proc.pid)
        except (ProcessLookupError, psutil.Error):
            pass
    return ours


def other_airflow_processes(ours: set[int]) -> list[str]:
    """Processes mentioning airflow (the `ps aux | grep airflow` view) that are not ours (nor
    this process's parents, e.g. a `timeout ... bench.airflow_sync`)."""
    ours = ours | {p.pid for p in psutil.Process().parents()}
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            command = " ".join(proc.info["cmdline"] or [])
        except psutil.Error:
            continue
        if "airflow" in command.lower() and proc.pid not in ours:
            found.append(f"{proc.pid} {command[:100]}")
    return found


class OtherLoad:
    """Machine-wide busy CPU time minus what our processes (this one, our Airflow, our
    PostgreSQL) used, including their reaped children."""

    def __init__(self, airflow: Airflow) -> None:
        self.airflow = airflow
        self.machine = CpuAccount._busy()
        self.ours = self._ours()
        self.started = time.monotonic()

    def _ours(self) -> dict[int, float]:
        spent = {}
        for pid in our_processes(self.airflow):
            try:
                t = psutil.Process(pid).cpu_times()
                spent[pid] = t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return spent

    def read(self) -> tuple[float, float, float]:
        """(other CPU-seconds, our CPU-seconds, wall seconds) since construction."""
        machine_delta = CpuAccount._busy() - self.machine
        now = self._ours()
        ours = sum(max(0.0, v - self.ours.get(pid, 0.0)) for pid, v in now.items())
        return max(0.0, machine_delta - ours), ours, time.monotonic() - self.started


def wait_for_quiet(airflow: Airflow | None, limit: float) -> tuple[float, list[str]]:
    """Wait up to `limit` seconds until no other Airflow process runs; (seconds waited, others)."""
    started = time.monotonic()
    while True:
        others = other_airflow_processes(our_processes(airflow))
        waited = time.monotonic() - started
        if not others or waited >= limit:
            return waited, others
        progress(f"{len(others)} other airflow processes (e.g. {others[0]}); waiting")
        time.sleep(15)


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    reports: list[SyncReport] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # per-repetition notes (re-parse delays, ...)

    def row(self) -> str:
        secs = [r.seconds for r in self.reports]

        def spread(values: Iterable[int]) -> str:
            vals = sorted(set(values))
            return str(vals[0]) if len(vals) == 1 else f"{vals[0]}-{vals[-1]}"

        return (
            f"| {self.name} | {len(secs)} | **{statistics.median(secs):.2f} s** | "
            f"{min(secs):.2f} / {max(secs):.2f} s | {spread(r.calls for r in self.reports)} | "
            f"{spread(r.written for r in self.reports)} | "
            f"{spread(r.tasks_read for r in self.reports)} | "
            f"{spread(r.runs for r in self.reports)} / "
            f"{spread(r.task_instances for r in self.reports)} |"
        )


async def one_sync(data_dir: Path, client: AirflowRest, *, full: bool) -> SyncReport:
    runtime = await open_runtime(Settings(data_dir=data_dir))
    try:
        report = await sync_airflow(runtime.ingestor, client, NAMESPACE, full=full)
    finally:
        await runtime.close()
    if report.rejected:
        raise RuntimeError(f"sync rejected records: {report.rejected[:3]}")
    progress(
        f"{'full' if full else 'incremental'} sync: {report.seconds:.2f}s, {report.calls} calls, "
        f"{report.written} written, {report.tasks_read} tasks read, {report.runs} runs, "
        f"{report.task_instances} task instances"
    )
    return report


async def has_node(data_dir: Path, node_id: str) -> bool:
    runtime = await open_runtime(Settings(data_dir=data_dir), read_only=True)
    try:
        return node_id in await runtime.store.nodes([node_id])
    finally:
        await runtime.close()


def wait_until(what: str, check: Callable[[], bool], timeout: float = 300) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not after {timeout:.0f}s")
        time.sleep(0.5)
    return time.monotonic() - started


async def settle_window(data_dir: Path, client: AirflowRest, case: Case) -> None:
    """A sync reads runs updated since a minute (OVERLAP) before the previous sync began, so the
    next sync would read the previous case's run again: an unmeasured sync 65 s later moves the
    window past it."""
    time.sleep(65)
    settle = await one_sync(data_dir, client, full=False)
    case.extra.append(
        f"unmeasured sync 65 s later (moves the window past the previous run): "
        f"{settle.written} written, {settle.runs} runs read, {settle.tasks_read} task lists read"
    )


async def edit_case(
    name: str,
    airflow: Airflow,
    client: AirflowRest,
    data_dir: Path,
    dags_folder: Path,
    dags: list[str],
    failures: list[str],
) -> Case:
    """Add a task to each DAG's file in turn; sync once Airflow lists it; is it in the graph?"""
    case = Case(name)
    # The dag-processor drops a parse of a DAG serialized less than
    # [core] min_serialized_dag_update_interval (30 s) ago (SerializedDagModel.write_dag), and with
    # MIN_FILE_PROCESS_INTERVAL=3600 the file would not be parsed again: keep clear of that.
    rest = airflow.parsed_at + MIN_SERIALIZED_UPDATE + 5 - time.monotonic()
    if rest > 0:
        progress(f"waiting {rest:.0f}s: no DAG may be re-serialized within 30 s of the last time")
        time.sleep(rest)
    for dag in dags:
        before = airflow.latest_version(dag)
        (dags_folder / f"{dag}.py").write_text(dag_source(int(dag[-3:]), extra=1))

        def listed(d: str = dag) -> bool:
            return "extra_1" in airflow.task_ids(d)

        delay = wait_until(f"extra_1 listed in {dag}", listed)
        after = airflow.latest_version(dag)
        case.reports.append(await one_sync(data_dir, client, full=False))
        seen = await has_node(data_dir, TaskKey(NAMESPACE, dag, "extra_1").node_id)
        case.extra.append(
            f"{dag}: new task listed by Airflow after {delay:.1f} s, DAG version {before} → "
            f"{after}{' (rewritten in place)' if before == after else ''}; "
            f"new task in Ripple's graph after the sync: **{seen}**"
        )
        if not seen:
            failures.append(
                f"{name}: {dag}'s new task extra_1 not in Ripple's graph after the sync"
            )
    return case


async def measure(
    airflow: Airflow, tmp: Path, dags_folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    n = args.dags
    client = AirflowRest(airflow.url, username=USERNAME, password=PASSWORD)
    k = args.repeat_change
    never_run_edited = [dag_id(i) for i in (4, 6, 8)][:k]  # edited before any DAG ran
    edited = [dag_id(i) for i in (3, 5, 7)][:k]  # edited after every DAG ran once
    paused = dag_id(n - 1)
    later_runs = [dag_id(i) for i in (15, 17, 19)][:k]
    day = datetime(2026, 2, 1, tzinfo=UTC)
    failures: list[str] = []

    # --- worst case: no DAG has run, so no DAG is settled and every sync reads every task list.
    worst: list[Case] = []
    worst_load = OtherLoad(airflow)
    others_worst = other_airflow_processes(our_processes(airflow))
    full0 = Case("full sync (fresh data dir), no DAG has run")
    for r in range(args.repeat_full):
        full0.reports.append(await one_sync(tmp / f"ripple-never-{r}", client, full=True))
    worst.append(full0)
    worst_dir = tmp / f"ripple-never-{args.repeat_full - 1}"
    nothing0 = Case(f"incremental, nothing changed, **{n} never-run DAGs**")
    for _ in range(args.repeat):
        nothing0.reports.append(await one_sync(worst_dir, client, full=False))
    worst.append(nothing0)
    worst.append(
        await edit_case(
            "incremental after editing one never-run DAG's file (a task added; version "
            f"rewritten in place), {n} never-run DAGs",
            airflow,
            client,
            worst_dir,
            dags_folder,
            never_run_edited,
            failures,
        )
    )
    worst_cpu = worst_load.read()

    # --- run every DAG once (the PythonOperator runs on the LocalExecutor; Airflow marks the
    # EmptyOperators successful itself), then one sync sees their task instances: all settled.
    progress(f"triggering all {n} DAGs (logical date {day:%Y-%m-%d})")
    started = time.monotonic()
    for i in range(n):
        airflow.trigger(dag_id(i), day)
    states = airflow.wait_all_runs(timeout=args.run_timeout)
    last_run_end = time.monotonic()
    runs_seconds = last_run_end - started
    progress(f"all runs done in {runs_seconds:.0f}s: {states}")
    settling = Case(f"incremental that first sees the {n} runs (settles every DAG), once")
    settling.reports.append(await one_sync(worst_dir, client, full=False))

    # Runs updated within a minute of the previous sync's start are read again (OVERLAP): let the
    # runs age past that so "nothing changed" really reads nothing.
    rest = 65 - (time.monotonic() - last_run_end)
    if rest > 0:
        progress(f"letting the runs age {rest:.0f}s past the sync overlap")
        time.sleep(rest)

    # --- realistic: every DAG has run on its current version.
    others_real = other_airflow_processes(our_processes(airflow))
    real_load = OtherLoad(airflow)
    real: list[Case] = []
    full = Case("full sync (fresh data dir)")
    for r in range(args.repeat_full):
        full.reports.append(await one_sync(tmp / f"ripple-full-{r}", client, full=True))
    real.append(full)
    data_dir = tmp / f"ripple-full-{args.repeat_full - 1}"

    nothing = Case("incremental, nothing changed")
    for _ in range(args.repeat):
        nothing.reports.append(await one_sync(data_dir, client, full=False))
    real.append(nothing)

    pause = Case(f"incremental after pausing / unpausing one DAG ({paused})")
    for r in range(k * 2):
        airflow.set_paused(paused, r % 2 == 0)
        pause.reports.append(await one_sync(data_dir, client, full=False))
    real.append(pause)

    new_run = Case("incremental after one new DAG run (10 task instances)")
    for r, dag in enumerate(later_runs):
        if r:
            await settle_window(data_dir, client, new_run)
        result = airflow.wait_run(dag, airflow.trigger(dag, day + timedelta(days=r + 1)))
        new_run.extra.append(f"{dag}: run {result['state']}")
        new_run.reports.append(await one_sync(data_dir, client, full=False))
    real.append(new_run)

    # Edits last: an edited DAG's new version has no task instances until it runs, so from then on
    # its tasks are read on every sync (the k-th edit's sync reads k task lists).
    edit_holder = Case("")
    await settle_window(data_dir, client, edit_holder)
    edit = await edit_case(
        "incremental after editing one DAG file (a task added; new DAG version)",
        airflow,
        client,
        data_dir,
        dags_folder,
        edited,
        failures,
    )
    edit.extra[:0] = edit_holder.extra
    real.append(edit)
    real_cpu = real_load.read()
    others_after = other_airflow_processes(our_processes(airflow))

    return {
        "worst": worst,
        "settling": settling,
        "real": real,
        "runs_seconds": runs_seconds,
        "run_states": states,
        "worst_cpu": worst_cpu,
        "real_cpu": real_cpu,
        "others_worst": others_worst,
        "others_real": others_real,
        "others_after": others_after,
        "failures": failures,
    }


# --- report --------------------------------------------------------------------------------------


def render(args: argparse.Namespace, found: dict[str, Any], timings: dict[str, float]) -> str:
    n = args.dags
    worst: list[Case] = found["worst"]
    real: list[Case] = found["real"]
    settling: Case = found["settling"]
    info = machine()
    header = [
        "| case | n | median | min / max | API calls | DAG records written | DAGs whose tasks "
        "were read | runs / task instances read |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def median(case: Case) -> float:
        return statistics.median(r.seconds for r in case.reports)

    def calls(case: Case) -> int:
        return int(statistics.median(r.calls for r in case.reports))

    def load_line(label: str, cpu: tuple[float, float, float], others: list[str]) -> str:
        other, ours, wall = cpu
        return (
            f"- {label} ({wall:.0f} s): {other:.0f} CPU-seconds used by processes other than this "
            f"benchmark and the Airflow + PostgreSQL it started ({other / wall:.0%} of one core; "
            f"near 0 on a quiet machine); ours {ours:.0f} CPU-seconds; "
            + (
                "no other Airflow process running at its start."
                if not others
                else f"{len(others)} other Airflow processes running at its start."
            )
        )

    per_dag_ms = (median(worst[1]) - median(real[1])) / n * 1000
    states = found["run_states"]
    lines = [
        f"# Airflow sync: {n} DAGs x {TASKS_PER_DAG} tasks against a real Airflow",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC at Ripple commit {info['ripple commit']} "
        f"({found['sync_source']}) on {platform.machine()}, {info['cores']} ({info['cpu']}), "
        f"{info['memory']}, {info['python']}; Airflow 3.3.2 (LocalExecutor, parallelism 4, "
        "api-server with 1 worker, PostgreSQL metadata) on the same machine, started by "
        "`scripts/airflow start`.",
        "",
        f"Reproduce: `.venv/bin/python -m bench.airflow_sync --dags {n} --repeat "
        f"{args.repeat} --repeat-full {args.repeat_full} --repeat-change {args.repeat_change}`.",
        "",
        f"Airflow: {n} generated DAG files (one DAG each: `start >> extract >> [clean, "
        "enrich, score] >> merge >> check >> load >> [report, publish]`, nine EmptyOperators and a "
        "PythonOperator, 12 dependencies; every 20th DAG's `load` updates an asset, the next "
        "DAG is scheduled on it and the one after reads it as an inlet of `extract`; "
        f"`schedule=None`, schedules off). Start to all {n} DAGs listed by the REST API: "
        f"{timings['start']:.0f} s (migration included).",
        "",
        "`sync_airflow(ingestor, AirflowRest(...), namespace, full=...)` in this process, "
        "`open_runtime(Settings(data_dir=...))` around each sync (not timed); seconds are "
        "`SyncReport.seconds` (REST reads, building the records, one log transaction, projection "
        "into the graph). API calls count every REST request, retries included; pages are 100 "
        'items. "DAGs whose tasks were read" is one `GET /dags/{id}/tasks` each.',
        "",
        "Order: (1) with no DAG run yet, the worst-case rows; (2) every DAG triggered once "
        f"({n} runs, {n * TASKS_PER_DAG} task instances: {states.get('success', 0)} runs "
        f"succeeded, {states.get('failed', 0)} failed, in {found['runs_seconds']:.0f} s) and one "
        "sync that sees their task instances; (3) 65 s later, the usual-state rows.",
        "",
        "## Usual state: every DAG has run on its current version",
        "",
        *header,
        *(case.row() for case in real),
        "",
        f"## Worst case: DAGs that have never run ({n} of {n})",
        "",
        'A DAG whose current version has no task instance yet is not "settled": Airflow 3.3 '
        "rewrites such a version in place when its file changes (same version number), so the "
        "sync re-reads its task list on every incremental sync until it sees a task instance of "
        "that version.",
        "",
        *header,
        *(case.row() for case in worst),
        settling.row(),
        "",
        f"Each never-run DAG adds one tasks call to every incremental sync: here "
        f"{median(worst[1]):.2f} s and {calls(worst[1])} calls with {n} of them against "
        f"{median(real[1]):.2f} s and {calls(real[1])} calls with none, about "
        f"**{per_dag_ms:.0f} ms per never-run DAG** per sync. A DAG leaves that state with the "
        "first sync that reads a task instance of its current version. The same holds for a DAG "
        "edited after it ran, until it runs on its new version: in the usual-state edit row the "
        "k-th edit's sync reads k task lists (the DAGs edited before it have not run since).",
        "",
    ]
    notes = [f"- {note}" for case in [*real, *worst, settling] for note in case.extra]
    if notes:
        lines += ["Details:", "", *notes, ""]
    lines += [
        "**Other load**:",
        "",
        load_line("worst-case rows", found["worst_cpu"], found["others_worst"]),
        load_line("usual-state rows", found["real_cpu"], found["others_real"]),
        "- Before starting Airflow the benchmark waited "
        f"{found['waited']:.0f} s for other Airflow processes to go away; "
        + (
            "none were left."
            if not found["others_before"]
            else f"{len(found['others_before'])} were still running."
        )
        + (
            " None at the end."
            if not found["others_after"]
            else f" {len(found['others_after'])} at the end."
        ),
        "",
        "Set-up choices: the components inherit `AIRFLOW__OPENLINEAGE__DISABLED=true` (no Ripple "
        "server receives events here) and `AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=3600` "
        "(each file parsed once, then again only when its mtime moves — Airflow re-queues changed "
        f"files at once), so the dag-processor does not re-parse {n} files every 30 s on the two "
        "cores while the syncs are timed.",
        "",
    ]
    if found["failures"]:
        lines += ["**FAILED**:", "", *(f"- {f}" for f in found["failures"]), ""]
    return "\n".join(lines)


def sync_source() -> str:
    """Whether ripple/ingest/airflow_sync.py is as committed (the report names the commit)."""
    path = "ripple/ingest/airflow_sync.py"
    changed = subprocess.run(
        ["git", "diff", "--quiet", "HEAD", "--", path], cwd=ROOT, check=False
    ).returncode
    if changed == 0:
        return f"{path} as committed"
    digest = hashlib.sha256((ROOT / path).read_bytes()).hexdigest()[:12]
    return f"{path} with uncommitted changes, sha256 {digest}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dags", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="incremental, nothing changed")
    parser.add_argument("--repeat-full", type=int, default=3)
    parser.add_argument("--repeat-change", type=int, default=3, help="each change case")
    parser.add_argument("--quiet-wait", type=float, default=900, help="max wait for other Airflows")
    parser.add_argument("--start-timeout", type=int, default=900)
    parser.add_argument("--run-timeout", type=int, default=1800, help="max wait for all DAG runs")
    parser.add_argument("--out", type=Path, default=RESULTS / "airflow_sync.md")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.dags < 21 or not 1 <= args.repeat_change <= 3:
        parser.error("--dags must be at least 21 and --repeat-change 1 to 3")

    # `timeout` or kill: SIGTERM unwinds through the finally below (Airflow, PostgreSQL stopped).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    progress(f"waiting up to {args.quiet_wait:.0f}s for other Airflow processes to go away")
    waited, others_before = wait_for_quiet(None, args.quiet_wait)
    tmp = Path(tempfile.mkdtemp(prefix="ripple-bench-sync-"))
    dags_folder = tmp / "dags"
    write_dags(dags_folder, args.dags)
    progress(f"{args.dags} DAG files in {dags_folder}; starting Airflow (scripts/airflow start)")
    airflow: Airflow | None = None
    timings: dict[str, float] = {}
    try:
        started = time.monotonic()
        airflow = prepare_airflow(tmp, dags_folder, dag_id(0), args.start_timeout)
        start_airflow(airflow)
        wait_for_dags(airflow, args.dags, args.start_timeout)
        timings["start"] = time.monotonic() - started
        airflow.parsed_at = time.monotonic()
        listed = airflow.api("GET", "/dags", params={"limit": 1})["total_entries"]
        progress(f"Airflow at {airflow.url}: {listed} DAGs after {timings['start']:.0f}s")
        found = asyncio.run(measure(airflow, tmp, dags_folder, args))
        found.update(waited=waited, others_before=others_before, sync_source=sync_source())
    finally:
        if airflow is not None:
            progress("stopping Airflow")
            stop_airflow(airflow)
        POSTGRES.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    text = render(args, found, timings)
    write_atomic(args.out, text)
    print(text)
    for failure in found["failures"]:
        progress(f"FAILED: {failure}")
    return 1 if found["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
