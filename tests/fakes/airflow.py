"""FakeAirflow: an in-memory Airflow behind the executor's `Orchestrator` protocol
(ripple/remediation/orchestrator.py), for millisecond tests of the executor's rules.

It holds DAGs (their task ids), DAG runs and task instances, and behaves as Airflow does where the
executor relies on it: a run per DAG and logical date; a clear resets the task instance (state
None) and its run (queued), and the try number goes up when the scheduler starts the task again,
not at the clear; a trigger of an existing run id or logical date answers "exists" (None); a task
instance of an unknown run is None; clearing in an unknown run is refused (404).

Time is calls: before answering any call the fake's scheduler takes one step — tasks waiting
(cleared or triggered) in a run that has not ended start (`running`, try number + 1), and tasks
running end as `auto` says ("success", "failed", or None: they run until the test calls
`finish`); a run whose task instances all ended ends too. So an executor polling the fake sees its
tasks move without any sleep.

A test scripts failures and timing: `fail(method, error, times=, after=)` raises an error instead
of answering (or, `after=True`, once the call took effect — Airflow did it, the answer was lost),
`refuse(method, status)` is that with SourceRefused, `down = True` makes every call
SourceUnavailable, `hold(method)` stops the next such call until the test releases it,
`latency` delays every answer, `race_clear(dag_id)` makes Airflow close the run before it
schedules the next task cleared in it. Every call is recorded in `calls`, every start of a task
in `starts`, and the most tasks in flight at once in `peak` (`peak_per_run` within one run).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ripple.errors import SourceRefused, SourceUnavailable
from ripple.remediation.orchestrator import DagRun, TaskInstance

METHODS = ("run_at", "dag_run", "task_instance", "clear_task", "trigger_run")
_ENDED = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})


@dataclass(frozen=True)
class Call:
    """One call the executor made: the method and its arguments."""

    method: str
    dag_id: str
    run_id: str | None = None
    task_id: str | None = None
    logical_date: datetime | None = None
    conf: Mapping[str, Any] | None = None


@dataclass
class FakeTask:
    state: str | None
    try_number: int
    waiting: bool = False  # cleared or triggered: the scheduler will start it


@dataclass
class FakeRun:
    dag_id: str
    run_id: str
    logical_date: datetime
    state: str
    conf: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, FakeTask] = field(default_factory=dict)


@dataclass
class _Fault:
    method: str  # a METHODS name, or "*"
    error: BaseException
    times: int
    after: bool
    when: Callable[[Call], bool] | None

    def matches(self, call: Call, after: bool) -> bool:
        return (
            self.times > 0
            and self.after == after
            and self.method in ("*", call.method)
            and (self.when is None or self.when(call))
        )


class Gate:
    """A held call: `reached` is set when the call arrives; it proceeds on `release()`."""

    def __init__(self, method: str, after: bool) -> None:
        self.method = method
        self.after = after
        self.reached = asyncio.Event()
        self._open = asyncio.Event()

    def release(self) -> None:
        self._open.set()

    async def wait(self) -> None:
        self.reached.set()
        await self._open.wait()


class FakeAirflow:
    """An Orchestrator in memory; see the module docstring for what a test can script."""

    def __init__(
        self,
        dags: Mapping[str, Sequence[str]] | None = None,
        *,
        auto: str | None = "success",
        url: str = "http://airflow.test",
    ) -> None:
        self.url = url
        self.dags: dict[str, list[str]] = {dag: list(tasks) for dag, tasks in (dags or {}).items()}
        self.auto = auto
        self.outcomes: dict[tuple[str, str], str] = {}  # (dag_id, task_id) -> how it ends
        self.runs: dict[tuple[str, str], FakeRun] = {}
        self.calls: list[Call] = []
        self.starts: list[tuple[str, str, str]] = []  # (dag_id, run_id, task_id) per new try
        self.peak = 0  # the most tasks waiting or running at once
        self.peak_per_run = 0  # the same within one DAG run
        self.latency = 0.0
        self.down = False
        self._faults: list[_Fault] = []
        self._gates: list[Gate] = []
        self._races: dict[str, int] = {}

    # -- the test's side ------------------------------------------------------------------------

    def add_run(
        self,
        dag_id: str,
        logical_date: datetime,
        *,
        run_id: str | None = None,
        state: str = "success",
        tries: int = 1,
    ) -> str:
        """A DAG run that already ran: each of the DAG's tasks in `state` at try `tries`."""
        run_id = run_id or f"scheduled__{logical_date.isoformat()}"
        run = FakeRun(dag_id, run_id, logical_date, state)
        for task_id in self.dags[dag_id]:
            run.tasks[task_id] = FakeTask(state, tries)
        self.runs[(dag_id, run_id)] = run
        return run_id

    def fail(
        self,
        method: str,
        error: BaseException,
        *,
        times: int = 1,
        after: bool = False,
        when: Callable[[Call], bool] | None = None,
    ) -> None:
        """The next `times` calls of `method` ("*": any) matching `when` raise `error` — before
        taking effect, or with `after=True` once they took effect."""
        self._faults.append(_Fault(method, error, times, after, when))

    def refuse(
        self,
        method: str,
        status: int,
        *,
        times: int = 1,
        when: Callable[[Call], bool] | None = None,
    ) -> None:
        """Airflow answers `status` (a 4xx) to the next `times` such calls."""
        error = SourceRefused(f"Airflow at {self.url} refused {method}: HTTP {status}", status)
        self.fail(method, error, times=times, when=when)

    def hold(self, method: str, *, after: bool = False) -> Gate:
        """The next call of `method` waits (before, or after, taking effect) until released."""
        gate = Gate(method, after)
        self._gates.append(gate)
        return gate

    def race_clear(self, dag_id: str, times: int = 1) -> None:
        """The next `times` clears in `dag_id`'s runs lose the race with Airflow closing the run:
        the run ends before the scheduler picks the cleared task up (it stays unscheduled)."""
        self._races[dag_id] = self._races.get(dag_id, 0) + times

    def finish(self, dag_id: str, run_id: str, task_id: str, state: str = "success") -> None:
        """A task the scheduler started ends in `state` (one started but not run yet starts)."""
        task = self.runs[(dag_id, run_id)].tasks[task_id]
        if task.waiting:
            self._start(dag_id, run_id, task_id, task)
        task.state = state
        self._close_if_done(self.runs[(dag_id, run_id)])

    def task(self, dag_id: str, run_id: str, task_id: str) -> FakeTask:
        return self.runs[(dag_id, run_id)].tasks[task_id]

    def run_of(self, dag_id: str, logical_date: datetime) -> FakeRun | None:
        found = [
            r for r in self.runs.values() if (r.dag_id, r.logical_date) == (dag_id, logical_date)
        ]
        return found[0] if found else None

    def called(self, method: str, **args: Any) -> list[Call]:
        """The calls of `method` whose arguments include `args`."""
        return [
            call
            for call in self.calls
            if call.method == method and all(getattr(call, k) == v for k, v in args.items())
        ]

    def running(self) -> list[tuple[str, str, str]]:
        """(dag_id, run_id, task_id) of every task cleared or triggered and not ended."""
        return [
            (run.dag_id, run.run_id, task_id)
            for run in self.runs.values()
            for task_id, task in run.tasks.items()
            if task.waiting or task.state == "running"
        ]

    # -- the Orchestrator protocol --------------------------------------------------------------

    async def run_at(self, dag_id: str, logical_date: datetime) -> str | None:
        await self._enter(Call("run_at", dag_id, logical_date=logical_date))
        run = self.run_of(dag_id, logical_date)
        await self._leave(Call("run_at", dag_id, logical_date=logical_date))
        return None if run is None else run.run_id

    async def dag_run(self, dag_id: str, run_id: str) -> DagRun:
        call = Call("dag_run", dag_id, run_id)
        await self._enter(call)
        run = self._run(dag_id, run_id, call)
        await self._leave(call)
        return DagRun(dag_id, run_id, run.state)

    async def task_instance(self, dag_id: str, run_id: str, task_id: str) -> TaskInstance | None:
        call = Call("task_instance", dag_id, run_id, task_id)
        await self._enter(call)
        run = self.runs.get((dag_id, run_id))
        task = None if run is None else run.tasks.get(task_id)
        await self._leave(call)
        if task is None:
            return None
        return TaskInstance(dag_id, run_id, task_id, task.state, task.try_number)

    async def clear_task(self, dag_id: str, run_id: str, task_id: str) -> list[TaskInstance]:
        call = Call("clear_task", dag_id, run_id, task_id)
        await self._enter(call)
        run = self._run(dag_id, run_id, call)
        task = run.tasks.get(task_id)
        cleared = []
        if task is not None:
            task.state = None
            if self._races.get(dag_id):
                self._races[dag_id] -= 1  # Airflow closed the run before scheduling the task
                task.waiting = False
            else:
                task.waiting = True
                run.state = "queued"
            cleared.append(TaskInstance(dag_id, run_id, task_id, None, task.try_number))
        await self._leave(call)
        return cleared

    async def trigger_run(
        self, dag_id: str, run_id: str, logical_date: datetime, conf: dict[str, Any]
    ) -> DagRun | None:
        call = Call("trigger_run", dag_id, run_id, logical_date=logical_date, conf=dict(conf))
        await self._enter(call)
        if dag_id not in self.dags:
            raise SourceRefused(f"Airflow at {self.url}: no DAG {dag_id!r} (HTTP 404)", 404)
        if (dag_id, run_id) in self.runs or self.run_of(dag_id, logical_date) is not None:
            await self._leave(call)
            return None
        run = FakeRun(dag_id, run_id, logical_date, "queued", dict(conf))
        for task_id in self.dags[dag_id]:
            run.tasks[task_id] = FakeTask(None, 0, waiting=True)
        self.runs[(dag_id, run_id)] = run
        await self._leave(call)
        return DagRun(dag_id, run_id, run.state)

    # -- the machinery --------------------------------------------------------------------------

    async def _enter(self, call: Call) -> None:
        self.calls.append(call)
        if self.latency:
            await asyncio.sleep(self.latency)
        await self._gate(call, after=False)
        if self.down:
            raise SourceUnavailable(f"Airflow at {self.url} did not answer {call.method} (down)")
        self._raise_fault(call, after=False)
        self._step()

    async def _leave(self, call: Call) -> None:
        active = self.running()
        per_run = Counter((dag_id, run_id) for dag_id, run_id, _ in active)
        self.peak = max(self.peak, len(active))
        self.peak_per_run = max(self.peak_per_run, max(per_run.values(), default=0))
        await self._gate(call, after=True)
        self._raise_fault(call, after=True)

    async def _gate(self, call: Call, *, after: bool) -> None:
        for gate in self._gates:
            if gate.method == call.method and gate.after == after:
                self._gates.remove(gate)
                await gate.wait()
                return

    def _raise_fault(self, call: Call, *, after: bool) -> None:
        for fault in self._faults:
            if fault.matches(call, after):
                fault.times -= 1
                raise fault.error

    def _run(self, dag_id: str, run_id: str, call: Call) -> FakeRun:
        run = self.runs.get((dag_id, run_id))
        if run is None:
            raise SourceRefused(
                f"Airflow at {self.url} refused {call.method}: HTTP 404 DagRun {run_id!r} of "
                f"{dag_id!r} not found",
                404,
            )
        return run

    def _step(self) -> None:
        """One step of the scheduler: running tasks end (when `auto` says how), waiting tasks of
        runs not ended start, runs whose tasks all ended end."""
        for run in self.runs.values():
            for task_id, task in run.tasks.items():
                if task.state == "running":
                    outcome = self.outcomes.get((run.dag_id, task_id), self.auto)
                    if outcome is not None:
                        task.state = outcome
                elif task.waiting and run.state not in ("success", "failed"):
                    self._start(run.dag_id, run.run_id, task_id, task)
            self._close_if_done(run)

    def _start(self, dag_id: str, run_id: str, task_id: str, task: FakeTask) -> None:
        task.waiting = False
        task.state = "running"
        task.try_number += 1
        self.starts.append((dag_id, run_id, task_id))

    @staticmethod
    def _close_if_done(run: FakeRun) -> None:
        """A run with tasks waiting or running goes on; otherwise it has ended (failed when a
        task failed). A task left unscheduled by a lost race does not keep it open."""
        tasks = run.tasks.values()
        if any(t.waiting or t.state == "running" for t in tasks):
            if any(t.state == "running" for t in tasks):
                run.state = "running"
            return
        failed = any(t.state in ("failed", "upstream_failed") for t in tasks)
        run.state = "failed" if failed else "success"
