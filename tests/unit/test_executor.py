"""The backfill executor's rules, in milliseconds: against FakeAirflow (tests/fakes/airflow.py)
and the real SQLite state store in memory, with a poll interval of 0 and a circuit breaker that
half-opens after a few milliseconds. Plans are built by hand: three units over two DAGs —
`stg.stage`, then `marts.revenue` and `marts.stats` below it — unless a test needs others.

The witness of "never twice" is the fake's scheduler: every start of a task instance (a new try)
is in `fake.starts`, so each task instance of the plan must appear there exactly once."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from ripple.errors import SourceUnavailable
from ripple.remediation.executor import Executor, ExecutorOptions, trigger_run_id
from ripple.remediation.planner import InvalidPlanRequest
from ripple.remediation.sql_state import SqliteRemediationState
from ripple.remediation.state import PlanStatus, UnitStatus
from tests.fakes.airflow import Call, FakeAirflow

D1 = "2026-03-01T00:00:00+00:00"
DAY1 = datetime(2026, 3, 1, tzinfo=UTC)
DAGS = {"stg": ["stage"], "marts": ["revenue", "stats"], "other": ["solo"]}
STAGE, REVENUE, STATS = f"stg/stage/{D1}", f"marts/revenue/{D1}", f"marts/stats/{D1}"
TIMEOUT = 5.0  # a bound on a broken test, never reached by a passing one


class Crash(Exception):
    """The executor's process dies here (injected)."""


def unit(
    dag_id: str, task_id: str, parents: tuple[str, ...] = (), action: str = "clear"
) -> dict[str, Any]:
    return {
        "id": f"{dag_id}/{task_id}/{D1}",
        "dagId": dag_id,
        "taskId": task_id,
        "logicalDate": D1,
        "action": action,
        "parents": list(parents),
        "layer": 1 if parents else 0,
    }


PIPELINE = (
    unit("stg", "stage"),
    unit("marts", "revenue", (STAGE,)),
    unit("marts", "stats", (STAGE,)),
)


@pytest.fixture
async def state() -> AsyncIterator[SqliteRemediationState]:
    store = SqliteRemediationState(":memory:")
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def airflow(*, runs: bool = True, auto: str | None = "success") -> FakeAirflow:
    """The fake with each DAG's run at D1 already done (try 1), unless `runs` is False."""
    fake = FakeAirflow(DAGS, auto=auto)
    if runs:
        for dag_id in DAGS:
            fake.add_run(dag_id, DAY1)
    return fake


async def store_plan(
    state: SqliteRemediationState, units: tuple[dict[str, Any], ...] = PIPELINE, **options: Any
) -> str:
    stored = await state.create_plan({"units": list(units), "options": options}, {}, "test")
    return stored.id


def executor(state: SqliteRemediationState, fake: FakeAirflow, **options: Any) -> Executor:
    settings: dict[str, Any] = {"poll_interval": 0, "breaker_ttl": 0.02, **options}
    return Executor(state, fake, ExecutorOptions(**settings))


async def run(
    state: SqliteRemediationState, fake: FakeAirflow, plan_id: str, **options: Any
) -> str:
    return await asyncio.wait_for(executor(state, fake, **options).run(plan_id), TIMEOUT)


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not await check():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


async def units_of(state: SqliteRemediationState, plan_id: str) -> dict[str, UnitStatus]:
    return {u.unit_id: u.state for u in await state.units(plan_id)}


async def actions(state: SqliteRemediationState, plan_id: str) -> list[str]:
    return [a.action for a in await state.audit_for(plan_id)]


def started_once_each(fake: FakeAirflow, *task_ids: str) -> None:
    """Each named task instance (task id, at D1) started exactly once; nothing else started."""
    counts = Counter(task_id for _, _, task_id in fake.starts)
    assert counts == Counter(task_ids), fake.starts


# -- running a plan ---------------------------------------------------------------------------


async def test_existing_runs_are_cleared_task_by_task_in_lineage_order(
    state: SqliteRemediationState,
) -> None:
    fake = airflow()
    plan_id = await store_plan(state)

    assert await run(state, fake, plan_id) == PlanStatus.SUCCEEDED

    assert set((await units_of(state, plan_id)).values()) == {"succeeded"}
    started_once_each(fake, "stage", "revenue", "stats")
    assert fake.starts[0][2] == "stage"  # the marts only after staging
    for dag_id, task_id in (("stg", "stage"), ("marts", "revenue"), ("marts", "stats")):
        run_id = fake.run_of(dag_id, DAY1).run_id  # type: ignore[union-attr]
        assert fake.task(dag_id, run_id, task_id).try_number == 2  # one more try each
    audit = await state.audit_for(plan_id)
    clears = [a for a in audit if a.action == "airflow.clear_task_instances"]
    assert [c.request["taskIds"] for c in clears] == [["stage"], ["revenue"], ["stats"]]
    assert all(c.request["onlyFailed"] is False and c.response["cleared"] for c in clears)
    reads = [a for a in audit if a.action == "airflow.get_task_instance"]
    assert reads[0].response == {"state": "success", "tryNumber": 1}
    assert not fake.called("trigger_run")


async def test_a_missing_partition_is_triggered_once_per_dag_and_date(
    state: SqliteRemediationState,
) -> None:
    fake = airflow(runs=False)
    plan_id = await store_plan(state, tuple({**u, "action": "trigger"} for u in PIPELINE))

    assert await run(state, fake, plan_id) == PlanStatus.SUCCEEDED

    triggers = fake.called("trigger_run")
    assert [t.dag_id for t in triggers] == ["stg", "marts"]
    for call in triggers:
        assert call.run_id == trigger_run_id(plan_id, call.dag_id, D1)
        assert call.logical_date == DAY1 and call.conf == {"ripple_backfill": plan_id}
    started_once_each(fake, "stage", "revenue", "stats")
    audit = await state.audit_for(plan_id)
    answered = [a.response for a in audit if a.action == "airflow.trigger_dag_run"]
    assert [r["runId"] for r in answered] == [t.run_id for t in triggers]
    assert not fake.called("clear_task")


async def test_an_unanswered_call_is_retried_on_the_next_tick(
    state: SqliteRemediationState,
) -> None:
    fake = airflow()
    fake.fail("clear_task", SourceUnavailable("Airflow did not answer"))
    plan_id = await store_plan(state)

    assert await run(state, fake, plan_id) == PlanStatus.SUCCEEDED

    assert "airflow.unavailable" in await actions(state, plan_id)
    started_once_each(fake, "stage", "revenue", "stats")


# -- never twice ------------------------------------------------------------------------------


def _stage(call: Call) -> bool:
    return call.task_id == "stage" or call.dag_id == "stg"


CRASHES = {  # where the executor dies: (the fake's method, after it took effect)
    # after the try number was read, before `launching` is stored
    "after-read": ("task_instance", True),
    # after `launching` is stored, before Airflow is asked
    "before-clear": ("clear_task", False),
    # Airflow was asked (the clear landed), `running` not stored
    "after-clear": ("clear_task", True),
}


@pytest.mark.parametrize("point", sorted(CRASHES))
async def test_a_crash_between_launch_steps_resumes_without_running_anything_twice(
    state: SqliteRemediationState, point: str
) -> None:
    fake = airflow()
    method, after = CRASHES[point]
    fake.fail(method, Crash(), after=after, when=_stage)
    plan_id = await store_plan(state)

    with pytest.raises(Crash):
        await run(state, fake, plan_id)
    expected = UnitStatus.READY if point == "after-read" else UnitStatus.LAUNCHING
    assert (await units_of(state, plan_id))[STAGE] == expected

    assert await run(state, fake, plan_id) == PlanStatus.SUCCEEDED
    started_once_each(fake, "stage", "revenue", "stats")
    stage_run = fake.run_of("stg", DAY1).run_id  # type: ignore[union-attr]
    assert fake.task("stg", stage_run, "stage").try_number == 2
    stage_clears = fake.called("clear_task", task_id="stage")
    assert len(stage_clears) == (2 if point == "before-clear" else 1)  # the lost one redone


@pytest.mark.parametrize("after", [False, True], ids=["before-effect", "after-effect"])
async def test_a_trigger_cut_short_resumes_into_the_same_run(
    state: SqliteRemediationState, after: bool
) -> None:
    fake = airflow(runs=False)
    fake.fail("trigger_run", Crash(), after=after, when=_stage)
    plan_id = await store_plan(state, tuple({**u, "action": "trigger"} for u in PIPELINE))

    with pytest.raises(Crash):
        await run(state, fake, plan_id)
    assert (await units_of(state, plan_id))[STAGE] == UnitStatus.LAUNCHING

    assert await run(state, fake, plan_id) == PlanStatus.SUCCEEDED
    started_once_each(fake, "stage", "revenue", "stats")
    assert len([r for r in fake.runs.values() if r.dag_id == "stg"]) == 1
    if after:  # asked again: Airflow has it already (409), which is not an error
        answers = [
            a.response
            for a in await state.audit_for(plan_id)
            if a.action == "airflow.trigger_dag_run"
        ]
        assert {"error": "the run exists already", "status": 409} in answers


@pytest.mark.parametrize("after", [False, True], ids=["clear-not-sent", "clear-landed"])
async def test_an_executor_cancelled_mid_call_is_resumed_by_another_without_a_second_run(
    state: SqliteRemediationState, after: bool
) -> None:
    fake = airflow()
    gate = fake.hold("clear_task", after=after)
    plan_id = await store_plan(state)
    first = asyncio.create_task(executor(state, fake).run(plan_id))
    await asyncio.wait_for(gate.reached.wait(), TIMEOUT)
    first.cancel()  # killed while Airflow is being asked
    with pytest.raises(asyncio.CancelledError):
        await first
    assert (await units_of(state, plan_id))[STAGE] == UnitStatus.LAUNCHING

    assert await run(state, fake, plan_id) == PlanStatus.SUCCEEDED
    started_once_each(fake, "stage", "revenue", "stats")


async def test_two_executors_racing_on_one_plan_launch_each_unit_once(
    state: SqliteRemediationState,
) -> None:
    fake = airflow()
    fake.latency = 0.001  # answers interleave between the two
    plan_id = await store_plan(state, (*PIPELINE, unit("other", "solo")))

    finals = await asyncio.gather(run(state, fake, plan_id), run(state, fake, plan_id))

    assert set(finals) == {PlanStatus.SUCCEEDED}
    started_once_each(fake, "stage", "revenue", "stats", "solo")
    assert {u.unit_id: u.attempts for u in await state.units(plan_id)} == {
        STAGE: 1,
        REVENUE: 1,
        STATS: 1,
        f"other/solo/{D1}": 1,
    }


# -- the circuit breaker and refusals ---------------------------------------------------------


async def test_the_circuit_opens_pauses_the_plan_and_a_probe_resumes_it(
    state: SqliteRemediationState,
) -> None:
    fake = airflow()
    fake.down = True
    plan_id = await store_plan(state)
    task = asyncio.create_task(run(state, fake, plan_id, breaker_threshold=2))

    async def paused() -> bool:
        return (await state.get_plan(plan_id)).status == PlanStatus.PAUSED

    await until(paused)
    assert set((await units_of(state, plan_id)).values()) <= {"pending", "ready"}
    while_down = list(fake.calls)
    fake.down = False  # Airflow is back: the next half-open probe succeeds

    assert await task == PlanStatus.SUCCEEDED
    assert {c.method for c in while_down} <= {"run_at", "task_instance"}  # nothing launched
    audit = await state.audit_for(plan_id)
    changes = [(a.from_state, a.to_state) for a in audit if a.action == "plan.status"]
    assert ("running", "paused") in changes and ("paused", "running") in changes
    last_open = max(a.seq for a in audit if a.action == "circuit.open")
    launches = [a.seq for a in audit if a.action == "unit.state" and a.to_state == "launching"]
    assert min(launches) > last_open  # no call, let alone a launch, while the circuit was open
    first_open = min(a.seq for a in audit if a.action == "circuit.open")
    failed = [a for a in audit if a.action.startswith("airflow.get") and a.seq < first_open]
    assert [a.response["status"] for a in failed] == [None, None]  # the threshold: 2 failures
    started_once_each(fake, "stage", "revenue", "stats")


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_pause_the_plan_and_stop_the_executor(
    state: SqliteRemediationState, status: int
) -> None:
    fake = airflow()
    fake.refuse("*", status, times=1_000)
    plan_id = await store_plan(state)

    assert await run(state, fake, plan_id) == PlanStatus.PAUSED

    plan = await state.get_plan(plan_id)
    assert plan.status == "paused" and "credentials" in (plan.status_reason or "")
    assert set((await units_of(state, plan_id)).values()) <= {"pending", "ready", "launching"}
    assert not fake.called("clear_task") and not fake.starts


async def test_a_unit_airflow_refuses_fails_and_its_downstream_is_skipped(
    state: SqliteRemediationState,
) -> None:
    fake = airflow()
    fake.refuse("clear_task", 404, when=_stage)  # e.g. its DAG run was deleted
    plan_id = await store_plan(state, (*PIPELINE, unit("other", "solo")))

    assert await run(state, fake, plan_id) == PlanStatus.PARTIALLY_FAILED

    assert await units_of(state, plan_id) == {
        STAGE: "failed",
        REVENUE: "skipped",
        STATS: "skipped",
        f"other/solo/{D1}": "succeeded",
    }
    [failed] = [u for u in await state.units(plan_id) if u.state == UnitStatus.FAILED]
    assert (failed.reason or "").startswith("Airflow refused it")
    assert "1 unit(s) failed" in ((await state.get_plan(plan_id)).status_reason or "")
    started_once_each(fake, "solo")  # the marts were never launched


async def test_a_task_failing_in_airflow_fails_its_unit_and_skips_its_downstream(
    state: SqliteRemediationState,
) -> None:
    fake = airflow()
    fake.outcomes[("stg", "stage")] = "failed"
    plan_id = await store_plan(state)

    assert await run(state, fake, plan_id) == PlanStatus.PARTIALLY_FAILED

    assert await units_of(state, plan_id) == {STAGE: "failed", REVENUE: "skipped", STATS: "skipped"}
    [failed] = [u for u in await state.units(plan_id) if u.state == UnitStatus.FAILED]
    assert (
        failed.reason
        == f"Airflow task instance failed (try 2) in run scheduled__{DAY1.isoformat()}"
    )
    started_once_each(fake, "stage")


# -- cancel -----------------------------------------------------------------------------------


async def test_a_plan_cancelled_before_it_ran_makes_no_call(state: SqliteRemediationState) -> None:
    fake = airflow()
    plan_id = await store_plan(state)
    # What `ripple backfill cancel` does to a plan not started (remediation/service.py `cancel`).
    assert await state.set_plan_status(plan_id, "cancelled", expected={"planned"}, actor="test")

    assert await run(state, fake, plan_id) == PlanStatus.CANCELLED
    assert fake.calls == []


async def test_cancel_stops_launching_and_running_units_are_followed_to_their_end(
    state: SqliteRemediationState,
) -> None:
    fake = airflow(auto=None)  # tasks run until the test finishes them
    plan_id = await store_plan(state)
    task = asyncio.create_task(run(state, fake, plan_id))

    async def stage_running() -> bool:
        return bool(fake.starts) and (await units_of(state, plan_id))[STAGE] == "running"

    await until(stage_running)
    # What `ripple backfill cancel` does to a running plan.
    assert await state.set_plan_status(
        plan_id, "cancelling", expected={"running", "paused"}, actor="test"
    )

    async def marts_cancelled() -> bool:
        return (await units_of(state, plan_id))[REVENUE] == "cancelled"

    await until(marts_cancelled)
    assert not task.done()  # still following the running unit
    fake.finish("stg", fake.starts[0][1], "stage")

    assert await task == PlanStatus.CANCELLED
    assert await units_of(state, plan_id) == {
        STAGE: "succeeded",
        REVENUE: "cancelled",
        STATS: "cancelled",
    }
    started_once_each(fake, "stage")


# -- how many at once -------------------------------------------------------------------------


async def in_rounds(fake: FakeAirflow, running: Awaitable[str]) -> str:
    """Run an executor against a fake whose tasks run until finished: let it poll a while (so it
    has every chance to launch more), then end every task Airflow runs; again until it is done."""
    task = asyncio.ensure_future(running)
    while not task.done():
        seen = len(fake.calls)

        async def polled_a_while(seen: int = seen) -> bool:
            return task.done() or len(fake.calls) >= seen + 20

        await until(polled_a_while)
        for dag_id, run_id, task_id in fake.running():
            fake.finish(dag_id, run_id, task_id)
    return await task


def _independent(count: int) -> tuple[FakeAirflow, tuple[dict[str, Any], ...]]:
    """`count` one-task DAGs, each with its run at D1, and a unit for each."""
    fake = FakeAirflow({f"dag{i}": ["task"] for i in range(count)}, auto=None)
    for i in range(count):
        fake.add_run(f"dag{i}", DAY1)
    return fake, tuple(unit(f"dag{i}", "task") for i in range(count))


@pytest.mark.parametrize(("option", "in_plan", "cap"), [(2, None, 2), (None, 3, 3)])
async def test_no_more_units_run_at_once_than_the_cap(
    state: SqliteRemediationState, option: int | None, in_plan: int | None, cap: int
) -> None:
    fake, units = _independent(5)
    plan_options = {} if in_plan is None else {"maxParallel": in_plan}
    plan_id = await store_plan(state, units, **plan_options)

    final = await in_rounds(fake, run(state, fake, plan_id, max_parallel=option))

    assert final == PlanStatus.SUCCEEDED
    assert fake.peak == cap  # the cap was used, and never passed
    assert len(fake.starts) == 5


async def test_one_unit_at_a_time_per_dag_run(state: SqliteRemediationState) -> None:
    fake = airflow(auto=None)
    plan_id = await store_plan(state, (unit("marts", "revenue"), unit("marts", "stats")))

    final = await in_rounds(fake, run(state, fake, plan_id, max_parallel=4))

    assert final == PlanStatus.SUCCEEDED

    assert fake.peak_per_run == 1
    started_once_each(fake, "revenue", "stats")


async def test_a_cleared_task_whose_run_ended_before_it_was_scheduled_is_cleared_again(
    state: SqliteRemediationState,
) -> None:
    fake = airflow()
    fake.race_clear("stg")  # Airflow closes the run before it schedules the cleared task
    plan_id = await store_plan(state)

    assert await run(state, fake, plan_id) == PlanStatus.SUCCEEDED

    assert len(fake.called("clear_task", task_id="stage")) == 2
    assert "unit.reclear" in await actions(state, plan_id)
    started_once_each(fake, "stage", "revenue", "stats")  # the first clear had not run it


async def test_states_are_the_same_strings_in_json_and_a_bad_one_is_refused(
    state: SqliteRemediationState,
) -> None:
    plan_id = await store_plan(state)
    [stage, *_] = await state.units(plan_id)
    plan = await state.get_plan(plan_id)
    assert stage.state is UnitStatus.READY and plan.status is PlanStatus.PLANNED
    assert orjson.loads(orjson.dumps(stage.as_dict()))["state"] == "ready"
    assert json.loads(json.dumps(plan.summary()))["status"] == "planned"
    moved = await state.set_unit_state(plan_id, STAGE, "running", expected={"ready"}, actor="t")
    assert moved.applied and moved.unit.state is UnitStatus.RUNNING  # a plain string works
    with pytest.raises(InvalidPlanRequest, match="'runnin' is not one of pending, ready"):
        await state.set_unit_state(plan_id, STAGE, "runnin", expected={"running"}, actor="t")
