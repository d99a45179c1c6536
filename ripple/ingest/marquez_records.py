"""Marquez dataset records: the tags and descriptions one Marquez holds for one dataset (pure).

A record is what `ripple sync marquez` read from Marquez's datasets API for one dataset:

    {"rippleRecord": "marquez.dataset", "source": <Marquez URL>, "namespace": …, "name": …,
     "updatedAt": <Marquez's updatedAt>, "tags": [...], "description": … | null,
     "fields": [{"name": …, "tags": [...], "description": … | null}, ...]}

It projects onto the Dataset node's properties `tags` (sorted), `description`, `field_tags`
(field → sorted tags, fields without tags left out) and `field_descriptions` (field → text, fields
without one left out). Per-field values stay on the dataset rather than on Column nodes: a column's
properties are derived from its dataset's schema versions in both stores (graph/columns.py), so
there is no per-column property a record could set.

The delta is stamped with Marquez's `updatedAt` at rank 0, so it orders against events like an
event of that time: an event asserting the same property later wins, and a record never moves a
dataset's `last_seen` past the events Marquez itself had seen when it last changed the dataset.
"""

from __future__ import annotations

from typing import Any

from ripple.graph.delta import GraphDelta, NodeUpsert
from ripple.ingest.fields import parse_timestamp
from ripple.ingest.records import Projector
from ripple.model import DatasetKey, NodeKind

KIND = "marquez.dataset"


def project_dataset(doc: dict[str, Any]) -> GraphDelta:
    """The Dataset node upsert of one `marquez.dataset` record (ValueError/KeyError if bad)."""
    namespace = _text(doc["namespace"], "namespace")
    name = _text(doc["name"], "name")
    updated = parse_timestamp(_text(doc["updatedAt"], "updatedAt"))
    if updated is None:
        raise ValueError(f"updatedAt is not an ISO-8601 time: {doc['updatedAt']!r}")
    field_tags: dict[str, list[str]] = {}
    field_descriptions: dict[str, str] = {}
    for field in doc.get("fields") or []:
        field_name = _text(field["name"], "fields[].name")
        tags = _tags(field.get("tags"))
        if tags:
            field_tags[field_name] = tags
        description = field.get("description")
        if isinstance(description, str) and description:
            field_descriptions[field_name] = description
    description = doc.get("description")
    props: dict[str, Any] = {
        "namespace": namespace,
        "name": name,
        "tags": _tags(doc.get("tags")),
        "description": description if isinstance(description, str) and description else None,
        "field_tags": field_tags,
        "field_descriptions": field_descriptions,
    }
    delta = GraphDelta(f"{updated.isoformat(timespec='microseconds')}|0", None)
    delta.nodes.append(NodeUpsert(DatasetKey(namespace, name).node_id, NodeKind.DATASET, props))
    return delta


def has_metadata(doc: dict[str, Any]) -> bool:
    """Whether a record would tell the graph anything beyond the dataset's existence."""
    if doc.get("tags") or doc.get("description"):
        return True
    return any(f.get("tags") or f.get("description") for f in doc.get("fields") or [])


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ValueError(f"tags must be a list of strings, got {value!r}")
    return sorted(set(value))


PROJECTORS: dict[str, Projector] = {KIND: project_dataset}
