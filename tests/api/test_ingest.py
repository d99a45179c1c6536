"""POST /api/v1/lineage and /lineage/batch: Marquez's contract, strict where the graph needs it."""

from __future__ import annotations

import gzip
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient


def event(job: str = "load", run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "eventType": "COMPLETE",
        "eventTime": "2024-05-01T10:00:00Z",
        "run": {"runId": run_id or str(uuid.uuid4())},
        "job": {"namespace": "etl", "name": job},
        "inputs": [{"namespace": "pg", "name": "raw.orders"}],
        "outputs": [{"namespace": "pg", "name": "stg.orders"}],
        "producer": "tests",
    }
    doc.update(extra)
    return doc


def test_single_event_is_created_and_projected(client: TestClient) -> None:
    response = client.post("/api/v1/lineage", json=event())
    assert response.status_code == 201
    impact = client.get("/api/v1/impact", params={"nodeId": "dataset:pg:raw.orders"}).json()
    assert {n["id"] for n in impact["nodes"]} == {"job:etl:load", "dataset:pg:stg.orders"}


def test_gzip_body_is_accepted(client: TestClient) -> None:
    body = gzip.compress(json.dumps(event()).encode())
    response = client.post("/api/v1/lineage", content=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 201


def test_not_json_is_400(client: TestClient) -> None:
    response = client.post("/api/v1/lineage", content=b'{"eventType": ')
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_bad_gzip_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/v1/lineage", content=b"not gzip", headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 400


def test_invalid_event_names_path_value_and_reason(client: TestClient) -> None:
    response = client.post("/api/v1/lineage", json=event(run={"runId": "not-a-uuid"}))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["path"] == "$.run.runId"
    assert error["value"] == "not-a-uuid"
    assert error["reason"] == "must be a UUID"


def test_missing_job_name_is_422(client: TestClient) -> None:
    response = client.post("/api/v1/lineage", json=event(job=""))
    assert response.status_code == 422
    assert response.json()["error"]["path"] == "$.job.name"


def test_facet_that_is_not_an_object_is_dropped_with_a_warning(client: TestClient) -> None:
    doc = event()
    doc["run"]["facets"] = {"nominalTime": "yesterday"}
    response = client.post("/api/v1/lineage", json=doc)
    assert response.status_code == 201
    [warning] = response.json()["warnings"]
    assert warning["path"] == warning["dropped"] == "$.run.facets.nominalTime"


def test_array_on_single_endpoint_is_422(client: TestClient) -> None:
    response = client.post("/api/v1/lineage", json=[event()])
    assert response.status_code == 422


def test_lenient_where_marquez_is(client: TestClient) -> None:
    doc = event(eventTime="2024-05-01T10:00:00.123456789")
    del doc["eventType"]
    doc["run"]["facets"] = {"somethingCustom": {"anything": [1, 2, 3]}}
    assert client.post("/api/v1/lineage", json=doc).status_code == 201
    run = client.get("/api/v1/nodes", params={"nodeId": f"run:{doc['run']['runId']}"}).json()
    assert run["props"]["facet.somethingCustom"] == {"anything": [1, 2, 3]}


def test_body_over_limit_is_413(client: TestClient) -> None:
    doc = event(job="x" * (70 * 1024))
    response = client.post("/api/v1/lineage", json=doc)
    assert response.status_code == 413
    assert "exceeds the limit" in response.json()["error"]["message"]


def test_gzip_bomb_over_limit_is_413(client: TestClient) -> None:
    body = gzip.compress(b'{"a": "' + b"x" * (1024 * 1024) + b'"}')
    response = client.post("/api/v1/lineage", content=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413


def test_rejected_event_never_reaches_graph(client: TestClient) -> None:
    doc = event(job="bad", run={"runId": "nope"})
    client.post("/api/v1/lineage", json=doc)
    response = client.get("/api/v1/nodes", params={"nodeId": "job:etl:bad"})
    assert response.status_code == 404


def test_batch_array_reports_each_event(client: TestClient) -> None:
    good, bad = event(job="a"), event(job="b", run={})
    response = client.post("/api/v1/lineage/batch", json=[good, bad, event(job="c")])
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "accepted"]
    assert body["results"][1]["error"]["path"] == "$.run.runId"


def test_batch_ndjson_with_a_broken_line(client: TestClient) -> None:
    lines = [json.dumps(event(job="a")), "{broken", json.dumps(event(job="b"))]
    response = client.post(
        "/api/v1/lineage/batch",
        content="\n".join(lines),
        headers={"Content-Type": "application/x-ndjson"},
    )
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert "line 2" in body["results"][1]["error"]["reason"]


def test_same_event_twice_is_idempotent(client: TestClient) -> None:
    doc = event(job="twice", run_id=str(uuid.uuid4()))
    client.post("/api/v1/lineage", json=doc)
    first = client.get("/api/v1/impact", params={"nodeId": "dataset:pg:raw.orders"}).json()
    client.post("/api/v1/lineage", json=doc)
    second = client.get("/api/v1/impact", params={"nodeId": "dataset:pg:raw.orders"}).json()
    assert first == second


def test_single_and_batch_posts_take_the_c_reader(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One reader ladder for every route: a single POST and a batch both go through the C
    projection first when it is built (the Python twins answer alike when it is not)."""
    from ripple.graph.native import NATIVE

    if NATIVE is None:
        pytest.skip("the C loops are not built here (RIPPLE_NATIVE=0 or no compiler)")
    calls: list[str] = []
    single, many = NATIVE.project, NATIVE.project_many

    def project(*args: Any) -> Any:
        calls.append("project")
        return single(*args)

    def project_many(*args: Any) -> Any:
        calls.append("project_many")
        return many(*args)

    monkeypatch.setattr(NATIVE, "project", project)
    monkeypatch.setattr(NATIVE, "project_many", project_many)
    assert client.post("/api/v1/lineage", json=event("one")).status_code == 201
    body = "\n".join(json.dumps(event(f"b{i}")) for i in range(3))
    answer = client.post("/api/v1/lineage/batch", content=body)
    assert answer.json()["accepted"] == 3
    assert calls == ["project", "project_many"]
    impact = client.get("/api/v1/impact", params={"nodeId": "dataset:pg:raw.orders"}).json()
    assert {"job:etl:one", "job:etl:b0", "job:etl:b2"} <= {n["id"] for n in impact["nodes"]}


def test_text_that_is_not_utf8_is_a_rejection_not_a_crash(client: TestClient) -> None:
    """A string that is not UTF-8 inside an event: a 400 for a single POST; in a batch, that
    event is rejected and its neighbours are kept."""
    good = json.dumps(event("kept")).encode()
    bad = good.replace(b'"kept"', b'"\x80"')
    single = client.post("/api/v1/lineage", content=bad)
    assert single.status_code == 400, single.text
    assert "UTF-8" in single.json()["error"]["message"]
    answer = client.post("/api/v1/lineage/batch", content=b"\n".join([bad, good, b'"\x80"']))
    assert answer.status_code == 200, answer.text
    statuses = [r["status"] for r in answer.json()["results"]]
    assert statuses == ["rejected", "accepted", "rejected"]
    assert client.get("/api/v1/nodes", params={"nodeId": "job:etl:kept"}).status_code == 200
