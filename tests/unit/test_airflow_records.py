"""Airflow DAG records (pure): projection onto AirflowDag/AirflowTask nodes and their edges."""

from __future__ import annotations

from typing import Any

import pytest

from ripple.errors import InvalidEvent
from ripple.ingest import records
from ripple.ingest.airflow_records import KIND
from ripple.ingest.fastparse import parse_event_json
from ripple.ingest.pipeline import prepare_logged, prepare_record


def record(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "time": "2026-01-02T03:04:05+00:00",
        "namespace": "airflow",
        "dag": {"dag_id": "shop", "schedule": "@daily", "owners": ["ops"], "is_paused": False},
        "tasks": [
            {"task_id": "load", "operator": "SQLExecuteQueryOperator", "downstream": ["check"]},
            {"task_id": "check", "operator": "PythonOperator", "downstream": []},
        ],
        "asset_upstream": [{"dag_id": "raw", "task_id": "land"}],
        "asset_inlets": [{"task_id": "check", "producers": [{"dag_id": "raw", "task_id": "fix"}]}],
        "runs": [
            {"run_id": "r1", "logical_date": "2026-01-01T00:00:00+00:00", "state": "success"},
            {"run_id": "r2", "logical_date": "2026-01-02T00:00:00+00:00", "state": "failed"},
        ],
        "task_states": [
            {"run_id": "r1", "task_id": "check", "state": "success", "try_number": 1},
            {"run_id": "r2", "task_id": "check", "state": "failed", "try_number": 2},
            {"run_id": "r2", "task_id": "check", "state": "failed", "try_number": 1},
        ],
    }
    doc.update(overrides)
    return doc


def test_a_dag_record_projects_dag_tasks_jobs_and_dependencies() -> None:
    prepared = prepare_record(KIND, record())
    assert prepared.error is None and prepared.delta is not None
    nodes = {n.id: n for n in prepared.delta.nodes}
    edges = {(e.src, e.kind.value, e.dst) for e in prepared.delta.edges}
    dag = nodes["dag:airflow:shop"].props
    assert dag["last_run_id"] == "r2" and dag["last_run_state"] == "failed"
    assert [r["run_id"] for r in dag["recent_runs"]] == ["r2", "r1"]
    check = nodes["task:airflow:shop.check"].props
    assert (check["last_run_id"], check["last_try_number"]) == ("r2", 2)
    assert "job:airflow:shop.load" in nodes  # the job each task implements
    assert edges == {
        ("dag:airflow:shop", "CONTAINS", "task:airflow:shop.load"),
        ("dag:airflow:shop", "CONTAINS", "task:airflow:shop.check"),
        ("task:airflow:shop.load", "IMPLEMENTS", "job:airflow:shop.load"),
        ("task:airflow:shop.check", "IMPLEMENTS", "job:airflow:shop.check"),
        ("task:airflow:shop.load", "PRECEDES", "task:airflow:shop.check"),
        # the asset's producer precedes the DAG's first task only
        ("task:airflow:raw.land", "PRECEDES", "task:airflow:shop.load"),
        # a task's asset inlet: the asset's producer precedes that task
        ("task:airflow:raw.fix", "PRECEDES", "task:airflow:shop.check"),
    }


def test_a_record_without_tasks_only_moves_settings_and_states() -> None:
    doc = record()
    del doc["tasks"]
    delta = prepare_record(KIND, doc).delta
    assert delta is not None
    assert delta.edges == []
    assert {n.id for n in delta.nodes} == {"dag:airflow:shop", "task:airflow:shop.check"}


def test_records_replay_from_their_logged_bytes() -> None:
    prepared = prepare_record(KIND, record())
    assert prepared.body is not None and records.is_record(prepared.body)
    again = prepare_logged(prepared.body)
    assert again.delta == prepared.delta


def test_a_malformed_or_unknown_record_is_an_invalid_event_not_a_crash() -> None:
    bad = prepare_record(KIND, record(dag={"no": "dag_id"}))
    assert bad.error is not None and "airflow.dag" in bad.error.reason
    unknown = prepare_logged(records.encode("mystery.kind", {}))
    assert unknown.error is not None and unknown.error.path == "$.rippleRecord"


def test_an_event_may_not_pose_as_a_record() -> None:
    body = records.encode(KIND, record())
    with pytest.raises(InvalidEvent) as caught:
        parse_event_json(body)
    assert caught.value.path == "$.rippleRecord"
