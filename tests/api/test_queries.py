"""Impact, upstream, order and Marquez's read shapes over the demo pipeline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ripple.api.app import create_app
from ripple.config import Settings
from ripple.ingest.demo import JOB_NAMESPACE, NAMESPACE, demo_events
from tests.http import local_client

ORDERS = f"dataset:{NAMESPACE}:shop.public.orders"
STG_ORDERS = f"dataset:{NAMESPACE}:staging.orders"
LTV = f"dataset:{NAMESPACE}:analytics.customer_ltv"


def job(name: str) -> str:
    return f"job:{JOB_NAMESPACE}:{name}"


@pytest.fixture(scope="module")
def demo() -> Iterator[TestClient]:
    with local_client(create_app(in_memory=True)) as client:
        response = client.post("/api/v1/lineage/batch", json=demo_events())
        assert response.json()["rejected"] == 0
        yield client


def test_impact_of_raw_table(demo: TestClient) -> None:
    body = demo.get("/api/v1/impact", params={"nodeId": ORDERS}).json()
    assert body["root"] == ORDERS
    assert body["truncated"] is False
    ids = {n["id"]: n for n in body["nodes"]}
    assert ids[job("stg_orders")]["distance"] == 1
    assert ids[STG_ORDERS]["distance"] == 2
    assert ids[LTV]["path"] == [
        ORDERS,
        job("stg_orders"),
        STG_ORDERS,
        job("build_customer_ltv"),
        LTV,
    ]
    assert f"datasetField:{NAMESPACE}:analytics.customer_ltv:ltv" in ids
    assert f"dataset:{NAMESPACE}:staging.customers" not in ids
    edge_kinds = {e["kind"] for e in body["edges"]}
    assert {"READ_BY", "WRITES", "HAS_COLUMN", "DERIVES"} <= edge_kinds


def test_impact_without_columns(demo: TestClient) -> None:
    body = demo.get("/api/v1/impact", params={"nodeId": ORDERS, "columns": "false"}).json()
    assert {n["kind"] for n in body["nodes"]} == {"job", "dataset"}


def test_column_impact_separates_direct_and_indirect(demo: TestClient) -> None:
    status = f"datasetField:{NAMESPACE}:shop.public.orders:status"
    body = demo.get("/api/v1/impact", params={"nodeId": status}).json()
    deps = {n["id"]: n["dependence"] for n in body["nodes"]}
    assert deps[f"datasetField:{NAMESPACE}:staging.orders:amount"] == "INDIRECT"
    assert deps[STG_ORDERS] == "INDIRECT"
    direct = demo.get("/api/v1/impact", params={"nodeId": status, "directOnly": "true"}).json()
    assert direct["nodes"] == []


def test_direct_column_impact(demo: TestClient) -> None:
    amount = f"datasetField:{NAMESPACE}:shop.public.orders:amount"
    body = demo.get("/api/v1/impact", params={"nodeId": amount}).json()
    deps = {n["id"]: n["dependence"] for n in body["nodes"]}
    assert deps[f"datasetField:{NAMESPACE}:analytics.customer_ltv:ltv"] == "DIRECT"
    assert deps[LTV] == "DIRECT"
    assert ORDERS not in deps  # the root's own dataset is not "impacted"


def test_cap_marks_truncated(demo: TestClient) -> None:
    body = demo.get("/api/v1/impact", params={"nodeId": ORDERS, "limit": 3}).json()
    assert body["truncated"] is True
    assert len(body["nodes"]) == 3


def test_upstream_shows_failed_run(demo: TestClient) -> None:
    body = demo.get("/api/v1/upstream", params={"nodeId": LTV, "columns": "false"}).json()
    states = {n["id"]: n.get("state") for n in body["nodes"]}
    assert states[job("build_customer_ltv")] == "FAIL"
    assert states[job("stg_orders")] == "COMPLETE"
    assert ORDERS in states


def test_order_layers(demo: TestClient) -> None:
    body = demo.get("/api/v1/order", params={"nodeId": ORDERS}).json()
    assert body["layers"] == [
        [job("stg_orders")],
        [job("build_customer_ltv"), job("build_daily_revenue")],
    ]
    assert body["cycles"] == []


def test_order_from_job_includes_it(demo: TestClient) -> None:
    body = demo.get("/api/v1/order", params={"nodeId": job("stg_customers")}).json()
    assert body["layers"] == [[job("stg_customers")], [job("build_customer_ltv")]]


def test_unknown_node_is_404_naming_it(demo: TestClient) -> None:
    response = demo.get("/api/v1/impact", params={"nodeId": "dataset:nowhere:nothing"})
    assert response.status_code == 404
    assert "dataset:nowhere:nothing" in response.json()["error"]["message"]


def test_malformed_node_id_is_400(demo: TestClient) -> None:
    for bad in ("table:x", "dataset:onlynamespace", "run:not-a-uuid"):
        response = demo.get("/api/v1/impact", params={"nodeId": bad})
        assert response.status_code == 400, bad


def test_bad_parameters_are_400(demo: TestClient) -> None:
    assert demo.get("/api/v1/impact", params={"nodeId": ORDERS, "depth": "deep"}).status_code == 400
    assert demo.get("/api/v1/impact", params={"nodeId": ORDERS, "limit": 0}).status_code == 400
    assert demo.get("/api/v1/impact").status_code == 400


def test_marquez_lineage_shape_is_directed(demo: TestClient) -> None:
    body = demo.get("/api/v1/lineage", params={"nodeId": STG_ORDERS, "depth": 1}).json()
    nodes = {n["id"]: n for n in body["graph"]}
    assert set(nodes) == {
        STG_ORDERS,
        job("stg_orders"),
        ORDERS,
        f"dataset:{NAMESPACE}:shop.public.payments",
        job("build_customer_ltv"),
        job("build_daily_revenue"),
        LTV,
        f"dataset:{NAMESPACE}:analytics.daily_revenue",
    }
    # A sibling reader of an upstream dataset is not lineage of STG_ORDERS.
    assert job("stg_customers") not in nodes
    node = nodes[STG_ORDERS]
    assert node["type"] == "DATASET"
    assert {"origin": job("stg_orders"), "destination": STG_ORDERS} in node["inEdges"]
    assert node["data"]["namespace"] == NAMESPACE
    assert [f["name"] for f in node["data"]["fields"]][:2] == ["order_id", "customer_id"]


def test_marquez_column_lineage_upstream_by_default(demo: TestClient) -> None:
    ltv = f"datasetField:{NAMESPACE}:analytics.customer_ltv:ltv"
    body = demo.get("/api/v1/column-lineage", params={"nodeId": ltv}).json()
    ids = {n["id"] for n in body["graph"]}
    assert f"datasetField:{NAMESPACE}:shop.public.orders:amount" in ids
    node = next(n for n in body["graph"] if n["id"] == ltv)
    assert node["type"] == "DATASET_FIELD"
    assert (node["data"]["namespace"], node["data"]["dataset"], node["data"]["field"]) == (
        NAMESPACE,  # contains ':' and '//' — parsed, not split
        "analytics.customer_ltv",
        "ltv",
    )
    assert any(f["field"] == "amount" for f in node["data"]["inputFields"])
    down = demo.get(
        "/api/v1/column-lineage",
        params={
            "nodeId": f"datasetField:{NAMESPACE}:shop.public.orders:amount",
            "withDownstream": "true",
        },
    ).json()
    assert ltv in {n["id"] for n in down["graph"]}


def fan_events(width: int) -> list[dict[str, object]]:
    return [
        {
            "eventTime": "2026-03-01T00:00:00Z",
            "eventType": "COMPLETE",
            "producer": "https://example.com/tests",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent",
            "run": {"runId": f"00000000-0000-4000-8000-{i:012d}"},
            "job": {"namespace": "jobs", "name": f"j{i}"},
            "inputs": [{"namespace": "db", "name": "raw"}],
            "outputs": [{"namespace": "db", "name": f"out{i}"}],
        }
        for i in range(width)
    ]


@pytest.fixture(scope="module")
def spent() -> Iterator[TestClient]:
    """A server whose query budget is spent at once, over a fan wider than one budget check."""
    with local_client(create_app(Settings(query_budget=1e-9), in_memory=True)) as client:
        assert client.post("/api/v1/lineage/batch", json=fan_events(1_000)).json()["rejected"] == 0
        yield client


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/impact", {"columns": "false"}),
        ("/api/v1/impact", {}),
        ("/api/v1/order", {}),
        ("/api/v1/lineage", {}),
    ],
)
def test_a_spent_query_budget_answers_partial_naming_it(
    spent: TestClient, path: str, params: dict[str, str]
) -> None:
    response = spent.get(path, params={"nodeId": "dataset:db:raw", **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["partial"] is True
    assert body["partialReason"] == "time budget of 1e-09 s exhausted"


def test_answers_within_budget_say_they_are_complete(demo: TestClient) -> None:
    assert demo.get("/api/v1/impact", params={"nodeId": ORDERS}).json()["partial"] is False
    assert demo.get("/api/v1/order", params={"nodeId": ORDERS}).json()["partial"] is False
    assert "partial" not in demo.get("/api/v1/lineage", params={"nodeId": ORDERS}).json()
