"""One dataset, every name, over HTTP: queries, node answers, quarantine and backfill plans
by any alias (issue 18), on the in-memory app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ripple.api.app import create_app
from tests.http import local_client
from tests.unit.builders import JOB_NS, airflow_facet, ds, run_event

D1 = "2026-03-01T00:00:00+00:00"
LOCATION = "dataset:s3://lake:warehouse/stg"
TABLE = ds("stg")


def airflow(dag: str, task: str) -> dict[str, Any]:
    return airflow_facet(dag, task, D1)


def located_stg() -> dict[str, Any]:
    """stg as Spark names it: by its location, its table name in the symlinks facet."""
    table = TABLE.split(":", 1)[1].rsplit(":", 1)
    written = {"namespace": "s3://lake", "name": "warehouse/stg", "facets": {}}
    written["facets"]["symlinks"] = {
        "identifiers": [{"namespace": table[0], "name": table[1], "type": "TABLE"}]
    }
    return written


EVENTS = [
    run_event("raw_dag.load", ["src"], ["raw"], run_facets=airflow("raw_dag", "load")),
    run_event("stg_dag.clean", ["raw"], [located_stg()], run_facets=airflow("stg_dag", "clean")),
    run_event("mart_dag.build", ["stg"], ["mart"], run_facets=airflow("mart_dag", "build")),
]


@pytest.fixture
def app() -> Iterator[TestClient]:
    with local_client(create_app(in_memory=True)) as client:
        assert client.post("/api/v1/lineage/batch", json=EVENTS).json()["rejected"] == 0
        yield client


def test_impact_crosses_from_the_location_to_the_readers_of_the_table(app: TestClient) -> None:
    answer = app.get("/api/v1/impact", params={"nodeId": ds("raw"), "columns": "false"}).json()
    ids = {n["id"] for n in answer["nodes"]}
    assert {TABLE, f"job:{JOB_NS}:mart_dag.build", ds("mart")} <= ids
    assert LOCATION not in ids  # one node, under its table name, listing the location
    assert next(n for n in answer["nodes"] if n["id"] == TABLE)["aliases"] == [LOCATION]


def test_every_name_of_a_dataset_answers_the_same(app: TestClient) -> None:
    for route in ("impact", "upstream", "order"):
        by_location = app.get(f"/api/v1/{route}", params={"nodeId": LOCATION}).json()
        by_table = app.get(f"/api/v1/{route}", params={"nodeId": TABLE}).json()
        assert by_location == by_table
    impact = app.get("/api/v1/impact", params={"nodeId": LOCATION}).json()
    assert impact["root"] == TABLE and impact["aliases"] == [LOCATION]
    node = app.get("/api/v1/nodes", params={"nodeId": LOCATION}).json()
    assert node["id"] == LOCATION
    assert node["canonical"] == TABLE and node["aliases"] == [LOCATION]
    assert app.get("/api/v1/nodes", params={"nodeId": TABLE}).json()["aliases"] == [LOCATION]


def test_a_backfill_from_upstream_plans_the_reader_of_the_table_name(app: TestClient) -> None:
    plan = app.post("/api/v1/backfills", json={"roots": [ds("raw")], "dates": ["2026-03-01"]})
    units = plan.json()["plan"]["units"]
    assert [(u["dagId"], u["taskId"]) for u in units] == [
        ("stg_dag", "clean"),
        ("mart_dag", "build"),
    ]


def test_quarantine_by_any_name_holds_the_readers_of_every_name(app: TestClient) -> None:
    response = app.post("/api/v1/quarantine", json={"datasetId": LOCATION, "reason": "dupes"})
    assert response.status_code == 201
    assert [e["datasetId"] for e in app.get("/api/v1/quarantine").json()["quarantined"]] == [TABLE]
    plan = app.post("/api/v1/backfills", json={"roots": [ds("raw")], "dates": ["2026-03-01"]})
    held = [u for u in plan.json()["plan"]["units"] if u.get("held")]
    assert [(u["dagId"], u["held"]) for u in held] == [
        ("mart_dag", f"reads quarantined dataset {TABLE}")
    ]
    lifted = app.delete("/api/v1/quarantine", params={"datasetId": LOCATION})
    assert lifted.status_code == 204
    assert app.get("/api/v1/quarantine").json()["quarantined"] == []


def test_marquez_shaped_lineage_names_the_table_once(app: TestClient) -> None:
    graph = app.get("/api/v1/lineage", params={"nodeId": ds("raw"), "depth": 10}).json()["graph"]
    ids = {node["id"] for node in graph}
    assert TABLE in ids and LOCATION not in ids
    assert f"job:{JOB_NS}:mart_dag.build" in ids
