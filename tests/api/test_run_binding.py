"""A runId belongs to one job: an event that claims it for another job is a 409, never logged."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient

from ripple.runtime import Runtime


def event(job: str, run_id: str, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "eventType": "COMPLETE",
        "eventTime": "2024-05-01T10:00:00Z",
        "run": {"runId": run_id},
        "job": {"namespace": "etl", "name": job},
        "inputs": [{"namespace": "pg", "name": "raw.orders"}],
        "outputs": [{"namespace": "pg", "name": f"out.{job}"}],
        "producer": "tests",
    }
    doc.update(extra)
    return doc


def the_runtime(client: TestClient) -> Runtime:
    value: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return value


def logged(client: TestClient) -> list[bytes]:
    """Every body in the app's event log."""
    assert client.portal is not None
    rows = client.portal.call(the_runtime(client).log.read, 0, 1_000)
    return [body for _, body in rows]


def run_job(client: TestClient, run_id: str) -> str:
    node = client.get("/api/v1/nodes", params={"nodeId": f"run:{run_id}"}).json()
    return str(node["props"]["job"])


def test_run_claimed_by_another_job_is_409_naming_both(client: TestClient) -> None:
    run_id = str(uuid.uuid4())
    assert client.post("/api/v1/lineage", json=event("load", run_id)).status_code == 201
    response = client.post("/api/v1/lineage", json=event("evil", run_id))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert run_id in error["message"]
    assert "job:etl:load" in error["message"] and "job:etl:evil" in error["message"]
    assert error["path"] == "$.run.runId"
    assert run_job(client, run_id) == "job:etl:load"
    assert client.get("/api/v1/nodes", params={"nodeId": "job:etl:evil"}).status_code == 404
    assert not any(b"evil" in body for body in logged(client))  # not in the log either


def test_same_run_same_job_is_still_accepted(client: TestClient) -> None:
    run_id = str(uuid.uuid4())
    start = event("load", run_id, eventType="START")
    assert client.post("/api/v1/lineage", json=start).status_code == 201
    assert client.post("/api/v1/lineage", json=event("load", run_id)).status_code == 201


def test_batch_rejects_the_conflicting_item_and_keeps_the_others(client: TestClient) -> None:
    known, fresh = str(uuid.uuid4()), str(uuid.uuid4())
    assert client.post("/api/v1/lineage", json=event("load", known)).status_code == 201
    items = [event("a", fresh), event("evil", known), event("b", str(uuid.uuid4()))]
    body = client.post("/api/v1/lineage/batch", json=items).json()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "accepted"]
    error = body["results"][1]["error"]
    assert known in error["reason"] and "job:etl:load" in error["reason"]
    assert run_job(client, known) == "job:etl:load"
    assert not any(b"evil" in body for body in logged(client))


def test_within_one_batch_the_first_claim_wins(client: TestClient) -> None:
    run_id = str(uuid.uuid4())
    items = [event("first", run_id), event("second", run_id), event("first", run_id)]
    body = client.post("/api/v1/lineage/batch", json=items).json()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "accepted"]
    assert run_job(client, run_id) == "job:etl:first"


def test_a_parent_facet_cannot_repoint_a_known_run(client: TestClient) -> None:
    parent = str(uuid.uuid4())
    assert client.post("/api/v1/lineage", json=event("dag", parent)).status_code == 201
    child = event("task", str(uuid.uuid4()))
    child["run"]["facets"] = {
        "parent": {
            "run": {"runId": parent},
            "job": {"namespace": "etl", "name": "other_dag"},
        }
    }
    response = client.post("/api/v1/lineage", json=child)
    assert response.status_code == 409
    assert run_job(client, parent) == "job:etl:dag"


def test_the_binding_is_checked_against_the_graph_not_only_this_process(
    client: TestClient,
) -> None:
    """A run the graph knows from before (the in-process map empty) is checked in the store."""
    run_id = str(uuid.uuid4())
    assert client.post("/api/v1/lineage", json=event("load", run_id)).status_code == 201
    the_runtime(client).ingestor.runs.forget()
    assert client.post("/api/v1/lineage", json=event("evil", run_id)).status_code == 409
