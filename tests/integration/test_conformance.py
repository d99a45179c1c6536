"""Correct on real data: the shared OpenLineage corpus (read where it lies, never copied)."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from ripple.api.app import create_app
from ripple.errors import InvalidEvent
from ripple.ingest.event import parse_event
from tests.conftest import food_delivery_events
from tests.http import local_client

EVENT_DIRS = (
    "marquez/open_lineage",
    "marquez/apples",
    "marquez/seed",
    "openlineage/client_python",
    "openlineage/proxy_fluentd",
    "airflow3",
)


class SpecValidator:
    """The OpenLineage JSON Schemas (core + facets), resolved locally from the corpus."""

    def __init__(self, spec: Path) -> None:
        resources = []
        self.facets: dict[str, Draft202012Validator] = {}
        schemas = [spec / "OpenLineage.json", *sorted((spec / "facets").glob("*.json"))]
        for path in schemas:
            schema = json.loads(path.read_text())
            resources.append((schema["$id"], Resource.from_contents(schema)))
        registry: Registry[Any] = Registry().with_resources(resources)
        core = json.loads((spec / "OpenLineage.json").read_text())
        self.core = Draft202012Validator(core, registry=registry)
        for path in schemas[1:]:
            schema = json.loads(path.read_text())
            for name in schema.get("properties", {}):
                self.facets[name] = Draft202012Validator(schema, registry=registry)

    def accepts(self, event: dict[str, Any]) -> bool:
        if not self.core.is_valid(event):
            return False
        for facets in _facet_dicts(event):
            for name, facet in facets.items():
                validator = self.facets.get(name)
                if validator is not None and not validator.is_valid({name: facet}):
                    return False
        return True


def _facet_dicts(event: dict[str, Any]) -> list[dict[str, Any]]:
    found = [event.get("run", {}).get("facets") or {}, event.get("job", {}).get("facets") or {}]
    for ds in [*event.get("inputs", []), *event.get("outputs", [])]:
        for key in ("facets", "inputFacets", "outputFacets"):
            found.append(ds.get(key) or {})
    if "dataset" in event:
        found.append(event["dataset"].get("facets") or {})
    return found


def corpus(fixtures: Path) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for folder in EVENT_DIRS:
        for path in sorted((fixtures / folder).glob("*.json")):
            if path.name.endswith("template.json"):
                docs: Any = food_delivery_events(fixtures)
            else:
                docs = json.loads(path.read_text())
            for i, doc in enumerate(docs if isinstance(docs, list) else [docs]):
                events.append((f"{path.relative_to(fixtures)}[{i}]", doc))
    return events


def test_every_spec_valid_event_is_accepted(fixtures_dir: Path) -> None:
    spec = SpecValidator(fixtures_dir / "openlineage/spec")
    valid = [(name, doc) for name, doc in corpus(fixtures_dir) if spec.accepts(doc)]
    assert len(valid) >= 40, "the corpus should hold plenty of valid events"
    refused = []
    for name, doc in valid:
        try:
            parse_event(doc)
        except InvalidEvent as exc:
            refused.append(f"{name}: {exc}")
    assert refused == []


NEGATIVE = {  # file -> the JSON path the 422 must name
    "event_no_run_id.json": "$.run.runId",
}
# An invalid facet costs only itself: 201, the facet dropped, the warning naming its problem.
BAD_FACET = {  # file -> the JSON path the warning must name
    "event_invalid_dataset_facet.json": "$.outputs[0].facets.ownership.owners[0].name",
    "event_invalid_input_dataset_facet.json": (
        "$.inputs[0].inputFacets.dataQualityMetrics.columnMetrics"
    ),
    "event_invalid_job_facet.json": "$.job.facets.ownership.owners[0].name",
    "event_invalid_output_dataset_facet.json": (
        "$.outputs[0].outputFacets.outputStatistics.rowCount"
    ),
    "event_invalid_run_facet.json": "$.run.facets.parent.run.runId",
}


@pytest.fixture(scope="module")
def client() -> Any:
    with local_client(create_app(in_memory=True)) as test_client:
        yield test_client


@pytest.mark.parametrize("name", sorted(NEGATIVE))
def test_negative_cases_get_a_useful_4xx(fixtures_dir: Path, client: TestClient, name: str) -> None:
    doc = json.loads((fixtures_dir / "openlineage/proxy_fluentd" / name).read_text())
    response = client.post("/api/v1/lineage", json=doc)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["path"] == NEGATIVE[name]
    assert error["reason"]
    assert error["path"] in error["message"]


@pytest.mark.parametrize("name", sorted(BAD_FACET))
def test_a_bad_facet_is_dropped_with_a_warning(
    fixtures_dir: Path, client: TestClient, name: str
) -> None:
    doc = json.loads((fixtures_dir / "openlineage/proxy_fluentd" / name).read_text())
    response = client.post("/api/v1/lineage", json=doc)
    assert response.status_code == 201
    [warning] = response.json()["warnings"]
    assert warning["path"] == BAD_FACET[name]
    assert warning["reason"]


def _downstream(events: list[dict[str, Any]], start: str) -> set[str]:
    """The dataset/job closure computed straight from the events' inputs and outputs."""
    readers: dict[str, set[str]] = defaultdict(set)
    writes: dict[str, set[str]] = defaultdict(set)
    for e in events:
        job = f"job:{e['job']['namespace']}:{e['job']['name']}"
        for ds in e.get("inputs", []):
            readers[f"dataset:{ds['namespace']}:{ds['name']}"].add(job)
        for ds in e.get("outputs", []):
            writes[job].add(f"dataset:{ds['namespace']}:{ds['name']}")
    seen: set[str] = set()
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in readers.get(node, set()) | writes.get(node, set()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    seen.discard(start)
    return seen


def test_food_delivery_seed(fixtures_dir: Path) -> None:
    events = food_delivery_events(fixtures_dir)
    with local_client(create_app(in_memory=True)) as client:
        body = client.post("/api/v1/lineage/batch", json=events).json()
        assert body["accepted"] == 26
        datasets = {
            f"dataset:{d['namespace']}:{d['name']}"
            for e in events
            for d in [*e.get("inputs", []), *e.get("outputs", [])]
        }
        jobs = {f"job:{e['job']['namespace']}:{e['job']['name']}" for e in events}
        assert (len(jobs), len(datasets)) == (13, 13)
        for node in jobs | datasets:
            assert client.get("/api/v1/nodes", params={"nodeId": node}).status_code == 200
        for dataset in sorted(datasets):
            impact = client.get(
                "/api/v1/impact", params={"nodeId": dataset, "columns": "false"}
            ).json()
            assert {n["id"] for n in impact["nodes"]} == _downstream(events, dataset), dataset
        expected_edges = set()
        for e in events:
            inputs = {(d["namespace"], d["name"]) for d in e.get("inputs", [])}
            for out in e.get("outputs", []):
                lineage = (out.get("facets") or {}).get("columnLineage")
                for field, spec in (lineage or {}).get("fields", {}).items():
                    target = f"datasetField:{out['namespace']}:{out['name']}:{field}"
                    for src in spec["inputFields"]:
                        if (src["namespace"], src["name"]) in inputs:
                            source = f"datasetField:{src['namespace']}:{src['name']}:{src['field']}"
                            expected_edges.add((source, target))
        assert len(expected_edges) > 20
        for source, target in sorted(expected_edges):
            down = client.get("/api/v1/impact", params={"nodeId": source, "depth": 1}).json()
            assert target in {n["id"] for n in down["nodes"]}, (source, target)


def test_airflow3_task_runs_link_to_dag_run(fixtures_dir: Path) -> None:
    folder = fixtures_dir / "airflow3"
    events = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    with local_client(create_app(in_memory=True)) as client:
        assert client.post("/api/v1/lineage/batch", json=events).json()["rejected"] == 0
        dag_runs = {e["run"]["runId"] for e in events if "." not in e["job"]["name"]}
        task_events = [e for e in events if "." in e["job"]["name"]]
        assert task_events
        for e in task_events:
            run = client.get("/api/v1/nodes", params={"nodeId": f"run:{e['run']['runId']}"}).json()
            parent = run["props"]["parent_run"]
            assert parent.removeprefix("run:") in dag_runs
            parent_node = client.get("/api/v1/nodes", params={"nodeId": parent}).json()
            assert (
                parent_node["props"]["job"]
                == f"job:{e['job']['namespace']}:{e['job']['name'].split('.')[0]}"
            )
        failed = next(e for e in task_events if e["eventType"] == "FAIL")
        run = client.get("/api/v1/nodes", params={"nodeId": f"run:{failed['run']['runId']}"}).json()
        assert run["props"]["state"] == "FAIL"
        assert run["props"]["error_message"]
