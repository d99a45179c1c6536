"""Project a parsed OpenLineage event onto the graph model of DESIGN.md (pure; no I/O).

    (:Dataset)-[:READ_BY]->(:Job)-[:WRITES]->(:Dataset)   (:Dataset)-[:HAS_COLUMN]->(:Column)
    (:Column)-[:DERIVES]->(:Column)   (:Run)-[:RUN_OF]->(:Job)   (:Run)-[:READ|PRODUCED]->(:Dataset)
    (:Run)-[:CHILD_OF]->(:Run)

A job or run that appears only in a `parent` facet still becomes a node. Columns, HAS_COLUMN and
DERIVES travel as ColumnFacts (a dataset's schema and column lineage), which stores materialize.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from ripple.errors import RunBoundElsewhere
from ripple.graph.delta import (
    ColumnFacts,
    EdgeUpsert,
    GraphDelta,
    LineageEntry,
    NodeUpsert,
    Schema,
)
from ripple.graph.merge import stamp
from ripple.ingest.columns import Lineage
from ripple.ingest.event import DatasetRef, Event, JobRef, RunRef
from ripple.model import START, TERMINAL, EdgeKind, Facet, JobKey, NodeKind, Prop


def project(event: Event) -> GraphDelta:
    """The nodes and edges one event asserts, stamped with its time and run.

    Each node and edge appears once in the delta, however often the event mentions it."""
    time = event.event_time.isoformat(timespec="microseconds")
    run_node = f"run:{event.run.run_id}" if event.run is not None else None
    b = _Builder(GraphDelta(stamp(time, event.event_type), run_node))
    # Like Marquez, column lineage may only cite datasets the event itself names.
    b.known = {ref.key.node_id for ref in (*event.inputs, *event.outputs)}
    job_id = _job(b, event.job) if event.job is not None else None
    if event.run is not None and job_id is not None:
        _run(b, event.run, job_id, event.event_type, time)
    for ref in event.inputs:
        ds_id = _dataset(b, ref, Prop.INPUT)
        if job_id is not None:
            b.edge(ds_id, EdgeKind.READ_BY, job_id)
        if run_node is not None:
            b.edge(run_node, EdgeKind.READ, ds_id)
    for ref in event.outputs:
        ds_id = _dataset(b, ref, Prop.OUTPUT)
        if job_id is not None:
            b.edge(job_id, EdgeKind.WRITES, ds_id)
        if run_node is not None:
            b.edge(run_node, EdgeKind.PRODUCED, ds_id)
            if event.event_type is not None:
                state = {Prop.LAST_RUN: run_node, Prop.LAST_RUN_STATE: event.event_type}
                b.node(ds_id, NodeKind.DATASET, state)
    return b.delta


def run_bindings(delta: GraphDelta) -> list[tuple[str, str]]:
    """The (run, job) node-id pairs a delta asserts: the event's own run and any run its parent
    or root facet names."""
    return [
        (node.id, node.props[Prop.JOB])
        for node in delta.nodes
        if node.kind == NodeKind.RUN and Prop.JOB in node.props
    ]


def bound_elsewhere(delta: GraphDelta, run: str, job: str, claimed: str) -> RunBoundElsewhere:
    """The rejection of an event that claims `run` for `claimed` though it belongs to `job`."""
    if run == delta.run:
        path = "$.run.runId"
    elif any(e.kind == EdgeKind.CHILD_OF and e.dst == run for e in delta.edges):
        path = "$.run.facets.parent.run.runId"
    else:
        path = "$.run.facets.root.run.runId"
    return RunBoundElsewhere(path, run.removeprefix("run:"), job, claimed)


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
            edge.props.update(props)


def _job(b: _Builder, job: JobRef) -> str:
    props: dict[str, Any] = {Prop.NAMESPACE: job.key.namespace, Prop.NAME: job.key.name}
    if job.job_type is not None:
        props[Prop.TYPE] = job.job_type
    if job.owners:
        props[Prop.OWNERS] = list(job.owners)
    if job.source_location is not None:
        props[Prop.SOURCE_LOCATION] = job.source_location
    _facets(props, job.facets, Prop.FACET)
    b.node(job.key.node_id, NodeKind.JOB, props)
    return job.key.node_id


def _run(b: _Builder, run: RunRef, job_id: str, event_type: str | None, time: str) -> None:
    run_id = f"run:{run.run_id}"
    props: dict[str, Any] = {Prop.RUN_ID: str(run.run_id), Prop.JOB: job_id}
    if event_type is not None:
        props[Prop.STATE] = event_type
        props[Prop.UPDATED_AT] = time
        if event_type == START:
            props[Prop.STARTED_AT] = time
        elif event_type in TERMINAL:
            props[Prop.ENDED_AT] = time
    if run.nominal_start is not None:
        props[Prop.NOMINAL_START] = run.nominal_start.isoformat()
    if run.nominal_end is not None:
        props[Prop.NOMINAL_END] = run.nominal_end.isoformat()
    if run.error_message is not None:
        props[Prop.ERROR_MESSAGE] = run.error_message
    if run.parent is not None:
        props[Prop.PARENT_RUN] = _bare_run(b, *run.parent)
        b.edge(run_id, EdgeKind.CHILD_OF, props[Prop.PARENT_RUN])
    if run.root is not None:
        props[Prop.ROOT_RUN] = _bare_run(b, *run.root)
    _facets(props, run.facets, Prop.FACET)
    b.node(run_id, NodeKind.RUN, props)
    b.edge(run_id, EdgeKind.RUN_OF, job_id)
    if event_type is not None:
        b.node(job_id, NodeKind.JOB, {Prop.LAST_RUN: run_id, Prop.LAST_RUN_STATE: event_type})


def _bare_run(b: _Builder, run_id: uuid.UUID, job: JobKey) -> str:
    """A run (and its job) known only from a parent/root facet."""
    node = f"run:{run_id}"
    job_id = job.node_id
    b.node(job_id, NodeKind.JOB, {Prop.NAMESPACE: job.namespace, Prop.NAME: job.name})
    b.node(node, NodeKind.RUN, {Prop.RUN_ID: str(run_id), Prop.JOB: job_id})
    b.edge(node, EdgeKind.RUN_OF, job_id)
    return node


def _dataset(b: _Builder, ref: DatasetRef, io_prefix: str) -> str:
    key = ref.key
    ds_id = key.node_id
    props: dict[str, Any] = {Prop.NAMESPACE: key.namespace, Prop.NAME: key.name}
    _facets(props, ref.facets, Prop.FACET)
    _facets(props, ref.io_facets, io_prefix)
    b.node(ds_id, NodeKind.DATASET, props)
    if ref.schema is None and ref.lineage is None:
        return ds_id
    entries: tuple[LineageEntry, ...] = ()
    digest: str | None = None
    lineage = ref.lineage
    if lineage is not None:
        entries, digest, unresolved = _resolve(lineage, ref.schema, b.known)
        if unresolved:
            # Kept visible rather than dropped silently: sources the event did not declare.
            props[Prop.UNRESOLVED] = unresolved
    b.delta.columns.append(ColumnFacts(ds_id, ref.schema, entries, digest))
    return ds_id


def _resolve(
    lineage: Lineage, schema: Schema | None, known: set[str]
) -> tuple[tuple[LineageEntry, ...], str, list[str]]:
    """Keep the entries whose source the event names; give dataset-level inputs to every column.

    The common case — everything resolved, no dataset-level inputs — returns the parsed value."""
    entries = lineage.entries
    complete = lineage.sources.issubset(known)
    if complete and not lineage.dataset_wide:
        return entries, lineage.digest, []
    unresolved = [] if complete else sorted({e[1] for e in entries if e[0] not in known})
    targets = sorted({*(f[0] for f in (schema.fields if schema else ())), *lineage.fields})
    resolved: list[LineageEntry] = []
    new = tuple.__new__  # LineageEntry(...) without the named tuple's Python-level constructor
    for entry in entries:
        src_dataset, src_column, dst_field, kind, subtype, description, masking = entry
        if src_dataset not in known:
            continue
        if dst_field is None:
            resolved.extend(
                new(
                    LineageEntry,
                    (src_dataset, src_column, target, kind, subtype, description, masking),
                )
                for target in targets
            )
        else:
            resolved.append(entry)
    basis = "|".join([lineage.digest, schema.digest if schema else "", *unresolved])
    digest = hashlib.blake2b(basis.encode(), digest_size=8).hexdigest()
    return tuple(resolved), digest, unresolved


def _facets(props: dict[str, Any], facets: dict[str, Any], prefix: str) -> None:
    for name, value in facets.items():
        if name not in _COLUMN_FACETS:
            props[prefix + name] = value


_COLUMN_FACETS = (Facet.SCHEMA, Facet.COLUMN_LINEAGE)  # column facts, not properties
