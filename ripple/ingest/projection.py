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
from ripple.model import EdgeKind, FieldKey, JobKey, NodeKind

# Among events stamped with the same time, a later lifecycle state wins.
_RANK = {None: 0, "OTHER": 0, "START": 1, "RUNNING": 2, "COMPLETE": 3, "ABORT": 3, "FAIL": 3}
TERMINAL = frozenset({"COMPLETE", "ABORT", "FAIL"})


def project(event: Event) -> GraphDelta:
    """The nodes and edges one event asserts, stamped with its time and run."""
    time = event.event_time.isoformat(timespec="microseconds")
    run_node = f"run:{event.run.run_id}" if event.run is not None else None
    delta = GraphDelta(f"{time}|{_RANK.get(event.event_type, 0)}", run_node)
    seen: set[str] = set()  # dataset nodes already upserted by this delta
    # Like Marquez, column lineage may only cite datasets the event itself names.
    known = {ref.key.node_id for ref in (*event.inputs, *event.outputs)}
    job_id = _job(delta, event.job) if event.job is not None else None
    if event.run is not None and job_id is not None:
        _run(delta, event.run, job_id, event.event_type, time)
    for ref in event.inputs:
        ds_id = _dataset(delta, ref, "input", seen, known)
        if job_id is not None:
            delta.edges.append(EdgeUpsert(ds_id, EdgeKind.READ_BY, job_id))
        if run_node is not None:
            delta.edges.append(EdgeUpsert(run_node, EdgeKind.READ, ds_id))
    for ref in event.outputs:
        ds_id = _dataset(delta, ref, "output", seen, known)
        if job_id is not None:
            delta.edges.append(EdgeUpsert(job_id, EdgeKind.WRITES, ds_id))
        if run_node is not None:
            delta.edges.append(EdgeUpsert(run_node, EdgeKind.PRODUCED, ds_id))
            if event.event_type is not None:
                state = {"last_run": run_node, "last_run_state": event.event_type}
                delta.nodes.append(NodeUpsert(ds_id, NodeKind.DATASET, state))
    return delta


def _job(delta: GraphDelta, job: JobRef) -> str:
    props: dict[str, Any] = {"namespace": job.key.namespace, "name": job.key.name}
    if job.job_type is not None:
        props["type"] = job.job_type
    if job.owners:
        props["owners"] = list(job.owners)
    if job.source_location is not None:
        props["source_location"] = job.source_location
    _facets(props, job.facets, "facet.")
    delta.nodes.append(NodeUpsert(job.key.node_id, NodeKind.JOB, props))
    return job.key.node_id


def _run(delta: GraphDelta, run: RunRef, job_id: str, event_type: str | None, time: str) -> None:
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
        props["parent_run"] = _bare_run(delta, *run.parent)
        delta.edges.append(EdgeUpsert(run_id, EdgeKind.CHILD_OF, props["parent_run"]))
    if run.root is not None:
        props["root_run"] = _bare_run(delta, *run.root)
    _facets(props, run.facets, "facet.")
    delta.nodes.append(NodeUpsert(run_id, NodeKind.RUN, props))
    delta.edges.append(EdgeUpsert(run_id, EdgeKind.RUN_OF, job_id))
    if event_type is not None:
        delta.nodes.append(
            NodeUpsert(job_id, NodeKind.JOB, {"last_run": run_id, "last_run_state": event_type})
        )


def _bare_run(delta: GraphDelta, run_id: uuid.UUID, job: JobKey) -> str:
    """A run (and its job) known only from a parent/root facet."""
    node = f"run:{run_id}"
    job_id = job.node_id
    delta.nodes.append(
        NodeUpsert(job_id, NodeKind.JOB, {"namespace": job.namespace, "name": job.name})
    )
    delta.nodes.append(NodeUpsert(node, NodeKind.RUN, {"run_id": str(run_id), "job": job_id}))
    delta.edges.append(EdgeUpsert(node, EdgeKind.RUN_OF, job_id))
    return node


def _dataset(delta: GraphDelta, ref: DatasetRef, role: str, seen: set[str], known: set[str]) -> str:
    ds_id = ref.key.node_id
    seen.add(ds_id)
    props: dict[str, Any] = {"namespace": ref.key.namespace, "name": ref.key.name}
    _facets(props, ref.facets, "facet.")
    _facets(props, ref.io_facets, f"{role}.")
    node = NodeUpsert(ds_id, NodeKind.DATASET, props)
    delta.nodes.append(node)
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
            _column(delta, FieldKey(ref.key, f.name), seen, type=f.type, description=f.description)
            out_fields.append(f.name)
    unresolved: list[str] = []
    for out_field, inputs in ref.column_lineage.items():
        target = _column(delta, FieldKey(ref.key, out_field), seen)
        for column_input in inputs:
            if column_input.field.dataset.node_id not in known:
                unresolved.append(column_input.field.node_id)
                continue
            source = _column(delta, column_input.field, seen)
            _derives(delta, source, target, column_input.transformations)
    if ref.indirect_inputs:
        targets = {*out_fields, *ref.column_lineage}
        for column_input in ref.indirect_inputs:
            if column_input.field.dataset.node_id not in known:
                unresolved.append(column_input.field.node_id)
                continue
            source = _column(delta, column_input.field, seen)
            for out_field in sorted(targets):
                target = FieldKey(ref.key, out_field).node_id
                _derives(delta, source, target, column_input.transformations)
    if unresolved:
        # Kept visible rather than dropped silently: sources the event did not declare as inputs.
        props["unresolved_column_inputs"] = sorted(set(unresolved))
    return ds_id


def _column(delta: GraphDelta, key: FieldKey, seen: set[str], **extra: str | None) -> str:
    node_id = key.node_id
    dataset = key.dataset
    props: dict[str, Any] = {"dataset": dataset.node_id, "name": key.field}
    props.update({k: v for k, v in extra.items() if v is not None})
    delta.nodes.append(NodeUpsert(node_id, NodeKind.COLUMN, props))
    if dataset.node_id not in seen:
        seen.add(dataset.node_id)
        delta.nodes.append(
            NodeUpsert(
                dataset.node_id,
                NodeKind.DATASET,
                {"namespace": dataset.namespace, "name": dataset.name},
            )
        )
    delta.edges.append(EdgeUpsert(dataset.node_id, EdgeKind.HAS_COLUMN, node_id))
    return node_id


def _derives(delta: GraphDelta, source: str, target: str, transformations: tuple[Any, ...]) -> None:
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
        delta.edges.append(EdgeUpsert(source, EdgeKind.DERIVES, target, props, variant=kind))


def _facets(props: dict[str, Any], facets: dict[str, Any], prefix: str) -> None:
    for name, value in facets.items():
        if name not in ("schema", "columnLineage"):
            props[prefix + name] = value
