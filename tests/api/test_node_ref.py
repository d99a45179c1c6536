"""A node named by `nodeId=` or by `namespace=` + `name=` (+ `field=`); a textual id that names
two nodes answers 409 listing them (issue 19)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

ROUTES = [
    "/api/v1/impact",
    "/api/v1/upstream",
    "/api/v1/order",
    "/api/v1/nodes",
    "/api/v1/lineage",
    "/api/v1/column-lineage",
]


def _event(job: str, inputs: list[tuple[str, str]], output: tuple[str, str]) -> dict[str, Any]:
    sources = [{"namespace": ns, "name": name, "field": "x"} for ns, name in inputs]
    return {
        "eventType": "COMPLETE",
        "eventTime": "2024-01-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "etl", "name": job},
        "inputs": [{"namespace": ns, "name": name} for ns, name in inputs],
        "outputs": [
            {
                "namespace": output[0],
                "name": output[1],
                "facets": {
                    "schema": {"fields": [{"name": "x"}]},
                    "columnLineage": {"fields": {"x": {"inputFields": sources}}},
                },
            }
        ],
    }


@pytest.fixture
def twins(client: TestClient) -> TestClient:
    """("team:b", "c") written by j1, ("team", "b:c") read by j2: one Marquez id, two nodes."""
    for doc in (
        _event("j1", [("src", "s")], ("team:b", "c")),
        _event("j2", [("team", "b:c")], ("out", "o")),
    ):
        assert client.post("/api/v1/lineage", json=doc).status_code in (200, 201)
    return client


@pytest.mark.parametrize("route", ROUTES)
def test_an_ambiguous_id_answers_409_with_the_candidates(twins: TestClient, route: str) -> None:
    response = twins.get(route, params={"nodeId": "dataset:team:b:c"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert "namespace=" in error["message"] and "name=" in error["message"]
    pairs = {(c["namespace"], c["name"]) for c in error["candidates"]}
    assert pairs == {("team:b", "c"), ("team", "b:c")}


@pytest.mark.parametrize("route", ROUTES)
def test_the_structured_form_names_one_node(twins: TestClient, route: str) -> None:
    response = twins.get(route, params={"namespace": "team:b", "name": "c"})
    assert response.status_code == 200, response.text


def test_each_pair_answers_its_own_lineage(twins: TestClient) -> None:
    one = twins.get("/api/v1/impact", params={"namespace": "team:b", "name": "c"}).json()
    two = twins.get("/api/v1/impact", params={"namespace": "team", "name": "b:c"}).json()
    assert "dataset:out:o" not in {n["id"] for n in one["nodes"]}
    assert "dataset:out:o" in {n["id"] for n in two["nodes"]}
    node = twins.get("/api/v1/nodes", params={"namespace": "team:b", "name": "c"}).json()
    assert (node["props"]["namespace"], node["props"]["name"]) == ("team:b", "c")
    # the id Ripple answers with names that node alone
    again = twins.get("/api/v1/nodes", params={"nodeId": node["id"]}).json()
    assert again["id"] == node["id"] == "dataset:~team%3Ab:c"


def test_a_column_and_a_job_by_structured_form(twins: TestClient) -> None:
    column = twins.get(
        "/api/v1/nodes", params={"namespace": "team", "name": "b:c", "field": "x"}
    ).json()
    assert column["kind"] == "datasetField"
    up = twins.get(
        "/api/v1/column-lineage", params={"namespace": "out", "name": "o", "field": "x"}
    ).json()
    assert up["graph"]
    job = twins.get("/api/v1/nodes", params={"namespace": "etl", "name": "j1", "kind": "job"})
    assert job.json()["id"] == "job:etl:j1"


def test_an_unambiguous_marquez_id_still_works(twins: TestClient) -> None:
    # only ("team:b", "c") exists under this text's readings
    assert twins.get("/api/v1/nodes", params={"nodeId": "dataset:src:s"}).status_code == 200
    response = twins.get("/api/v1/nodes", params={"nodeId": "datasetField:team:b:c:x"})
    assert response.status_code == 409  # both datasets have column x


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({}, "nodeId="),
        ({"nodeId": "dataset:src:s", "namespace": "src", "name": "s"}, "not both"),
        ({"namespace": "src"}, "name= missing"),
        ({"name": "s", "field": "x"}, "namespace= missing"),
    ],
)
def test_both_or_neither_form_is_400(twins: TestClient, params: dict[str, str], named: str) -> None:
    for route in ROUTES:
        response = twins.get(route, params=params)
        assert response.status_code == 400, route
        assert named in response.json()["error"]["message"]


def test_a_quarantined_twin_plans_by_its_own_id(twins: TestClient) -> None:
    """Quarantine keeps the id it read; its aliases and planning read that id back as one
    node, not as the Marquez text both twins share (which would be ambiguous)."""
    for dataset_id in ("dataset:~team%3Ab:c", "dataset:team:b:c"):
        held = twins.post("/api/v1/quarantine", json={"datasetId": dataset_id})
        assert held.status_code == 201, held.json()
    plan = twins.post(
        "/api/v1/backfills", json={"roots": ["dataset:src:s"], "dates": ["2026-03-01"]}
    )
    assert plan.status_code == 200, plan.json()
