"""One contract for the executor's Orchestrator (ripple/remediation/orchestrator.py): the same
assertions against FakeAirflow (tests/fakes/airflow.py), which the executor's unit tests trust,
and against the real Airflow 3.3 of the test session through AirflowOrchestrator
(ripple/clients/airflow.py) — integration, failing in CI when Airflow cannot be had, like the
other Airflow tests (tests/airflow_service.py).

On the real Airflow the DAG is the example `shop_raw_orders`, on logical dates no test used yet;
triggered and cleared runs really run, so waits poll every half second (the fake moves one
scheduler step per call, so its waits take no time)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import pytest

from ripple.clients.airflow import AirflowOrchestrator, AirflowRest
from ripple.errors import SourceRefused
from ripple.remediation.orchestrator import DagRun, Orchestrator, TaskInstance
from tests.airflow_service import SERVICE as AIRFLOW
from tests.airflow_service import AirflowEnv, as_logical_date
from tests.fakes.airflow import FakeAirflow

DAG = "shop_raw_orders"
TASKS = ("create_raw_orders", "load_raw_orders")
TASK = "load_raw_orders"
# Apart from the dates the end-to-end tests take, after the DAG's start date, and past: Airflow
# does not start a run before its logical date.
START = date(2026, 1, 5)


@dataclass
class Side:
    """One implementation, and how to set up what a test needs on it."""

    orchestrator: Orchestrator
    ran: Callable[[datetime], Awaitable[str]]  # a run at that date that ran to success: its id
    free_dates: Callable[[int], list[date]]  # the first n dates from START without a run
    pause: float  # between polls
    patience: float  # seconds a run may take
    handed: set[date] = field(default_factory=set)

    def new_date(self) -> datetime:
        """A logical date with no run of the DAG, not handed to another test yet."""
        wanted = len(self.handed) + 1
        while True:
            free = [d for d in self.free_dates(wanted) if d not in self.handed]
            if free:
                self.handed.add(free[0])
                return as_logical_date(free[0])
            wanted += 1


@pytest.fixture(scope="session")
def airflow_env() -> Iterator[AirflowEnv]:
    """The session's real Airflow (see tests/integration/conftest.py); fails in CI, skips
    elsewhere, when it cannot be had."""
    try:
        yield AIRFLOW.env()
    finally:
        AIRFLOW.stop()


def _fake() -> Side:
    fake = FakeAirflow({DAG: list(TASKS)})

    async def ran(when: datetime) -> str:
        return fake.add_run(DAG, when, run_id=f"manual__{when.isoformat()}")

    def free_dates(count: int) -> list[date]:
        taken = {run.logical_date.date() for run in fake.runs.values()}
        days = (START + timedelta(days=i) for i in range(count + len(taken)))
        return [day for day in days if day not in taken][:count]

    return Side(fake, ran, free_dates, pause=0.0, patience=1.0)


def _airflow(env: AirflowEnv) -> Side:
    rest = AirflowRest(env.airflow_url, username=env.username, password=env.password)

    async def ran(when: datetime) -> str:
        result = await asyncio.to_thread(env.trigger, DAG, when)
        assert result.state == "success", result.task_instances
        return result.dag_run_id

    def free_dates(count: int) -> list[date]:
        return env.unused_days([DAG], count, START)

    return Side(AirflowOrchestrator(rest), ran, free_dates, pause=0.5, patience=300.0)


@pytest.fixture(params=["fake", pytest.param("airflow", marks=pytest.mark.integration)])
def side(request: pytest.FixtureRequest) -> Side:
    if request.param == "fake":
        return _fake()
    return _airflow(request.getfixturevalue("airflow_env"))


async def settled(side: Side, run_id: str, above: int) -> TaskInstance:
    """The task instance once it ended at a try number above `above`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + side.patience
    while True:
        ti = await side.orchestrator.task_instance(DAG, run_id, TASK)
        if ti is not None and ti.try_number > above and ti.state in ("success", "failed"):
            return ti
        assert loop.time() < deadline, f"{TASK} in {run_id} did not end: {ti}"
        await asyncio.sleep(side.pause)


async def ended(side: Side, run_id: str) -> DagRun:
    """The DAG run once it ended (Airflow closes it a moment after its last task)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + side.patience
    while not (run := await side.orchestrator.dag_run(DAG, run_id)).ended:
        assert loop.time() < deadline, f"{run_id} did not end: {run}"
        await asyncio.sleep(side.pause)
    return run


async def test_a_task_instance_of_an_unknown_run_is_none(side: Side) -> None:
    unknown = f"ripple_contract__unknown__{secrets.token_hex(4)}"
    assert await side.orchestrator.task_instance(DAG, unknown, TASK) is None


async def test_the_run_at_a_date_without_one_is_none(side: Side) -> None:
    assert await side.orchestrator.run_at(DAG, side.new_date()) is None


async def test_an_unknown_dag_run_is_refused_with_404(side: Side) -> None:
    unknown = f"ripple_contract__unknown__{secrets.token_hex(4)}"
    with pytest.raises(SourceRefused) as refused:
        await side.orchestrator.dag_run(DAG, unknown)
    assert refused.value.status == 404


async def test_clearing_in_an_unknown_run_is_refused(side: Side) -> None:
    unknown = f"ripple_contract__unknown__{secrets.token_hex(4)}"
    with pytest.raises(SourceRefused) as refused:
        await side.orchestrator.clear_task(DAG, unknown, TASK)
    assert 400 <= refused.value.status < 500


async def test_a_trigger_repeated_is_not_an_error_and_the_run_exists_once(side: Side) -> None:
    when = side.new_date()
    run_id = f"ripple_contract__{when:%Y-%m-%d}__{secrets.token_hex(4)}"
    conf = {"ripple_backfill": "contract"}

    first = await side.orchestrator.trigger_run(DAG, run_id, when, conf)
    again = await side.orchestrator.trigger_run(DAG, run_id, when, conf)

    assert first is not None and (first.dag_id, first.run_id) == (DAG, run_id)
    assert again is None  # it exists: ours, from the first attempt
    assert await side.orchestrator.run_at(DAG, when) == run_id
    ti = await settled(side, run_id, 0)  # the triggered run runs its tasks, once
    assert (ti.state, ti.try_number) == ("success", 1)
    run = await ended(side, run_id)
    assert (run.dag_id, run.run_id, run.state) == (DAG, run_id, "success")


async def test_a_clear_reruns_the_task_once_and_its_try_number_goes_up_when_it_runs(
    side: Side,
) -> None:
    when = side.new_date()
    run_id = await side.ran(when)
    before = await side.orchestrator.task_instance(DAG, run_id, TASK)
    assert before is not None and before.state == "success"
    elsewhere = when.astimezone(timezone(timedelta(hours=2)))  # the same instant
    assert await side.orchestrator.run_at(DAG, elsewhere) == run_id

    cleared = await side.orchestrator.clear_task(DAG, run_id, TASK)

    assert [(ti.dag_id, ti.run_id, ti.task_id) for ti in cleared] == [(DAG, run_id, TASK)]
    after = await settled(side, run_id, before.try_number)
    assert (after.state, after.try_number) == ("success", before.try_number + 1)
    other = await side.orchestrator.task_instance(DAG, run_id, "create_raw_orders")
    assert other is not None and other.state == "success"  # alone: no upstream cleared
