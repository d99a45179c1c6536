"""Backfill plans and quarantine over HTTP, on the in-memory app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ripple.api.app import create_app
from ripple.api.backfills import PlanBody, parse_body
from ripple.config import Settings
from ripple.remediation.planner import InvalidPlanRequest
from tests.http import local_client
from tests.unit.builders import airflow_facet, ds, run_event

D1 = "2026-03-01T00:00:00+00:00"


def airflow(dag: str, task: str) -> dict[str, Any]:
    return airflow_facet(dag, task, D1)


EVENTS = [
    run_event("raw_dag.load", ["src"], ["raw"], run_facets=airflow("raw_dag", "load")),
    run_event("stg_dag.clean", ["raw"], ["stg"], run_facets=airflow("stg_dag", "clean")),
    run_event("mart_dag.build", ["stg"], ["mart"], run_facets=airflow("mart_dag", "build")),
]


@pytest.fixture
def app() -> Iterator[TestClient]:
    with local_client(create_app(in_memory=True)) as client:
        assert client.post("/api/v1/lineage/batch", json=EVENTS).json()["rejected"] == 0
        yield client


def test_a_dry_run_answers_the_plan_and_saves_nothing(app: TestClient) -> None:
    response = app.post("/api/v1/backfills", json={"roots": [ds("raw")], "dates": ["2026-03-01"]})
    assert response.status_code == 200
    body = response.json()
    assert body["dryRun"] is True
    units = body["plan"]["units"]
    assert [(u["dagId"], u["taskId"]) for u in units] == [
        ("stg_dag", "clean"),
        ("mart_dag", "build"),
    ]
    assert units[1]["parents"] == [units[0]["id"]]
    assert units[0]["action"] == "clear" and units[0]["runId"] == "scheduled__stg_dag"
    assert app.get("/api/v1/backfills").json() == {"backfills": []}


def test_a_saved_plan_has_an_id_a_hash_unit_states_and_an_audit_trail(app: TestClient) -> None:
    request = {"roots": [ds("raw")], "from": "2026-03-01", "to": "2026-03-01", "dryRun": False}
    response = app.post("/api/v1/backfills", json=request)
    assert response.status_code == 201
    created = response.json()
    assert created["id"].startswith("bf-") and len(created["hash"]) == 64
    assert created["unitCount"] == 2 and created["status"] == "planned"
    assert response.headers["location"] == f"/api/v1/backfills/{created['id']}"
    listed = app.get("/api/v1/backfills").json()["backfills"]
    assert [p["id"] for p in listed] == [created["id"]]
    detail = app.get(f"/api/v1/backfills/{created['id']}").json()
    assert detail["plan"] == created["plan"]
    assert detail["hash"] == created["hash"]
    assert [u["state"] for u in detail["unitStates"]] == ["ready", "pending"]
    assert detail["audit"][0]["action"] == "plan.created"
    assert detail["audit"][0]["actor"] == "local"  # no token exists: the loopback caller
    again = app.post("/api/v1/backfills", json=request).json()
    assert again["hash"] == created["hash"] and again["id"] != created["id"]


def test_quarantine_holds_downstream_units_and_can_be_lifted(app: TestClient) -> None:
    response = app.post("/api/v1/quarantine", json={"datasetId": ds("stg"), "reason": "dupes"})
    assert response.status_code == 201
    assert app.get("/api/v1/quarantine").json()["quarantined"][0]["datasetId"] == ds("stg")
    plan = app.post("/api/v1/backfills", json={"roots": [ds("raw")], "dates": ["2026-03-01"]})
    held = plan.json()["plan"]["held"]
    assert held == [
        {"unit": f"mart_dag/build/{D1}", "reason": f"reads quarantined dataset {ds('stg')}"}
    ]
    assert app.delete("/api/v1/quarantine", params={"datasetId": ds("stg")}).status_code == 204
    assert app.get("/api/v1/quarantine").json()["quarantined"] == []
    again = app.delete("/api/v1/quarantine", params={"datasetId": ds("stg")})
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dates": ["2026-03-01"]}, "roots"),
        ({"roots": [ds("raw")], "dates": ["03/01/2026"]}, "dates"),
        ({"roots": [ds("raw")], "from": "2026-03-02", "to": "2026-03-01"}, "to"),
        (
            {"roots": [ds("raw")], "dates": ["2026-03-01"], "options": {"maxTasks": -1}},
            "options.maxTasks",
        ),
        (
            {"roots": [ds("raw")], "dates": ["2026-03-01"], "options": {"maxTasks": 1}},
            "options.maxTasks",
        ),
        ({"roots": [ds("raw")]}, "dates"),
        ({"roots": ["dag:jobs:raw_dag"], "dates": ["2026-03-01"]}, "roots"),
    ],
)
def test_bad_requests_are_4xx_naming_the_field(app: TestClient, body: Any, field: str) -> None:
    response = app.post("/api/v1/backfills", json=body)
    assert response.status_code == 400, response.text
    assert f"'{field}'" in response.json()["error"]["message"]


def test_unknown_roots_and_plans_are_404_naming_them(app: TestClient) -> None:
    response = app.post("/api/v1/backfills", json={"roots": [ds("nope")], "dates": ["2026-03-01"]})
    assert response.status_code == 404
    assert ds("nope") in response.json()["error"]["message"]
    response = app.get("/api/v1/backfills/bf-000000000000")
    assert response.status_code == 404
    assert "bf-000000000000" in response.json()["error"]["message"]
    response = app.post("/api/v1/quarantine", json={"datasetId": ds("nope")})
    assert response.status_code == 404
    assert app.post("/api/v1/backfills", content=b"{").status_code == 400
    malformed = app.post("/api/v1/backfills", json={"roots": ["garbage"], "dates": ["2026-03-01"]})
    assert malformed.status_code == 400


def test_no_body_makes_the_planner_answer_500(app: TestClient) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=12)
    values = scalars | st.lists(scalars | st.sampled_from([ds("raw"), "2026-03-01"]), max_size=3)
    keys = st.sampled_from(["roots", "dates", "from", "to", "options", "dryRun", "actor", "depth"])
    options = st.dictionaries(
        st.sampled_from(["maxTasks", "maxParallel", "truncate", "includeDags", "excludeTasks"]),
        values,
        max_size=3,
    )
    bodies = st.dictionaries(keys, values | options, max_size=6) | values

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(bodies)
    def post(body: Any) -> None:
        response = app.post("/api/v1/backfills", json=body)
        assert response.status_code in (200, 201, 400, 404), (body, response.text)

    post()


def test_http_requests_are_validated_field_by_field() -> None:
    asked = parse_body(
        PlanBody,
        {
            "roots": ["dataset:db:x"],
            "from": "2026-03-01",
            "to": "2026-03-02",
            "options": {"excludeDags": ["a*"], "maxTasks": 10},
            "dryRun": False,
        },
    )
    request = asked.plan_request()
    assert request.options.exclude_dags == ("a*",) and request.options.max_tasks == 10
    assert request.dates.start == "2026-03-01T00:00:00+00:00" and not asked.dry_run
    bad: list[tuple[dict[str, Any], str]] = [
        ({"roots": []}, "roots"),
        ({"roots": ["dataset:db:x"], "actor": "alice"}, "actor"),  # who acts is the token's name
        ({"roots": ["dataset:db:x"], "dates": "2026-03-01"}, "dates"),
        ({"roots": ["dataset:db:x"], "dates": ["2026-03-01"], "from": "2026-03-01"}, "dates"),
        ({"roots": ["dataset:db:x"], "options": {"maxTasks": 0}}, "options.maxTasks"),
        ({"roots": ["dataset:db:x"], "options": {"colour": 1}}, "options.colour"),
        ({"roots": ["dataset:db:x"], "dryRun": "yes"}, "dryRun"),
        ({"roots": ["dataset:db:x"], "wat": 1}, "wat"),
        ({"roots": ["dataset:db:x"], "options": {"truncate": 1}}, "options.truncate"),
        ({"roots": ["dataset:db:x"], "depth": 101}, "depth"),
        ({"roots": [""]}, "roots"),
        ([], "$"),
    ]
    for body, field in bad:
        with pytest.raises(InvalidPlanRequest) as caught:
            parse_body(PlanBody, body).plan_request()
        assert caught.value.field == field, body


def test_a_plan_without_max_tasks_is_capped_by_the_default(app: TestClient) -> None:
    """A 1,000-day range gave 1,000 units per task: over the default cap it is a 400 naming
    maxTasks, the count and the cap, unless truncate is asked for."""
    asked = {"roots": [ds("raw")], "from": "2023-01-01", "to": "2025-09-26"}  # 1,000 days
    response = app.post("/api/v1/backfills", json=asked)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "'options.maxTasks'" in message
    assert "2,000 task instances" in message and "1,000 allowed by default" in message
    cut = app.post("/api/v1/backfills", json={**asked, "options": {"truncate": True}})
    assert cut.status_code == 200, cut.text
    plan = cut.json()["plan"]
    assert plan["truncated"] is True and len(plan["units"]) == 1_000
    wide = app.post("/api/v1/backfills", json={**asked, "options": {"maxTasks": 2_000}})
    assert wide.status_code == 200 and len(wide.json()["plan"]["units"]) == 2_000


def test_the_default_cap_is_the_setting() -> None:
    settings = Settings(default_max_tasks=1)
    with local_client(create_app(settings, in_memory=True)) as client:
        assert client.post("/api/v1/lineage/batch", json=EVENTS).json()["rejected"] == 0
        asked = {"roots": [ds("raw")], "dates": ["2026-03-01"]}  # two units
        response = client.post("/api/v1/backfills", json=asked)
        assert response.status_code == 400
        assert "2 task instances" in response.json()["error"]["message"]
        assert "1 allowed by default" in response.json()["error"]["message"]
