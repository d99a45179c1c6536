"""`ripple serve` keeps its graph in Neo4j when RIPPLE_NEO4J_URI says so, with the same answers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson

from ripple.api.app import create_app
from ripple.ingest.demo import NAMESPACE, demo_events
from tests.http import JSON, local_client
from tests.integration.server import RippleServer
from tests.neo4j_service import SERVICE, clear_graph


def test_serve_on_neo4j_answers_like_the_embedded_store(tmp_path: Path) -> None:

    uri = SERVICE.uri()
    asyncio.run(clear_graph(uri))  # projected from this test's fresh log only
    server = RippleServer(tmp_path / "data", env={"RIPPLE_NEO4J_URI": uri})
    server.start()
    root = f"dataset:{NAMESPACE}:shop.public.orders"
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            client.post("/api/v1/lineage/batch", json=[]).raise_for_status()
            body = client.post(
                "/api/v1/lineage/batch", content=orjson.dumps(demo_events()), headers=JSON
            )
            assert body.json()["rejected"] == 0
            on_neo4j = client.get("/api/v1/impact", params={"nodeId": root}).json()
            order = client.get("/api/v1/order", params={"nodeId": root}).json()
    finally:
        server.stop()
    with local_client(create_app(in_memory=True)) as embedded:
        embedded.post("/api/v1/lineage/batch", content=orjson.dumps(demo_events()))
        expected = embedded.get("/api/v1/impact", params={"nodeId": root}).json()
        expected_order = embedded.get("/api/v1/order", params={"nodeId": root}).json()

    def shape(answer: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
        return {n["id"]: (n["kind"], n["distance"], n["dependence"]) for n in answer["nodes"]}

    assert shape(on_neo4j) == shape(expected)
    assert order == expected_order


def test_bad_neo4j_uri_is_named(tmp_path: Path) -> None:
    ripple = str(Path(sys.executable).parent / "ripple")
    result = subprocess.run(
        [ripple, "impact", "--data-dir", str(tmp_path), "dataset:a:b"],
        capture_output=True,
        text=True,
        env={"RIPPLE_NEO4J_URI": "http://localhost:7474", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "RIPPLE_NEO4J_URI" in result.stderr
