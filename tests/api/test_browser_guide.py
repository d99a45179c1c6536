"""The Neo4j Browser guide and stylesheet Ripple serves, and every Cypher block of the guide run
against a real Neo4j holding the demo pipeline."""

from __future__ import annotations

from fastapi.testclient import TestClient
from neo4j import AsyncGraphDatabase

from tests.browser_guide import load_demo, runnable_blocks


def test_guide_is_html_with_cors(client: TestClient) -> None:
    response = client.get("/browser/guide", headers={"Origin": "http://127.0.0.1:7474"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["access-control-allow-origin"] == "*"
    html = response.text
    assert '<article class="guide">' in html and "<carousel" in html
    assert html.count("<slide") >= 6
    # links back to the server that served it
    assert ":style http://127.0.0.1/browser/style.grass" in runnable_blocks(html)


def test_guide_answers_the_browser_preflight(client: TestClient) -> None:
    for path in ("/browser/guide", "/browser/style.grass"):
        response = client.options(
            path,
            headers={
                "Origin": "http://127.0.0.1:7474",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "pragma,cache-control",
            },
        )
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == "*"
        allowed = response.headers["access-control-allow-headers"]
        assert "pragma" in allowed and "cache-control" in allowed


def test_style_is_grass(client: TestClient) -> None:
    response = client.get("/browser/style.grass")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    style = response.text
    for label in ("Dataset", "Column", "Job", "Run", "AirflowDag", "AirflowTask"):
        assert f"node.{label} {{" in style
    assert style.count("{") == style.count("}")


async def test_every_guide_query_runs(client: TestClient, neo4j_uri: str) -> None:
    blocks = runnable_blocks(client.get("/browser/guide").text)
    queries = [block for block in blocks if not block.startswith(":")]  # Browser commands
    assert len(queries) >= 9
    await load_demo(neo4j_uri)
    rows: dict[str, list[dict[str, object]]] = {}
    async with AsyncGraphDatabase.driver(
        neo4j_uri, auth=None, notifications_min_severity="OFF"
    ) as driver:
        for query in queries:
            records, _, _ = await driver.execute_query(query, database_="neo4j")  # type: ignore[arg-type]
            rows[query] = [record.data() for record in records]
    blast = next(r for q, r in rows.items() if "shop.public.orders" in q and "hops" in q)
    assert {(r["kind"], r["name"], r["hops"]) for r in blast} == {
        ("Job", "stg_orders", 1),
        ("Dataset", "staging.orders", 2),
        ("Job", "build_daily_revenue", 3),
        ("Job", "build_customer_ltv", 3),
        ("Dataset", "analytics.daily_revenue", 4),
        ("Dataset", "analytics.customer_ltv", 4),
    }
    feeds = next(r for q, r in rows.items() if "daily_revenue:revenue" in q and "column" in q)
    assert ("staging.orders", "paid", 1) in {(r["dataset"], r["column"], r["hops"]) for r in feeds}
    failed = next(r for q, r in rows.items() if "error_message" in q)
    assert [(r["job"], r["produced"]) for r in failed] == [
        ("build_customer_ltv", ["analytics.customer_ltv"])
    ]
    unread = next(r for q, r in rows.items() if "NOT EXISTS" in q)
    assert {r["dataset"] for r in unread} == {"analytics.daily_revenue", "analytics.customer_ltv"}
    airflow = [r for q, r in rows.items() if "AirflowDag" in q]
    assert airflow == [[], []]  # filled in once Airflow sync exists
