"""Marquez dataset records project onto the Dataset node's tags and descriptions, ordered against
events by Marquez's updatedAt, idempotently and in any order."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ripple.errors import InvalidEvent
from ripple.graph.memory import MemoryGraph
from ripple.ingest import pipeline, records
from ripple.ingest.event import parse_event
from ripple.ingest.marquez_records import KIND, has_metadata, project_dataset
from ripple.ingest.pipeline import prepare_record
from ripple.ingest.projection import project
from ripple.model import NodeKind
from tests.unit.builders import TIME, dataset, ds, run_event


def record(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "rippleRecord": KIND,
        "source": "http://marquez:5000",
        "namespace": "db",
        "name": "orders",
        "updatedAt": "2026-03-01T10:00:00.123456Z",
        "tags": ["PII", "GOLD", "PII"],
        "description": "All orders.",
        "fields": [
            {"name": "email", "tags": ["PII"], "description": "Who ordered."},
            {"name": "id", "tags": [], "description": None},
            {"name": "total", "description": ""},
        ],
    }
    doc.update(changes)
    return doc


def props_of(graph: MemoryGraph, node_id: str) -> dict[str, Any]:
    found = graph.record(node_id)
    assert found is not None
    return found.props


def test_projects_tags_and_descriptions_onto_the_dataset() -> None:
    delta = project_dataset(record())
    assert delta.stamp == "2026-03-01T10:00:00.123456+00:00|0"
    assert delta.run is None and not delta.edges and not delta.columns
    [node] = delta.nodes
    assert (node.id, node.kind) == (ds("orders"), NodeKind.DATASET)
    assert node.props == {
        "namespace": "db",
        "name": "orders",
        "tags": ["GOLD", "PII"],
        "description": "All orders.",
        "field_tags": {"email": ["PII"]},
        "field_descriptions": {"email": "Who ordered."},
    }


def test_no_tags_and_no_description_clear_what_an_older_record_set() -> None:
    bare = record(tags=None, description="", fields=None, updatedAt="2026-03-02T00:00:00Z")
    [node] = project_dataset(bare).nodes
    assert node.props["tags"] == [] and node.props["description"] is None
    assert node.props["field_tags"] == {} and node.props["field_descriptions"] == {}
    graph = MemoryGraph()
    graph.apply(project_dataset(bare))
    graph.apply(project_dataset(record()))  # older: loses to the newer, emptier one
    assert props_of(graph, ds("orders"))["tags"] == []


def test_records_in_any_order_any_number_of_times_give_one_graph() -> None:
    deltas = [
        lambda: project(parse_event(run_event("load", outputs=[dataset("orders", ["id"])]))),
        lambda: project_dataset(record(tags=["OLD"], updatedAt="2026-03-01T09:00:00Z")),
        lambda: project_dataset(record(tags=["NEW"], updatedAt="2026-03-01T11:00:00Z")),
    ]
    dumps = []
    for order in itertools.permutations(deltas):
        graph = MemoryGraph()
        for make in (*order, order[0]):
            graph.apply(make())
        dumps.append(graph.dump())
    assert all(d == dumps[0] for d in dumps)
    assert dumps[0]["nodes"][ds("orders")]["props"]["tags"] == ["NEW"]


def test_a_record_at_the_last_event_time_leaves_the_dataset_as_events_made_it() -> None:
    event = run_event("load", outputs=[dataset("orders", ["id", "email"])])
    alone = MemoryGraph()
    alone.apply(project(parse_event(event)))
    graph = MemoryGraph()
    graph.apply(project(parse_event(event)))
    graph.apply(project_dataset(record(updatedAt=TIME)))
    before, after = alone.dump(), graph.dump()
    for key in ("tags", "description", "field_tags", "field_descriptions"):
        after["nodes"][ds("orders")]["props"].pop(key)
    assert after == before  # same first/last seen, last run, state, columns


def test_dispatched_by_kind_from_the_log() -> None:
    prepared = prepare_record(KIND, {k: v for k, v in record().items() if k != "rippleRecord"})
    assert prepared.error is None and prepared.body is not None
    assert records.is_record(prepared.body)
    assert prepared.delta == pipeline.project_record(prepared.body)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"updatedAt": "yesterday"}, "updatedAt"),
        ({"updatedAt": None}, "updatedAt"),
        ({"name": ""}, "name"),
        ({"tags": "PII"}, "tags"),
        ({"fields": [{"tags": []}]}, "name"),
    ],
)
def test_a_malformed_record_is_an_invalid_event(changes: dict[str, Any], says: str) -> None:
    body = records.encode(KIND, {k: v for k, v in record(**changes).items() if k != "rippleRecord"})
    with pytest.raises(InvalidEvent, match=says):
        pipeline.project_record(body)


def test_has_metadata() -> None:
    assert has_metadata(record())
    assert has_metadata(record(tags=[], description=None, fields=[{"name": "a", "tags": ["X"]}]))
    assert not has_metadata(record(tags=[], description=None, fields=[{"name": "a", "tags": []}]))
