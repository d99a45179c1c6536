"""Project a parsed OpenLineage event onto the graph model of DESIGN.md (pure; no I/O).

    (:Dataset)-[:READ_BY]->(:Job)-[:WRITES]->(:Dataset)   (:Dataset)-[:HAS_COLUMN]->(:Column)
    (:Column)-[:DERIVES]->(:Column)   (:Run)-[:RUN_OF]->(:Job)   (:Run)-[:READ|PRODUCED]->(:Dataset)
    (:Run)-[:CHILD_OF]->(:Run)

A job or run that appears only in a `parent` facet still becomes a node.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson

from ripple.graph.delta import EdgeUpsert, GraphDelta, NodeUpsert
from ripple.ingest.event import DatasetRef, Event, JobRef, RunRef
from ripple.model import DatasetKey, EdgeKind, JobKey, NodeKind

# Among events stamped with the same time, a later lifecycle state wins.
_RANK = {None: 0, "OTHER": 0, "START": 1, "RUNNING": 2, "COMPLETE": 3, "ABORT": 3, "FAIL": 3}
TERMINAL = frozenset({"COMPLETE", "ABORT", "FAIL"})


def project(event: Event) -> GraphDelta:
    """The nodes and edges one event asserts, stamped with its time and run.

    Each node and edge appears once in the delta, however often the event mentions it."""
    time = event.event_time.isoformat(timespec="microseconds")
    run_node = f"run:{event.run.run_id}" if event.run is not None else None
    b = _Builder(GraphDelta(f"{time}|{_RANK.get(event.event_type, 0)}", run_node))
    # Like Marquez, column lineage may only cite datasets the event itself names.
    b.known = {ref.key.node_id for ref in (*event.inputs, *event.outputs)}
    job_id = _job(b, event.job) if event.job is not None else None
    if event.run is not None and job_id is not None:
        _run(b, event.run, job_id, event.event_type, time)
    for ref in event.inputs:
        ds_id = _dataset(b, ref, "input")
        if job_id is not None:
            b.edge(ds_id, EdgeKind.READ_BY, job_id)
        if run_node is not None:
            b.edge(run_node, EdgeKind.READ, ds_id)
    for ref in event.outputs:
        ds_id = _dataset(b, ref, "output")
        if job_id is not None:
            b.edge(job_id, EdgeKind.WRITES, ds_id)
        if run_node is not None:
            b.edge(run_node, EdgeKind.PRODUCED, ds_id)
            if event.event_type is not None:
                state = {"last_run": run_node, "last_run_state": event.event_type}
                b.node(ds_id, NodeKind.DATASET, state)
    return b.delta


class _Builder:
    """Collects one event's assertions, merging repeats of the same node or edge."""

    __slots__ = ("delta", "edges", "known", "nodes")

    def __init__(self, delta: GraphDelta) -> None:
        self.delta = delta
        self.nodes: dict[str, NodeUpsert] = {}
        self.edges: dict[tuple[str, str, str, str], EdgeUpsert] = {}
        self.known: set[str] = set()

    def node(self, node_id: str, kind: NodeKind, props: dict[str, Any]) -> NodeUpsert:
        node = self.nodes.get(node_id)
        if node is None:
            node = self.nodes[node_id] = NodeUpsert(node_id, kind, props)
            self.delta.nodes.append(node)
        elif props:
            node.props.update(props)
        return node

    def edge(
        self,
        src: str,
        kind: EdgeKind,
        dst: str,
        props: dict[str, Any] | None = None,
        variant: str = "",
    ) -> None:
        key = (src, kind, dst, variant)
        edge = self.edges.get(key)
        if edge is None:
            edge = self.edges[key] = EdgeUpsert(src, kind, dst, props or {}, variant)
            self.delta.edges.append(edge)
        elif props:
            edge.props = _combine(edge.props, props)

    def column(self, dataset: DatasetKey, field: str, props: dict[str, Any] | None = None) -> str:
        """A column node (with its HAS_COLUMN edge and, if need be, its dataset node)."""
        node_id = f"datasetField:{dataset.namespace}:{dataset.name}:{field}"
        node = self.nodes.get(node_id)
        if node is None:
            self.nodes[node_id] = node = NodeUpsert(node_id, NodeKind.COLUMN, props or {})
            self.delta.nodes.append(node)
            ds_id = f"dataset:{dataset.namespace}:{dataset.name}"
            if ds_id not in self.nodes:
                self.node(
                    ds_id, NodeKind.DATASET, {"namespace": dataset.namespace, "name": dataset.name}
                )
            edge = EdgeUpsert(ds_id, EdgeKind.HAS_COLUMN, node_id, {})
            self.edges[(ds_id, EdgeKind.HAS_COLUMN, node_id, "")] = edge
            self.delta.edges.append(edge)
        elif props:
            node.props.update(props)
        return node_id


def _combine(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two assertions of one column edge within an event (e.g. a filter column cited twice)."""
    subtypes = {s for p in (old, new) for s in (p.get("subtype") or "").split(",") if s}
    descriptions = [d for p in (old, new) if (d := p.get("description"))]
    return {
        "type": old.get("type"),
        "subtype": ",".join(sorted(subtypes)) or None,
        "description": "; ".join(dict.fromkeys(descriptions)) or None,
        "masking": bool(old.get("masking")) and bool(new.get("masking")),
    }


def _job(b: _Builder, job: JobRef) -> str:
    props: dict[str, Any] = {"namespace": job.key.namespace, "name": job.key.name}
    if job.job_type is not None:
        props["type"] = job.job_type
    if job.owners:
        props["owners"] = list(job.owners)
    if job.source_location is not None:
        props["source_location"] = job.source_location
    _facets(props, job.facets, "facet.")
    b.node(job.key.node_id, NodeKind.JOB, props)
    return job.key.node_id


def _run(b: _Builder, run: RunRef, job_id: str, event_type: str | None, time: str) -> None:
    run_id = f"run:{run.run_id}"
    props: dict[str, Any] = {"run_id": str(run.run_id), "job": job_id}
    if event_type is not None:
        props["state"] = event_type
        props["updated_at"] = time
        if event_type == "START":
            props["started_at"] = time
        elif event_type in TERMINAL:
            props["ended_at"] = time
    if run.nominal_start is not None:
        props["nominal_start"] = run.nominal_start.isoformat()
    if run.nominal_end is not None:
        props["nominal_end"] = run.nominal_end.isoformat()
    if run.error_message is not None:
        props["error_message"] = run.error_message
    if run.parent is not None:
        props["parent_run"] = _bare_run(b, *run.parent)
        b.edge(run_id, EdgeKind.CHILD_OF, props["parent_run"])
    if run.root is not None:
        props["root_run"] = _bare_run(b, *run.root)
    _facets(props, run.facets, "facet.")
    b.node(run_id, NodeKind.RUN, props)
    b.edge(run_id, EdgeKind.RUN_OF, job_id)
    if event_type is not None:
        b.node(job_id, NodeKind.JOB, {"last_run": run_id, "last_run_state": event_type})


def _bare_run(b: _Builder, run_id: uuid.UUID, job: JobKey) -> str:
    """A run (and its job) known only from a parent/root facet."""
    node = f"run:{run_id}"
    job_id = job.node_id
    b.node(job_id, NodeKind.JOB, {"namespace": job.namespace, "name": job.name})
    b.node(node, NodeKind.RUN, {"run_id": str(run_id), "job": job_id})
    b.edge(node, EdgeKind.RUN_OF, job_id)
    return node


def _dataset(b: _Builder, ref: DatasetRef, role: str) -> str:
    key = ref.key
    ds_id = key.node_id
    props: dict[str, Any] = {"namespace": key.namespace, "name": key.name}
    _facets(props, ref.facets, "facet.")
    _facets(props, ref.io_facets, f"{role}.")
    node = b.node(ds_id, NodeKind.DATASET, props)
    out_fields: list[str] = []
    if ref.schema is not None:
        fields = [
            {"name": f.name, "type": f.type, "description": f.description} for f in ref.schema
        ]
        props["fields"] = fields
        digest = hashlib.sha1(orjson.dumps(fields), usedforsecurity=False).hexdigest()[:16]
        props["schema_version"] = digest
        node.versions = {digest: fields}
        for f in ref.schema:
            extra = {}
            if f.type is not None:
                extra["type"] = f.type
            if f.description is not None:
                extra["description"] = f.description
            b.column(key, f.name, extra)
            out_fields.append(f.name)
    unresolved: list[str] = []
    known = b.known
    for out_field, inputs in ref.column_lineage.items():
        target = b.column(key, out_field)
        for column_input in inputs:
            source_key = column_input.field
            if f"dataset:{source_key.dataset.namespace}:{source_key.dataset.name}" not in known:
                unresolved.append(source_key.node_id)
                continue
            source = b.column(source_key.dataset, source_key.field)
            _derives(b, source, target, column_input.transformations)
    if ref.indirect_inputs:
        targets = sorted({*out_fields, *ref.column_lineage})
        for column_input in ref.indirect_inputs:
            source_key = column_input.field
            if source_key.dataset.node_id not in known:
                unresolved.append(source_key.node_id)
                continue
            source = b.column(source_key.dataset, source_key.field)
            for out_field in targets:
                _derives(b, source, b.column(key, out_field), column_input.transformations)
    if unresolved:
        # Kept visible rather than dropped silently: sources the event did not declare as inputs.
        props["unresolved_column_inputs"] = sorted(set(unresolved))
    return ds_id


def _derives(b: _Builder, source: str, target: str, transformations: tuple[Any, ...]) -> None:
    if len(transformations) == 1:
        t = transformations[0]
        props = {
            "type": t.type,
            "subtype": t.subtype,
            "description": t.description,
            "masking": t.masking,
        }
        b.edge(source, EdgeKind.DERIVES, target, props, t.type)
        return
    by_type: dict[str, list[Any]] = {}
    for t in transformations:
        by_type.setdefault(t.type, []).append(t)
    for kind, group in by_type.items():
        props = {
            "type": kind,
            "subtype": ",".join(sorted({t.subtype for t in group if t.subtype})) or None,
            "description": "; ".join(t.description for t in group if t.description) or None,
            "masking": all(t.masking for t in group),
        }
        b.edge(source, EdgeKind.DERIVES, target, props, kind)


def _facets(props: dict[str, Any], facets: dict[str, Any], prefix: str) -> None:
    for name, value in facets.items():
        if name not in ("schema", "columnLineage"):
            props[prefix + name] = value
