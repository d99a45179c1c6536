"""The backfill executor: runs a stored plan through an orchestrator (Airflow), resumably and
audited.

The executor talks to Airflow only through the `Orchestrator` protocol
(ripple/remediation/orchestrator.py): five calls answering in plain values — the run at a logical
date, a DAG run's state, a task instance's state and try number, clear one task instance, trigger
a DAG run — and the orchestrator's url. ripple/clients/airflow.py's `AirflowOrchestrator` is the
real one, over Airflow's REST API with its retries; tests/fakes/airflow.py's `FakeAirflow` is an
in-memory one, so these rules are tested in milliseconds (tests/unit/test_executor.py) and the
contract suite holds both to the same answers. Each call is audited here under the same action
names (`airflow.get_dag_runs`, `airflow.get_dag_run`, `airflow.get_task_instance`,
`airflow.clear_task_instances`, `airflow.trigger_dag_run`) with a plain summary of its request
and answer; a missing task instance (404) and an existing triggered run (409) are answers, not
errors, of the protocol.

Each tick reads the plan's units from the state store (the truth, not memory) and
1. settles units left `launching` by a previous executor that died mid-call,
2. polls the task instance of every `running` unit,
3. launches ready units (every parent succeeded), at most `max_parallel` running at once.

A unit is launched in three steps — its task instance's current try number is read, the unit
moves `ready → launching` storing that try number (compare-and-set, so two executors never both
launch it), then Airflow is asked to run it and the unit moves to `running`. An executor killed
between those steps leaves the unit `launching`; the next one looks at the task instance: still
terminal at the stored try number means the request never landed (ask again), anything else means
it did (just follow it). So no task instance runs twice for one plan.

How a unit runs: when its DAG has a run at the unit's logical date, that task instance is cleared
alone (`only_failed=false`: bad data sits behind runs that succeeded; no implicit downstream: the
plan holds it), one unit at a time per DAG run — clearing a task while another finishes the same
run races with Airflow closing that run, and a cleared task whose run ended before it was scheduled
is cleared again (it had not run). When there is no run, the DAG run is triggered with a run id
derived from the plan — once for all of the plan's units of that DAG and date, when all of them
are ready — and each unit follows its task instance in that run.

Airflow retries tasks itself; the executor's orchestrator retries only its own API calls
(ripple/clients/airflow.py: full jitter, capped, a shared retry budget). A circuit breaker per
Airflow deployment (purgatory, here) opens after repeated failures: the plan is `paused`, nothing
is launched or polled until the breaker half-opens and a probe succeeds, then the plan is
`running` again. A unit that fails — its task failed, or Airflow refused to run it (a 4xx, e.g.
its DAG run was deleted) — makes everything downstream of it `skipped` (not launched), and the
plan ends `partially_failed` with the reason; refused credentials pause the plan and stop the
executor. Cancel (plan status `cancelling`) stops launching; running units are followed to their
end; the plan ends `cancelled`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from ripple.errors import SourceRefused, SourceUnavailable
from ripple.remediation.orchestrator import DagRun, Orchestrator, TaskInstance
from ripple.remediation.state import (
    END_PLAN_STATES,
    TERMINAL_UNIT_STATES,
    PlanStatus,
    RemediationState,
    UnitState,
    UnitStatus,
    downstream,
    ready,
)

# Airflow task-instance states, by what they mean for a unit.
_SUCCESS = frozenset({"success", "skipped"})
_FAILED = frozenset({"failed", "upstream_failed", "removed"})
_DONE = _SUCCESS | _FAILED

T = TypeVar("T")
Link = Callable[[str, str, list[UnitState]], Awaitable[None]]  # plan id, status, units

_OPEN = {UnitStatus.PENDING, UnitStatus.READY}  # not launched yet
_ACTIVE = (UnitStatus.LAUNCHING, UnitStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class ExecutorOptions:
    actor: str = "executor"
    poll_interval: float = 5.0
    max_parallel: int | None = None  # None: the plan's maxParallel, else 4
    breaker_threshold: int = 3  # failed calls (after their own retries) that open the circuit
    breaker_ttl: float = 30.0  # seconds the circuit stays open before a probe
    deadline: float | None = None  # give up waiting after this many seconds (None: never)


class Paused(Exception):
    """The circuit is open: nothing to do until it half-opens."""


class Executor:
    def __init__(
        self,
        state: RemediationState,
        airflow: Orchestrator,
        options: ExecutorOptions | None = None,
        *,
        link: Link | None = None,
        say: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.state = state
        self.airflow = airflow
        self.options = options or ExecutorOptions()
        self._link = link
        self._say = say
        self._circuit = f"airflow:{airflow.url}"
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=self.options.breaker_threshold,
            default_ttl=self.options.breaker_ttl,
            exclude=[SourceRefused],  # Airflow answered: the API is up
        )
        self._plan_id = ""
        self.calls_made = 0

    # -- the loop -------------------------------------------------------------------------------

    async def run(self, plan_id: str) -> str:
        """Run (or resume) a plan until it ends; returns its final status."""
        self._plan_id = plan_id
        actor = self.options.actor
        stored = await self.state.get_plan(plan_id)
        if stored.status in END_PLAN_STATES:
            return stored.status
        await self.state.set_plan_status(
            plan_id,
            PlanStatus.RUNNING,
            expected={PlanStatus.PLANNED, PlanStatus.PAUSED},
            actor=actor,
        )
        cap = self.options.max_parallel or _plan_cap(stored.plan) or 4
        started = time.monotonic()
        while True:
            status = (await self.state.get_plan(plan_id)).status
            units = await self.state.units(plan_id)
            if status in END_PLAN_STATES:
                return status
            try:
                await self._tick(units, cap, cancelling=status == PlanStatus.CANCELLING)
                if status == PlanStatus.PAUSED:
                    await self.state.set_plan_status(
                        plan_id,
                        PlanStatus.RUNNING,
                        expected={PlanStatus.PAUSED},
                        actor=actor,
                        reason="Airflow answers again: circuit closed",
                    )
            except Paused as exc:
                if await self.state.set_plan_status(
                    plan_id,
                    PlanStatus.PAUSED,
                    expected={PlanStatus.RUNNING},
                    actor=actor,
                    reason=str(exc),
                ):
                    self._say(f"paused: {exc}")
            except SourceRefused as exc:  # credentials refused: every call would be
                reason = f"{exc} — fix the Airflow credentials and run the plan again"
                await self.state.set_plan_status(
                    plan_id,
                    PlanStatus.PAUSED,
                    expected={PlanStatus.RUNNING, PlanStatus.PAUSED},
                    actor=actor,
                    reason=reason,
                )
                self._say(reason)
                return PlanStatus.PAUSED
            except SourceUnavailable as exc:  # counted by the breaker; try again next tick
                await self._audit("airflow.unavailable", detail=str(exc))
                self._say(str(exc))
            units = await self.state.units(plan_id)
            final = await self._finish_if_done(units, status)
            if final is not None:
                return final
            if (
                self.options.deadline is not None
                and time.monotonic() - started > self.options.deadline
            ):
                return (await self.state.get_plan(plan_id)).status
            await asyncio.sleep(self.options.poll_interval)

    async def _tick(self, units: list[UnitState], cap: int, *, cancelling: bool) -> None:
        for unit in units:
            if unit.state == UnitStatus.LAUNCHING:
                await self._guard(unit, units, self._settle_launching(unit))
        for unit in units:
            if unit.state == UnitStatus.RUNNING:
                await self._guard(unit, units, self._poll(unit, units))
        if cancelling:
            for unit in units:
                if unit.state in _OPEN:
                    await self._move(unit, UnitStatus.CANCELLED, _OPEN, "plan cancelled")
            return
        units = await self.state.units(self._plan_id)
        active = sum(1 for unit in units if unit.state in _ACTIVE)
        # One unit at a time per DAG run: clearing a task while another one finishes its run
        # races with Airflow closing that run (the cleared task would never be scheduled).
        busy = {(u.dag_id, u.logical_date) for u in units if u.state in _ACTIVE}
        for unit in ready(units):
            if active >= cap:
                break
            key = (unit.dag_id, unit.logical_date)
            if key in busy:
                continue
            count = await self._guard(unit, units, self._launch(unit, units))
            active += count
            if count:
                busy.add(key)

    async def _finish_if_done(self, units: list[UnitState], status: str) -> str | None:
        open_units = [
            u for u in units if u.state not in TERMINAL_UNIT_STATES and u.state != UnitStatus.HELD
        ]
        if open_units:
            return None
        failed = [u for u in units if u.state == UnitStatus.FAILED]
        held = [u for u in units if u.state == UnitStatus.HELD]
        reason: str | None
        final: PlanStatus
        if status == PlanStatus.CANCELLING or any(u.state == UnitStatus.CANCELLED for u in units):
            final, reason = (
                PlanStatus.CANCELLED,
                "cancelled; running units were followed to their end",
            )
        elif failed:
            names = ", ".join(u.unit_id for u in failed[:5])
            skipped = sum(1 for u in units if u.state == UnitStatus.SKIPPED)
            final = PlanStatus.PARTIALLY_FAILED
            reason = f"{len(failed)} unit(s) failed ({names}); {skipped} downstream not run"
        else:
            final = PlanStatus.SUCCEEDED
            reason = f"{len(held)} unit(s) held by quarantine" if held else None
        await self.state.set_plan_status(
            self._plan_id,
            final,
            expected={PlanStatus.RUNNING, PlanStatus.PAUSED, PlanStatus.CANCELLING},
            actor=self.options.actor,
            reason=reason,
        )
        if self._link is not None:
            await self._link(self._plan_id, final, units)
        return final

    # -- units ----------------------------------------------------------------------------------

    async def _launch(self, unit: UnitState, units: list[UnitState]) -> int:
        """Launch one ready unit (or the trigger group it belongs to); how many were launched."""
        run_id = unit.airflow_run_id or await self._run_at(unit.dag_id, unit.logical_date)
        if run_id is None:
            return await self._launch_trigger(unit, units)
        before = await self._task_instance(unit.dag_id, run_id, unit.task_id)
        pre_try = 0 if before is None else before.try_number
        moved = await self.state.set_unit_state(
            self._plan_id,
            unit.unit_id,
            UnitStatus.LAUNCHING,
            expected=_OPEN,
            actor=self.options.actor,
            airflow_run_id=run_id,
            try_number=pre_try,
            new_attempt=True,
            detail=f"clear {unit.task_id} in {run_id} (try {pre_try} now)",
        )
        if not moved.applied:
            return 0  # another executor took it
        await self._clear(moved.unit, run_id)
        await self._move(
            moved.unit,
            UnitStatus.RUNNING,
            {UnitStatus.LAUNCHING},
            f"cleared in {run_id}",
        )
        return 1

    async def _launch_trigger(self, unit: UnitState, units: list[UnitState]) -> int:
        """Trigger the DAG run for a missing partition once every plan unit of that DAG and date
        is ready; each then follows its own task instance in that run."""
        group = [u for u in units if (u.dag_id, u.logical_date) == (unit.dag_id, unit.logical_date)]
        in_group = {u.unit_id for u in group}
        states = {u.unit_id: u.state for u in units}
        for member in group:
            outside = [p for p in member.parents if p not in in_group]
            if member.state not in _OPEN or any(
                states.get(p) != UnitStatus.SUCCEEDED for p in outside
            ):
                return 0  # wait for the whole group
        run_id = trigger_run_id(self._plan_id, unit.dag_id, unit.logical_date)
        launched = []
        for member in group:
            moved = await self.state.set_unit_state(
                self._plan_id,
                member.unit_id,
                UnitStatus.LAUNCHING,
                expected=_OPEN,
                actor=self.options.actor,
                airflow_run_id=run_id,
                try_number=0,
                new_attempt=True,
                detail=f"trigger {unit.dag_id} at {unit.logical_date} as {run_id}",
            )
            if moved.applied:
                launched.append(moved.unit)
        if not launched:
            return 0
        await self._trigger(unit.dag_id, unit.logical_date, run_id)
        for member in launched:
            await self._move(
                member,
                UnitStatus.RUNNING,
                {UnitStatus.LAUNCHING},
                f"runs in triggered {run_id}",
            )
        return len(launched)

    async def _settle_launching(self, unit: UnitState) -> None:
        """A unit a previous executor left mid-launch: did its request reach Airflow?"""
        run_id = unit.airflow_run_id
        if run_id is None:  # cannot happen: launching always stores the run id
            await self._move(
                unit,
                UnitStatus.READY,
                {UnitStatus.LAUNCHING},
                "launch not recorded; retrying",
            )
            return
        if run_id == trigger_run_id(self._plan_id, unit.dag_id, unit.logical_date):
            await self._trigger(unit.dag_id, unit.logical_date, run_id)  # None if it landed
            await self._move(
                unit,
                UnitStatus.RUNNING,
                {UnitStatus.LAUNCHING},
                f"runs in triggered {run_id}",
            )
            return
        ti = await self._task_instance(unit.dag_id, run_id, unit.task_id)
        landed = ti is None or _state(ti) not in _DONE or ti.try_number > (unit.try_number or 0)
        if not landed:
            await self._clear(unit, run_id)
        detail = "the clear had landed" if landed else f"cleared in {run_id} (resumed)"
        await self._move(unit, UnitStatus.RUNNING, {UnitStatus.LAUNCHING}, detail)

    async def _poll(self, unit: UnitState, units: list[UnitState]) -> None:
        run_id = unit.airflow_run_id
        if run_id is None:
            return
        ti = await self._task_instance(unit.dag_id, run_id, unit.task_id)
        if ti is None:
            return  # the scheduler has not created it yet
        state, try_number = _state(ti), ti.try_number
        if state == "none" and await self._run_ended(unit.dag_id, run_id):
            # Cleared, but its DAG run ended before the scheduler picked the task up: the task
            # has not run (no new try), so clearing it again cannot run it twice.
            await self._audit("unit.reclear", detail=f"{unit.unit_id}: its DAG run had ended")
            await self._clear(unit, run_id)
            return
        if state not in _DONE or try_number <= (unit.try_number or 0):
            return  # still to run, or this is the old try still showing
        if state in _SUCCESS:
            await self._move(
                unit,
                UnitStatus.SUCCEEDED,
                {UnitStatus.RUNNING},
                f"{state} (try {try_number})",
            )
            return
        reason = f"Airflow task instance {state} (try {try_number}) in run {run_id}"
        await self._fail(unit, units, reason)

    async def _guard(
        self, unit: UnitState, units: list[UnitState], step: Awaitable[int | None]
    ) -> int:
        """Run one unit's step; when Airflow refuses it (a 4xx: the run was deleted, the task is
        gone…) that unit fails with Airflow's answer instead of being retried forever. A refusal
        of the credentials stops the executor instead: every call would be refused alike."""
        try:
            return await step or 0
        except SourceRefused as exc:
            if exc.status in (401, 403):
                raise
            await self._fail(unit, units, f"Airflow refused it: {exc}")
            return 0

    async def _fail(self, unit: UnitState, units: list[UnitState], reason: str) -> None:
        """The unit failed: everything downstream of it is not runnable."""
        await self._move(unit, UnitStatus.FAILED, {*_OPEN, *_ACTIVE}, reason)
        for below in downstream(units, unit.unit_id):
            await self.state.set_unit_state(
                self._plan_id,
                below,
                UnitStatus.SKIPPED,
                expected=_OPEN,
                actor=self.options.actor,
                reason=f"not runnable: {unit.unit_id} failed",
            )

    async def _move(
        self, unit: UnitState, to: UnitStatus, expected: set[UnitStatus], detail: str
    ) -> None:
        await self.state.set_unit_state(
            self._plan_id,
            unit.unit_id,
            to,
            expected=expected,
            actor=self.options.actor,
            reason=detail
            if to in (UnitStatus.FAILED, UnitStatus.SKIPPED, UnitStatus.CANCELLED)
            else None,
            detail=detail,
        )

    # -- Airflow, through the breaker, audited --------------------------------------------------

    async def _api(
        self,
        action: str,
        request: dict[str, Any],
        call: Callable[[], Awaitable[T]],
        summary: Callable[[T], Any],
    ) -> T:
        """One orchestrator call through the circuit breaker, audited as `action` with its
        request and a plain summary of the answer (or of the error)."""
        breaker = await self._breakers.get_breaker(self._circuit)
        try:
            async with breaker:
                self.calls_made += 1
                result = await call()
        except OpenedState:
            await self._audit("circuit.open", request=request, detail="call not made")
            raise Paused(
                f"circuit for Airflow at {self.airflow.url} is open after "
                f"{self.options.breaker_threshold} failed calls; probing again in "
                f"{self.options.breaker_ttl:g} s"
            ) from None
        except SourceUnavailable as exc:
            status = exc.status if isinstance(exc, SourceRefused) else None
            await self._audit(
                action, request=request, response={"error": str(exc), "status": status}
            )
            raise
        await self._audit(action, request=request, response=summary(result))
        return result

    async def _run_at(self, dag_id: str, logical_date: str) -> str | None:
        when = datetime.fromisoformat(logical_date)
        return await self._api(
            "airflow.get_dag_runs",
            {"dagId": dag_id, "logicalDate": logical_date},
            lambda: self.airflow.run_at(dag_id, when),
            lambda run_id: {"runs": [] if run_id is None else [run_id]},
        )

    async def _run_ended(self, dag_id: str, run_id: str) -> bool:
        run = await self._api(
            "airflow.get_dag_run",
            {"dagId": dag_id, "runId": run_id},
            lambda: self.airflow.dag_run(dag_id, run_id),
            _run_summary,
        )
        return run.ended

    async def _task_instance(self, dag_id: str, run_id: str, task_id: str) -> TaskInstance | None:
        return await self._api(
            "airflow.get_task_instance",
            {"dagId": dag_id, "runId": run_id, "taskId": task_id},
            lambda: self.airflow.task_instance(dag_id, run_id, task_id),
            lambda ti: (
                {"error": "no such task instance", "status": 404}
                if ti is None
                else {"state": _state(ti), "tryNumber": ti.try_number}
            ),
        )

    async def _clear(self, unit: UnitState, run_id: str) -> None:
        await self._api(
            "airflow.clear_task_instances",
            {
                "dagId": unit.dag_id,
                "runId": run_id,
                "taskIds": [unit.task_id],
                "onlyFailed": False,
            },
            lambda: self.airflow.clear_task(unit.dag_id, run_id, unit.task_id),
            lambda cleared: {
                "cleared": [{"taskId": ti.task_id, "runId": ti.run_id} for ti in cleared]
            },
        )

    async def _trigger(self, dag_id: str, logical_date: str, run_id: str) -> None:
        conf = {"ripple_backfill": self._plan_id}
        when = datetime.fromisoformat(logical_date)
        await self._api(
            "airflow.trigger_dag_run",
            {"dagId": dag_id, "runId": run_id, "logicalDate": logical_date},
            lambda: self.airflow.trigger_run(dag_id, run_id, when, conf),
            lambda run: (  # None: the run exists — ours, from an earlier attempt
                {"error": "the run exists already", "status": 409}
                if run is None
                else _run_summary(run)
            ),
        )

    async def _audit(
        self,
        action: str,
        *,
        request: Any = None,
        response: Any = None,
        detail: str | None = None,
    ) -> None:
        await self.state.append_audit(
            self.options.actor,
            action,
            plan_id=self._plan_id,
            request=request,
            response=response,
            detail=detail,
        )


def trigger_run_id(plan_id: str, dag_id: str, logical_date: str) -> str:
    """The run id a plan gives the DAG run it triggers: the same on every attempt."""
    digest = hashlib.sha256(f"{plan_id}|{dag_id}|{logical_date}".encode()).hexdigest()[:12]
    return f"ripple_backfill__{logical_date}__{digest}"


def _plan_cap(plan: dict[str, Any] | None) -> int | None:
    if not plan:
        return None
    value = (plan.get("options") or {}).get("maxParallel")
    return int(value) if isinstance(value, int) and value > 0 else None


def _state(ti: TaskInstance) -> str:
    return ti.state if ti.state is not None else "none"


def _run_summary(run: DagRun) -> dict[str, Any]:
    return {"runId": run.run_id, "state": run.state}
