"""POST /api/v1/lineage with sloppy and hostile events: a bad facet is a warning (201), deep
nesting and bad text are JSON 4xx errors, and the input limits hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from ripple.api.app import create_app
from ripple.config import Settings
from tests.http import local_client
from tests.unit.builders import dataset, run_event

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def strict() -> Iterator[TestClient]:
    settings = Settings(max_body_bytes=64 * 1024, max_name_length=64, max_facets=10, max_datasets=3)
    with local_client(create_app(settings, in_memory=True)) as test_client:
        yield test_client


def now_event(**extra: Any) -> dict[str, Any]:
    time = datetime.now(UTC).isoformat()
    return run_event("load", ["src"], [dataset("dst", ["id"])], time=time, **extra)


def nodes(client: TestClient, node_id: str) -> set[str]:
    response = client.get("/api/v1/lineage", params={"nodeId": node_id})
    assert response.status_code == 200, response.text
    return {node["id"] for node in response.json()["graph"]}


def test_a_bad_facet_answers_201_with_warnings_and_keeps_the_lineage(client: TestClient) -> None:
    doc = now_event(job_facets={"ownership": {"owners": "alice"}})
    doc["outputs"][0]["outputFacets"] = {"outputStatistics": {"rowCount": "12"}}
    response = client.post("/api/v1/lineage", json=doc)
    assert response.status_code == 201
    warnings = response.json()["warnings"]
    assert [w["dropped"] for w in warnings] == [
        "$.job.facets.ownership",
        "$.outputs[0].outputFacets.outputStatistics",
    ]
    assert warnings[1] == {
        "path": "$.outputs[0].outputFacets.outputStatistics.rowCount",
        "value": "12",
        "reason": "must be an integer, not a string",
        "dropped": "$.outputs[0].outputFacets.outputStatistics",
    }
    assert {"dataset:db:src", "job:jobs:load", "dataset:db:dst"} <= nodes(client, "job:jobs:load")


def test_a_clean_event_answers_201_with_no_warnings(client: TestClient) -> None:
    response = client.post("/api/v1/lineage", json=now_event())
    assert response.status_code == 201
    assert response.json() == {}


def test_the_batch_route_reports_warnings(client: TestClient) -> None:
    bad = now_event(run_facets={"nominalTime": "yesterday"})
    response = client.post("/api/v1/lineage/batch", json=[now_event(), bad])
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    assert "warnings" not in results[0]
    assert results[1]["warnings"][0]["dropped"] == "$.run.facets.nominalTime"


FIXTURES = [
    "marquez/open_lineage/event_full.json",
    "openlineage/client_python/example_full_event.json",
    "openlineage/proxy_fluentd/event_full.json",
    "openlineage/proxy_fluentd/event_simple.json",
    "openlineage/proxy_fluentd/event_invalid_dataset_facet.json",
    "openlineage/proxy_fluentd/event_invalid_input_dataset_facet.json",
    "openlineage/proxy_fluentd/event_invalid_job_facet.json",
    "openlineage/proxy_fluentd/event_invalid_output_dataset_facet.json",
    "openlineage/proxy_fluentd/event_invalid_run_facet.json",
]


@pytest.mark.parametrize("name", FIXTURES)
def test_openlineage_corpus_is_accepted(fixtures_dir: Path, client: TestClient, name: str) -> None:
    doc = json.loads((fixtures_dir / name).read_text())
    response = client.post("/api/v1/lineage", json=doc)
    assert response.status_code == 201, response.text
    job = f"job:{doc['job']['namespace']}:{doc['job']['name']}"
    assert job in nodes(client, job)
    for ds in [*doc.get("inputs", []), *doc.get("outputs", [])]:
        assert f"dataset:{ds['namespace']}:{ds['name']}" in nodes(client, job)


def test_the_no_run_id_case_stays_a_422(fixtures_dir: Path, client: TestClient) -> None:
    doc = json.loads((fixtures_dir / "openlineage/proxy_fluentd/event_no_run_id.json").read_text())
    response = client.post("/api/v1/lineage", json=doc)
    assert response.status_code == 422
    assert response.json()["error"]["path"] == "$.run.runId"


def deep(depth: int) -> bytes:
    body = orjson.dumps(now_event(job_facets={"x": "__DEEP__"}))
    return body.replace(b'"__DEEP__"', b'{"a":' * depth + b"1" + b"}" * depth)


@pytest.mark.parametrize("depth", [300, 1_000, 5_000])
def test_deep_nesting_is_a_json_422_and_the_connection_lives(
    client: TestClient, depth: int
) -> None:
    response = client.post("/api/v1/lineage", content=deep(depth), headers=JSON)
    assert response.status_code == 422
    assert "levels deep" in response.json()["error"]["reason"]
    assert client.post("/api/v1/lineage", json=now_event()).status_code == 201


def test_a_deep_event_in_a_batch_costs_only_itself(client: TestClient) -> None:
    # 300 levels: deeper lines are split_many's to refuse (api/body.py, the batch route's own)
    batch = b"\n".join([orjson.dumps(now_event()), deep(300), orjson.dumps(now_event())])
    response = client.post("/api/v1/lineage/batch", content=batch, headers=JSON)
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["accepted", "rejected", "accepted"]
    assert client.post("/api/v1/lineage", json=now_event()).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        orjson.dumps(now_event()).replace(b'"load"', b'"lo\xff"'),
        orjson.dumps(now_event()).replace(b'"load"', b'"\\ud800"'),
        orjson.dumps(now_event(job_facets={"x": {"s": "__S__"}})).replace(b"__S__", b"\\udc00"),
    ],
    ids=["invalid-utf8", "lone-surrogate-name", "lone-surrogate-facet"],
)
def test_bad_text_is_a_json_400(client: TestClient, body: bytes) -> None:
    response = client.post("/api/v1/lineage", content=body, headers=JSON)
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_a_name_over_the_limit_is_a_422_naming_field_and_limit(strict: TestClient) -> None:
    doc = now_event()
    doc["outputs"][0]["name"] = "t" * 65
    response = strict.post("/api/v1/lineage", json=doc)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["path"] == "$.outputs[0].name"
    assert "65 characters long; at most 64" in error["reason"]


def test_too_many_facets_or_datasets_is_a_422(strict: TestClient) -> None:
    doc = now_event(job_facets={f"f{i}": {} for i in range(11)})
    response = strict.post("/api/v1/lineage", json=doc)
    assert response.status_code == 422
    assert "at most 10" in response.json()["error"]["reason"]
    doc = run_event("load", ["a", "b"], ["c", "d"], time=datetime.now(UTC).isoformat())
    response = strict.post("/api/v1/lineage", json=doc)
    assert response.status_code == 422
    assert "at most 3" in response.json()["error"]["reason"]


def test_a_future_event_time_is_a_422_naming_the_skew(strict: TestClient) -> None:
    doc = run_event("load", ["src"], ["dst"], time="9999-12-31T00:00:00Z")
    response = strict.post("/api/v1/lineage", json=doc)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["path"] == "$.eventTime"
    assert "9999-12-31T00:00:00+00:00 is more than 86400 s ahead" in error["reason"]
    batch = [doc, now_event()]
    results = strict.post("/api/v1/lineage/batch", json=batch).json()["results"]
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert strict.post("/api/v1/lineage", json=run_event("load", time=soon)).status_code == 201
