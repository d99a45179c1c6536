"""One contract for the backfill state store: SQLite (embedded) and PostgreSQL (a real server).

Plans round-trip with their content hash, unit rows start held/ready/pending, compare-and-set
lets exactly one of two racing executors launch a unit (also across two store instances, as two
processes would be), every change lands in the audit log, state survives a reopen, quarantine
is idempotent, and an unreachable database raises StoreUnavailable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ripple.errors import NotFound, StoreUnavailable
from ripple.remediation.pg_state import PostgresRemediationState
from ripple.remediation.planner import Dates, Lineage, PlanOptions, TaskRef, plan_backfill
from ripple.remediation.sql_state import SqliteRemediationState
from ripple.remediation.state import RemediationState, canonical_json, content_hash
from tests.postgres_service import SERVICE

NewState = Callable[[], RemediationState]
TABLES = ("backfill_units", "backfill_audit", "backfill_plans", "quarantine")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def new_state(request: pytest.FixtureRequest, tmp_path: Path) -> NewState:
    """Makes (unopened) state instances that share one database."""
    clock = Clock()
    if request.param == "sqlite":
        return lambda: SqliteRemediationState(tmp_path / "events.db", clock)
    url = SERVICE.url()
    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    return lambda: PostgresRemediationState(url, clock)


@pytest.fixture
async def state(new_state: NewState) -> AsyncIterator[RemediationState]:
    opened = new_state()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def sample_plan(quarantined: set[str] | None = None) -> dict[str, Any]:
    jobs = {"a.x", "a.y", "b.z"}
    lineage = Lineage(
        ["dataset:db:raw"],
        jobs,
        reads={"a.x": {"raw"}, "a.y": {"x_out"}, "b.z": {"y_out"}},
        writes={"a.x": {"x_out"}, "a.y": {"y_out"}, "b.z": {"z_out"}},
        mapping={j: TaskRef(*j.split(".")) for j in jobs},
        unmapped={},
    )
    dates = Dates(("2026-03-01T00:00:00+00:00",))
    return plan_backfill(lineage, dates, PlanOptions(), quarantined or set()).as_dict()


REQUEST = {"roots": ["dataset:db:raw"], "dates": ["2026-03-01"]}


async def test_a_plan_round_trips_with_its_hash_and_initial_unit_states(
    state: RemediationState,
) -> None:
    plan = sample_plan({"y_out"})
    stored = await state.create_plan(plan, REQUEST, "alice")
    assert stored.content_hash == content_hash(plan)
    again = await state.get_plan(stored.id)
    assert again.plan == plan
    assert canonical_json(again.plan) == canonical_json(plan)
    assert (again.status, again.created_by, again.unit_count, again.request) == (
        "planned",
        "alice",
        3,
        REQUEST,
    )
    units = await state.units(stored.id)
    assert [(u.task_id, u.state) for u in units] == [
        ("x", "ready"),
        ("y", "pending"),
        ("z", "held"),
    ]
    assert units[2].reason == "reads quarantined dataset y_out"
    assert units[0].attempts == 0 and units[0].airflow_run_id is None
    assert units[1].parents == [units[0].unit_id] and units[1].layer == 1
    other = await state.create_plan(sample_plan(), REQUEST, "bob")
    assert [p.id for p in await state.list_plans()] == [other.id, stored.id]
    assert (await state.list_plans(1))[0].plan is None


async def test_compare_and_set_moves_a_unit_once_and_audits_every_change(
    state: RemediationState,
) -> None:
    stored = await state.create_plan(sample_plan(), REQUEST, "alice")
    unit = (await state.units(stored.id))[0].unit_id
    moved = await state.set_unit_state(
        stored.id,
        unit,
        "running",
        expected={"ready"},
        actor="executor",
        new_attempt=True,
        airflow_run_id="manual__1",
        try_number=2,
        detail="cleared",
    )
    assert moved.applied and moved.unit.state == "running"
    assert (moved.unit.attempts, moved.unit.airflow_run_id, moved.unit.try_number) == (
        1,
        "manual__1",
        2,
    )
    assert moved.unit.started_at is not None and moved.unit.finished_at is None
    refused = await state.set_unit_state(
        stored.id, unit, "running", expected={"ready"}, actor="executor-2"
    )
    assert not refused.applied and refused.unit.state == "running"
    done = await state.set_unit_state(
        stored.id, unit, "succeeded", expected={"running"}, actor="executor"
    )
    assert done.applied and done.unit.finished_at is not None and done.unit.attempts == 1
    assert await state.set_plan_status(stored.id, "running", expected={"planned"}, actor="ex")
    assert not await state.set_plan_status(stored.id, "running", expected={"planned"}, actor="ex")
    await state.append_audit(
        "executor",
        "airflow.clear",
        plan_id=stored.id,
        unit_id=unit,
        request={"dag_id": "a", "task_ids": ["x"]},
        response={"status": 200},
    )
    audit = await state.audit_for(stored.id)
    assert [(a.action, a.from_state, a.to_state) for a in audit] == [
        ("plan.created", None, "planned"),
        ("unit.state", "ready", "running"),
        ("unit.state", "running", "succeeded"),
        ("plan.status", "planned", "running"),
        ("airflow.clear", None, None),
    ]
    assert audit[-1].response == {"status": 200}
    assert [a.seq for a in audit] == sorted(a.seq for a in audit)
    assert await state.audit_for(stored.id, after=audit[-2].seq) == [audit[-1]]
    assert audit[1].detail == "cleared" and audit[1].actor == "executor"


async def test_two_executors_racing_launch_a_unit_exactly_once(new_state: NewState) -> None:
    states = [new_state(), new_state()]
    for s in states:
        await s.open()
    try:
        stored = await states[0].create_plan(sample_plan(), REQUEST, "alice")
        units = [u.unit_id for u in await states[0].units(stored.id)]

        async def launch(s: RemediationState, who: str) -> list[str]:
            won = []
            for unit in units:
                t = await s.set_unit_state(
                    stored.id, unit, "running", expected={"ready", "pending"}, actor=who
                )
                if t.applied:
                    won.append(unit)
            return won

        results = await asyncio.gather(*(launch(s, f"ex{i}") for i, s in enumerate(states * 2)))
        winners = [unit for won in results for unit in won]
        assert sorted(winners) == sorted(units)  # each unit launched once, by someone
        audit = await states[1].audit_for(stored.id)
        assert sum(1 for a in audit if a.to_state == "running") == len(units)
    finally:
        for s in states:
            await s.close()


async def test_state_survives_a_reopen(new_state: NewState) -> None:
    first = new_state()
    await first.open()
    stored = await first.create_plan(sample_plan(), REQUEST, "alice")
    unit = (await first.units(stored.id))[0].unit_id
    await first.set_unit_state(stored.id, unit, "running", expected={"ready"}, actor="ex")
    await first.quarantine_add("dataset:db:raw", "alice", "late rows")
    await first.close()
    again = new_state()
    await again.open()
    try:
        assert (await again.units(stored.id))[0].state == "running"
        assert [q.dataset_id for q in await again.quarantined()] == ["dataset:db:raw"]
        assert (await again.get_plan(stored.id)).content_hash == stored.content_hash
    finally:
        await again.close()


async def test_quarantine_is_idempotent_and_audited(state: RemediationState) -> None:
    first = await state.quarantine_add("dataset:db:a", "alice", "bad")
    second = await state.quarantine_add("dataset:db:a", "bob", "other")
    assert second == first
    await state.quarantine_add("dataset:db:b", "alice")
    assert [q.dataset_id for q in await state.quarantined()] == ["dataset:db:a", "dataset:db:b"]
    assert await state.quarantine_remove("dataset:db:a", "alice")
    assert not await state.quarantine_remove("dataset:db:a", "alice")
    assert [q.dataset_id for q in await state.quarantined()] == ["dataset:db:b"]


async def test_unknown_plans_and_units_are_not_found(state: RemediationState) -> None:
    with pytest.raises(NotFound, match="bf-missing"):
        await state.get_plan("bf-missing")
    with pytest.raises(NotFound):
        await state.units("bf-missing")
    stored = await state.create_plan(sample_plan(), REQUEST, "alice")
    with pytest.raises(NotFound, match="nope"):
        await state.set_unit_state(stored.id, "nope", "running", expected={"ready"}, actor="x")
    with pytest.raises(NotFound):
        await state.set_plan_status("bf-missing", "running", expected={"planned"}, actor="x")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_an_unreachable_database_raises_store_unavailable(kind: str, tmp_path: Path) -> None:
    if kind == "sqlite":
        (tmp_path / "a-file").write_text("")
        state: RemediationState = SqliteRemediationState(tmp_path / "a-file" / "events.db")
    else:
        state = PostgresRemediationState("postgresql://postgres:secret@127.0.0.1:1/x", timeout=2)
    with pytest.raises(StoreUnavailable) as caught:
        await state.open()
    assert "secret" not in str(caught.value)
    await state.close()


def test_the_cli_plans_saves_shows_lists_and_quarantines(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from ripple.cli import main
    from tests.unit.builders import run_event

    facet = {
        "airflow": {
            "dag": {"dag_id": "shop"},
            "task": {"task_id": "clean"},
            "dagRun": {"dag_id": "shop", "logical_date": "2026-03-01T00:00:00+00:00"},
        }
    }
    events = tmp_path / "events.json"
    events.write_text(
        json.dumps(
            [
                run_event("shop.clean", ["raw"], ["stg"], run_facets=facet),
                run_event("shop.publish", ["stg"], ["mart"]),
            ]
        )
    )
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()

    def ok(*args: str) -> str:
        result = runner.invoke(main, [*args, *data])
        assert result.exit_code == 0, result.output
        return result.output

    ok("ingest", str(events))
    dry = json.loads(
        ok("backfill", "plan", "dataset:db:raw", "--date", "2026-03-01", "--format", "json")
    )
    assert [u["taskId"] for u in dry["units"]] == ["clean", "publish"]
    assert "flowchart LR" in ok(
        "backfill", "plan", "dataset:db:raw", "--date", "2026-03-01", "--format", "mermaid"
    )
    assert json.loads(ok("backfill", "list", "--format", "json")) == []  # dry runs save nothing
    saved = runner.invoke(
        main, ["backfill", "plan", "dataset:db:raw", "--date", "2026-03-01", "--save", *data]
    )
    assert saved.exit_code == 0, saved.output
    plan_id = saved.output.split("saved plan ")[1].split()[0]
    assert [p["id"] for p in json.loads(ok("backfill", "list", "--format", "json"))] == [plan_id]
    shown = json.loads(ok("backfill", "show", plan_id, "--format", "json"))
    assert shown["plan"]["units"] == dry["units"]
    assert [u["state"] for u in shown["unitStates"]] == ["ready", "pending"]
    ok("quarantine", "add", "dataset:db:stg", "--reason", "dupes")
    assert "dataset:db:stg" in ok("quarantine", "list")
    held = json.loads(
        ok("backfill", "plan", "dataset:db:raw", "--date", "2026-03-01", "--format", "json")
    )
    assert [h["unit"].split("/")[1] for h in held["held"]] == ["publish"]
    ok("quarantine", "remove", "dataset:db:stg")
    missing = runner.invoke(main, ["backfill", "show", "bf-nope", *data])
    assert missing.exit_code != 0 and "bf-nope" in missing.output
    no_dates = runner.invoke(main, ["backfill", "plan", "dataset:db:raw", *data])
    assert no_dates.exit_code != 0 and "'dates'" in no_dates.output
