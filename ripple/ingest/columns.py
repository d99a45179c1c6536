"""A dataset's column facts — its schema and its column lineage — as content-addressed values.

Producers repeat the same schema and lineage facets in event after event (every reader of a table
re-sends its schema). Parsing a facet gives an immutable value with a stable digest of its content,
so a store can tell a re-assertion from a change in one lookup, and a `FacetMemo` lets the parser
skip validating content it has already validated. Correctness never depends on the memo.
"""

from __future__ import annotations

import hashlib
from typing import Any, NamedTuple

import orjson

from ripple.graph.codes import LINEAGE_TAG, SCHEMA_TAG
from ripple.graph.delta import LineageEntry, Schema, SchemaFields
from ripple.ingest import facets as checks
from ripple.model import DIRECT_TYPE, FIELD_PATH_SEPARATOR, INDIRECT_TYPE, DatasetKey, FieldKey


class Lineage(NamedTuple):
    entries: tuple[LineageEntry, ...]
    fields: tuple[str, ...]  # output columns the facet names
    digest: str
    sources: frozenset[str]  # the datasets its entries cite
    dataset_wide: bool  # whether some entry is a dataset-level input (dst_field None)


class FacetMemo:
    """Remembers parsed schema and lineage facets by their exact JSON (bounded; cleared when
    full). Shared by one ingest pipeline; never needed for correctness."""

    def __init__(self, capacity: int = 100_000) -> None:
        # ripple/_native.c (facet_value) reads and fills the memo through get and put.
        self._capacity = capacity
        self._seen: dict[bytes, Schema | Lineage] = {}

    def get(self, key: bytes) -> Schema | Lineage | None:
        return self._seen.get(key)

    def put(self, key: bytes, value: Schema | Lineage) -> None:
        if len(self._seen) >= self._capacity:
            self._seen.clear()
        self._seen[key] = value


def parse_schema(raw: dict[str, Any], path: str, memo: FacetMemo | None) -> Schema:
    """Validate a `schema` facet (InvalidEvent naming the path) and return its value."""
    key = SCHEMA_TAG.encode() + orjson.dumps(raw)
    found = memo.get(key) if memo is not None else None
    if isinstance(found, Schema):
        return found
    checks.check_schema(raw, path)
    schema = schema_value(tuple(_flatten(raw.get("fields") or [], "")))
    if memo is not None:
        memo.put(key, schema)
    return schema


def parse_lineage(raw: dict[str, Any], path: str, memo: FacetMemo | None) -> Lineage:
    """Validate a `columnLineage` facet (1-0 to 1-2 forms) and return its value."""
    key = LINEAGE_TAG.encode() + orjson.dumps(raw)
    found = memo.get(key) if memo is not None else None
    if isinstance(found, Lineage):
        return found
    checks.check_column_lineage(raw, path)
    entries: list[LineageEntry] = []
    for out_field, spec in raw["fields"].items():
        kind, subtype, description = _legacy(spec)
        for item in spec["inputFields"]:
            entries.extend(_entries(item, out_field, kind, subtype, description))
    for item in raw.get("dataset") or []:
        entries.extend(_entries(item, None, INDIRECT_TYPE, None, None))
    lineage = lineage_value(tuple(entries), tuple(raw["fields"]))
    if memo is not None:
        memo.put(key, lineage)
    return lineage


def schema_value(fields: SchemaFields) -> Schema:
    """A schema with its content digest (the same however the facet was parsed)."""
    return Schema(fields, digest(orjson.dumps(fields)))


def lineage_value(entries: tuple[LineageEntry, ...], fields: tuple[str, ...]) -> Lineage:
    """A lineage with its content digest (the same however the facet was parsed)."""
    return Lineage(
        entries,
        fields,
        digest(orjson.dumps([list(map(tuple, entries)), fields])),
        frozenset([e[0] for e in entries]),
        any(e[2] is None for e in entries),
    )


def _flatten(items: list[dict[str, Any]], prefix: str) -> list[tuple[str, str | None, str | None]]:
    flat: list[tuple[str, str | None, str | None]] = []
    for item in items:
        name = prefix + item["name"]
        flat.append((name, item.get("type"), item.get("description")))
        nested = item.get("fields")
        if nested:
            flat.extend(_flatten(nested, name + FIELD_PATH_SEPARATOR))
    return flat


def _legacy(spec: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """The pre-1-1 form keeps one transformationType/Description per output field."""
    kind = spec.get("transformationType")
    description = spec.get("transformationDescription")
    if isinstance(kind, str) and kind.upper() == INDIRECT_TYPE:
        return INDIRECT_TYPE, None, description
    return DIRECT_TYPE, kind or None, description


def _entries(
    item: dict[str, Any],
    dst_field: str | None,
    kind: str,
    subtype: str | None,
    description: str | None,
) -> list[LineageEntry]:
    namespace, name, field = item["namespace"], item["name"], item["field"]
    key = DatasetKey(namespace, name)
    dataset, column = key.node_id, FieldKey(key, field).node_id
    transformations = item.get("transformations")
    if not transformations:
        return [LineageEntry(dataset, column, dst_field, kind, subtype, description, False)]
    return [
        LineageEntry(
            dataset,
            column,
            dst_field,
            str(t.get("type") or kind).upper(),
            t.get("subtype"),
            t.get("description"),
            bool(t.get("masking")),
        )
        for t in transformations
    ]


def digest(data: bytes) -> str:
    """The content digest of a facet value's canonical JSON (ripple/_native.c calls it too)."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()
