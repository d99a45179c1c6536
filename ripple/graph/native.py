"""Ingest's hottest loops in C (ripple/_native.c), when the install could build them.

`NATIVE` is the loaded module, or None: no C compiler at install time, or `RIPPLE_NATIVE=0` in
the environment. Either way the answers are the same; tests/unit/test_native.py checks that the
C loops and their Python twins agree (the header of ripple/_native.c lists the twins).

This is the one place the C module is configured: `_native.setup(...)` below hands it every
fact it uses — codes, kinds, id prefixes, stamps, run states and ranks, property names, facet
names and the OpenLineage keys it reads — from the Python modules that hold them, so the C file
keeps no copy. The parser's own helpers (ingest/ is a layer above this one) travel with each
call instead: see `project(event, memo, parser)` in ripple/_native.pyi.
"""

from __future__ import annotations

from types import ModuleType

from ripple.config import native_loops_enabled
from ripple.graph.codes import (
    COLUMN,
    DIRECT,
    EDGE_CODES,
    HAS_COLUMN,
    ID_PREFIX,
    INDIRECT,
    LINEAGE_TAG,
    NODE_CODE,
    NODE_CODE_OF_PREFIX,
    NODE_KINDS,
    SCHEMA_TAG,
    kind_of_id,
)
from ripple.graph.delta import ColumnFacts, EdgeUpsert, GraphDelta, LineageEntry, NodeUpsert, Schema
from ripple.graph.merge import RANK, STAMP_SEPARATOR, wins
from ripple.model import (
    CHECKED_FACETS,
    DIRECT_TYPE,
    ESCAPED,
    EVENT_TYPES,
    FIELD_PATH_SEPARATOR,
    ID_SEPARATOR,
    INDIRECT_TYPE,
    START,
    TERMINAL,
    EdgeKind,
    Facet,
    Key,
    NodeKind,
    Prop,
    field_part,
)

# The facets the C projection reads itself, by where they appear; it declines an event with any
# other checked facet (the Python parser checks its shape and names any problem).
_READ_IN_C = {
    "run": {Facet.NOMINAL_TIME},
    "job": {Facet.JOB_TYPE},
    "dataset": {Facet.SCHEMA, Facet.COLUMN_LINEAGE, Facet.SYMLINKS},
    "input": set(),
    "output": {Facet.OUTPUT_STATISTICS},
}


def _declined(where: str) -> frozenset[str]:
    return CHECKED_FACETS[where] - _READ_IN_C[where]


def _load() -> ModuleType | None:
    if not native_loops_enabled():
        return None
    try:
        from ripple import _native
    except ImportError:
        return None
    _native.setup(
        # the in-memory graph (graph/codes.py, graph/delta.py) and the merge rule (graph/merge.py)
        dataset_code=NODE_CODE[NodeKind.DATASET],
        column_code=COLUMN,
        has_column_code=HAS_COLUMN,
        direct_code=DIRECT,
        indirect_code=INDIRECT,
        node_kinds=NODE_KINDS,
        edge_codes=EDGE_CODES,
        prefix_codes=NODE_CODE_OF_PREFIX,
        kind_of=kind_of_id,
        field_part=field_part,
        wins=wins,
        lineage_entry=LineageEntry,
        schema_type=Schema,
        delta=(GraphDelta, ("stamp", "run", "nodes", "edges", "columns")),
        node=(NodeUpsert, ("id", "kind", "props")),
        edge=(EdgeUpsert, ("src", "kind", "dst", "props", "variant")),
        facts=(ColumnFacts, ("dataset", "schema", "lineage", "lineage_digest")),
        id_separator=ID_SEPARATOR,
        escaped=ESCAPED,
        dataset_prefix=ID_PREFIX[NodeKind.DATASET],
        column_prefix=ID_PREFIX[NodeKind.COLUMN],
        job_prefix=ID_PREFIX[NodeKind.JOB],
        run_prefix=ID_PREFIX[NodeKind.RUN],
        stamp_separator=STAMP_SEPARATOR,
        schema_tag=SCHEMA_TAG,
        lineage_tag=LINEAGE_TAG,
        direct_type=DIRECT_TYPE,
        indirect_type=INDIRECT_TYPE,
        field_path_separator=FIELD_PATH_SEPARATOR,
        # what the projection asserts (ingest/projection.py), from model.py and graph/merge.py
        job_kind=NodeKind.JOB,
        run_kind=NodeKind.RUN,
        dataset_kind=NodeKind.DATASET,
        read_by_kind=EdgeKind.READ_BY,
        writes_kind=EdgeKind.WRITES,
        run_of_kind=EdgeKind.RUN_OF,
        read_kind=EdgeKind.READ,
        produced_kind=EdgeKind.PRODUCED,
        event_types=tuple((t, RANK[t], t == START, t in TERMINAL) for t in EVENT_TYPES),
        prop_namespace=Prop.NAMESPACE,
        prop_name=Prop.NAME,
        prop_type=Prop.TYPE,
        prop_run_id=Prop.RUN_ID,
        prop_job=Prop.JOB,
        prop_state=Prop.STATE,
        prop_updated_at=Prop.UPDATED_AT,
        prop_started_at=Prop.STARTED_AT,
        prop_ended_at=Prop.ENDED_AT,
        prop_nominal_start=Prop.NOMINAL_START,
        prop_nominal_end=Prop.NOMINAL_END,
        prop_last_run=Prop.LAST_RUN,
        prop_last_run_state=Prop.LAST_RUN_STATE,
        prop_unresolved=Prop.UNRESOLVED,
        prop_facet=Prop.FACET,
        prop_input=Prop.INPUT,
        prop_output=Prop.OUTPUT,
        facet_schema=Facet.SCHEMA,
        facet_column_lineage=Facet.COLUMN_LINEAGE,
        facet_job_type=Facet.JOB_TYPE,
        facet_nominal_time=Facet.NOMINAL_TIME,
        facet_output_statistics=Facet.OUTPUT_STATISTICS,
        facet_symlinks=Facet.SYMLINKS,
        declined_run_facets=_declined("run"),
        declined_job_facets=_declined("job"),
        declined_dataset_facets=_declined("dataset"),
        declined_input_facets=_declined("input"),
        declined_output_facets=_declined("output"),
        # the OpenLineage keys the fast parser's structs and the facet readers read (model.Key)
        key_event_time=Key.EVENT_TIME,
        key_event_type=Key.EVENT_TYPE,
        key_run=Key.RUN,
        key_job=Key.JOB,
        key_inputs=Key.INPUTS,
        key_outputs=Key.OUTPUTS,
        key_dataset=Key.DATASET,
        key_run_id=Key.RUN_ID,
        key_namespace=Key.NAMESPACE,
        key_name=Key.NAME,
        key_facets=Key.FACETS,
        key_input_facets=Key.INPUT_FACETS,
        key_output_facets=Key.OUTPUT_FACETS,
        key_fields=Key.FIELDS,
        key_type=Key.TYPE,
        key_description=Key.DESCRIPTION,
        key_input_fields=Key.INPUT_FIELDS,
        key_transformation_type=Key.TRANSFORMATION_TYPE,
        key_transformation_description=Key.TRANSFORMATION_DESCRIPTION,
        key_field=Key.FIELD,
        key_transformations=Key.TRANSFORMATIONS,
        key_subtype=Key.SUBTYPE,
        key_masking=Key.MASKING,
        key_identifiers=Key.IDENTIFIERS,
        key_job_type=Key.JOB_TYPE,
        key_processing_type=Key.PROCESSING_TYPE,
        key_integration=Key.INTEGRATION,
        key_nominal_start_time=Key.NOMINAL_START_TIME,
        key_nominal_end_time=Key.NOMINAL_END_TIME,
        key_row_count=Key.ROW_COUNT,
        key_size=Key.SIZE,
        key_file_count=Key.FILE_COUNT,
    )
    return _native


NATIVE = _load()
