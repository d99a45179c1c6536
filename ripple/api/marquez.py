"""Marquez's lineage response shapes (`GET /api/v1/lineage`, `GET /api/v1/column-lineage`), built
from Ripple's directed walks so that Marquez clients read Ripple's answers unchanged."""

from __future__ import annotations

import asyncio
from typing import Any

from ripple.graph.budget import Budget
from ripple.graph.queries import NodeRef, names, node, resolve
from ripple.graph.store import (
    Closure,
    Direction,
    Edge,
    GraphStore,
    NodeRecord,
    WalkOptions,
    partial_fields,
)
from ripple.model import EdgeKind, FieldKey, NodeKind, kind_of, parse_node_id

_LINEAGE_EDGES = {EdgeKind.READ_BY.value, EdgeKind.WRITES.value}
_MARQUEZ_TYPE = {
    NodeKind.DATASET.value: "DATASET",
    NodeKind.JOB.value: "JOB",
    NodeKind.COLUMN.value: "DATASET_FIELD",
    NodeKind.RUN.value: "RUN",
}


async def lineage(
    store: GraphStore, ref: NodeRef, depth: int, budget: Budget | None = None
) -> dict[str, Any]:
    """Marquez's `GET /api/v1/lineage` shape, but directed: upstream and downstream walks only.

    Both walks share `budget`; an answer it cut says `"partial": true` and why."""
    node_id = await resolve(store, ref)
    if kind_of(node_id) is NodeKind.COLUMN:
        return await column_lineage(
            store, parse_node_id(node_id), depth, with_downstream=True, budget=budget
        )
    options = WalkOptions(depth=2 * depth, limit=100_000, columns=False, budget=budget)
    down = await store.walk(node_id, Direction.DOWNSTREAM, options)
    up = await store.walk(node_id, Direction.UPSTREAM, options)
    ids = {node_id, *(n.id for n in down.nodes), *(n.id for n in up.nodes)}
    ids = {i for i in ids if kind_of(i) in (NodeKind.DATASET, NodeKind.JOB)}
    edges = [e for e in (*down.edges, *up.edges) if e.kind in _LINEAGE_EDGES]
    return await _graph(store, ids, edges, _partial_reason([down, up]))


async def column_lineage(
    store: GraphStore,
    ref: NodeRef,
    depth: int,
    *,
    with_downstream: bool,
    budget: Budget | None = None,
) -> dict[str, Any]:
    """Marquez's `GET /api/v1/column-lineage` shape, keeping 1-2-0 transformations per edge.

    A dataset node id means all of its columns, as in Marquez — the columns of every name it
    has (graph/aliases.py). Every column's walks share `budget`; once it is spent the columns
    not walked yet are left out, flagged partial."""
    node_id = await resolve(store, ref)
    options = WalkOptions(depth=depth, limit=100_000, columns=True, budget=budget)
    roots = [node_id]
    if kind_of(node_id) is NodeKind.DATASET:
        await node(store, node_id)  # NotFound for an unknown dataset
        canonical, aliases = await names(store, node_id)
        around = await store.neighbourhood([canonical, *aliases])
        roots = sorted({e.dst for e in around if e.kind == "HAS_COLUMN"})
    ids: set[str] = set()
    edges: list[Edge] = []
    walked: list[Closure] = []
    reason = None
    for root in roots:
        if budget is not None and budget.is_exhausted():
            reason = budget.reason
            break
        walks = [await store.walk(root, Direction.UPSTREAM, options)]
        if with_downstream:
            walks.append(await store.walk(root, Direction.DOWNSTREAM, options))
        walked.extend(walks)
        for closure in walks:
            ids.add(root)
            ids.update(n.id for n in closure.nodes if n.kind == NodeKind.COLUMN.value)
            edges.extend(e for e in closure.edges if e.kind == EdgeKind.DERIVES.value)
    return await _graph(store, ids, edges, reason or _partial_reason(walked))


def _partial_reason(walks: list[Closure]) -> str | None:
    return next((w.partial_reason for w in walks if w.partial_reason is not None), None)


def _field_ref(edge: Edge) -> dict[str, Any]:
    key = parse_node_id(edge.src)
    assert isinstance(key, FieldKey)
    return {
        "namespace": key.dataset.namespace,
        "dataset": key.dataset.name,
        "field": key.field,
        "transformationType": edge.variant,
    }


async def _graph(
    store: GraphStore, ids: set[str], edges: list[Edge], partial_reason: str | None
) -> dict[str, Any]:
    records = await store.nodes(sorted(ids))
    # The records are copies and the edges the walks' own: shaping a large answer runs in a
    # worker thread, off the event loop.
    answer = await asyncio.to_thread(_shape, records, ids, edges)
    # Marquez's shape exactly when complete; a cut answer says so, as Ripple's own answers do.
    return answer if partial_reason is None else {**answer, **partial_fields(partial_reason)}


def _shape(records: dict[str, NodeRecord], ids: set[str], edges: list[Edge]) -> dict[str, Any]:
    inbound: dict[str, list[Edge]] = {i: [] for i in ids}
    outbound: dict[str, list[Edge]] = {i: [] for i in ids}
    seen: set[tuple[str, str, str, str]] = set()
    for edge in edges:
        identity = (edge.src, edge.kind, edge.dst, edge.variant)
        if edge.src in ids and edge.dst in ids and identity not in seen:
            seen.add(identity)
            outbound[edge.src].append(edge)
            inbound[edge.dst].append(edge)
    graph = [_marquez_node(records[i], inbound[i], outbound[i]) for i in sorted(records)]
    return {"graph": graph}


def _marquez_node(record: NodeRecord, inbound: list[Edge], outbound: list[Edge]) -> dict[str, Any]:
    return {
        "id": record.id,
        "type": _MARQUEZ_TYPE.get(record.kind, record.kind.upper()),
        "data": _marquez_data(record, inbound),
        "inEdges": _edge_list(inbound),
        "outEdges": _edge_list(outbound),
    }


def _edge_list(edges: list[Edge]) -> list[dict[str, Any]]:
    unique = sorted({(e.src, e.dst): e for e in edges}.values(), key=lambda e: (e.src, e.dst))
    out = []
    for e in unique:
        item: dict[str, Any] = {"origin": e.src, "destination": e.dst}
        if e.kind == EdgeKind.DERIVES.value:
            item["transformations"] = sorted(
                {x.variant for x in edges if (x.src, x.dst) == (e.src, e.dst)}
            )
        out.append(item)
    return out


def _marquez_data(record: NodeRecord, inbound: list[Edge]) -> dict[str, Any]:
    p = record.props
    common = {"createdAt": record.first_seen, "updatedAt": record.last_seen}
    if record.kind == NodeKind.DATASET.value:
        return {
            "id": {"namespace": p.get("namespace"), "name": p.get("name")},
            "type": "DB_TABLE",
            "name": p.get("name"),
            "physicalName": p.get("name"),
            "namespace": p.get("namespace"),
            "fields": [
                {
                    "name": f["name"],
                    "type": f.get("type"),
                    "tags": [],
                    "description": f.get("description"),
                }
                for f in p.get("fields") or []
            ],
            "lastLifecycleState": p.get("last_run_state"),
            "facets": {k[6:]: v for k, v in p.items() if k.startswith("facet.")},
            **common,
        }
    if record.kind == NodeKind.JOB.value:
        return {
            "id": {"namespace": p.get("namespace"), "name": p.get("name")},
            "type": p.get("type") or "BATCH",
            "name": p.get("name"),
            "namespace": p.get("namespace"),
            "location": p.get("source_location"),
            "latestRun": {"id": p.get("last_run"), "state": p.get("last_run_state")},
            "facets": {k[6:]: v for k, v in p.items() if k.startswith("facet.")},
            **common,
        }
    if record.kind == NodeKind.COLUMN.value:
        column = parse_node_id(record.id)
        assert isinstance(column, FieldKey)
        dataset, field = column.dataset, column.field
        inputs = [_field_ref(e) for e in inbound if e.kind == EdgeKind.DERIVES.value]
        inputs.sort(
            key=lambda f: (f["namespace"], f["dataset"], f["field"], f["transformationType"])
        )
        return {
            "namespace": dataset.namespace,
            "dataset": dataset.name,
            "field": field,
            "fieldType": p.get("type"),
            "inputFields": inputs,
            **common,
        }
    return {**p, **common}
