"""Identifiers of the lineage graph and their one canonical string form (Marquez's node ids).

`dataset:<namespace>:<name>`, `job:<namespace>:<name>`, `run:<uuid>`,
`datasetField:<namespace>:<dataset>:<field>`, plus Ripple's own `dag:<namespace>:<dag_id>` and
`task:<namespace>:<dag_id>.<task_id>`.
Namespaces follow the OpenLineage naming spec and may hold `:` and `/` (`postgres://db:5432`), so
parsing follows Marquez's rule: a `:` followed by `//` or by a digit belongs to the namespace.

That text alone can name two pairs (`dataset:team:b:c` is both (`team:b`, `c`) and (`team`,
`b:c`)), so a node's id — its key in every store — is the Marquez id only when the Marquez id
reads back as the same pair, which is nearly always. Otherwise the namespace is escaped after a
`~` (`%` as `%25`, `:` as `%3A`): (`team:b`, `c`) is `dataset:~team%3Ab:c`. A column's id is its
dataset's id plus `:<field>`, the field escaped the same way when it holds a `:` or starts with
`~`. So ids are injective; `readings` lists every pair a Marquez-style text may mean.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ripple.errors import InvalidNodeId


class NodeKind(StrEnum):
    DATASET = "dataset"
    COLUMN = "datasetField"
    JOB = "job"
    RUN = "run"
    DAG = "dag"
    TASK = "task"


class EdgeKind(StrEnum):
    READ_BY = "READ_BY"  # Dataset -> Job
    WRITES = "WRITES"  # Job -> Dataset
    HAS_COLUMN = "HAS_COLUMN"  # Dataset -> Column
    DERIVES = "DERIVES"  # Column -> Column
    RUN_OF = "RUN_OF"  # Run -> Job
    READ = "READ"  # Run -> Dataset
    PRODUCED = "PRODUCED"  # Run -> Dataset
    CHILD_OF = "CHILD_OF"  # Run -> Run (parent)
    CONTAINS = "CONTAINS"  # AirflowDag -> AirflowTask
    IMPLEMENTS = "IMPLEMENTS"  # AirflowTask -> Job
    PRECEDES = "PRECEDES"  # AirflowTask -> AirflowTask
    ALIAS_OF = "ALIAS_OF"  # Dataset -> Dataset: another name of the same data (ingest/aliases.py)


@dataclass(frozen=True, slots=True)
class DatasetKey:
    namespace: str
    name: str

    @property
    def node_id(self) -> str:
        return "dataset:" + pair_body(self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class JobKey:
    namespace: str
    name: str

    @property
    def node_id(self) -> str:
        return "job:" + pair_body(self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class FieldKey:
    dataset: DatasetKey
    field: str

    @property
    def node_id(self) -> str:
        body = pair_body(self.dataset.namespace, self.dataset.name)
        return f"datasetField:{body}:{field_part(self.field)}"


@dataclass(frozen=True, slots=True)
class RunId:
    value: uuid.UUID

    @property
    def node_id(self) -> str:
        return f"run:{self.value}"


@dataclass(frozen=True, slots=True)
class DagKey:
    namespace: str
    dag_id: str

    @property
    def node_id(self) -> str:
        return f"dag:{self.namespace}:{self.dag_id}"


@dataclass(frozen=True, slots=True)
class TaskKey:
    namespace: str
    dag_id: str
    task_id: str

    @property
    def node_id(self) -> str:
        return f"task:{self.namespace}:{self.dag_id}.{self.task_id}"


NodeKey = DatasetKey | JobKey | FieldKey | RunId | DagKey | TaskKey

ID_SEPARATOR = ":"  # between a node id's kind and its parts, as in the forms above
FIELD_PATH_SEPARATOR = "."  # a nested schema field's name is `parent.child`
ESCAPED = "~"  # starts an id's escaped namespace, or an escaped field

# A ':' that starts '//' (scheme://) or a digit (host:port) is part of a namespace, not a separator.
_SEPARATOR = re.compile(r":(?!//|[0-9])")
_UNESCAPE = re.compile("%(25|3A)")
# A text with more `:` than this is read only as the id it is, not as every Marquez reading of it.
_MAX_READING_COLONS = 24
_PREFIXES = {kind.value: kind for kind in NodeKind}


def kind_of(node_id: str) -> NodeKind:
    """The kind named by a node id's prefix; raises InvalidNodeId for an unknown prefix."""
    prefix, sep, _ = node_id.partition(":")
    if not sep or prefix not in _PREFIXES:
        raise InvalidNodeId(
            f"Node id {node_id!r} has no known prefix; expected one of "
            + ", ".join(f"'{p}:'" for p in _PREFIXES)
        )
    return _PREFIXES[prefix]


def parse_node_id(node_id: str) -> NodeKey:
    """Parse a node id into its key; raises InvalidNodeId naming what is wrong.

    A canonical id (`NodeKey.node_id`) gives back its key; any other text its Marquez reading."""
    kind = kind_of(node_id)
    body = node_id[len(kind.value) + 1 :]
    if kind is NodeKind.RUN:
        try:
            return RunId(uuid.UUID(body))
        except ValueError:
            raise InvalidNodeId(f"Run id {node_id!r} must be 'run:<uuid>'") from None
    if kind is NodeKind.COLUMN:
        dataset, sep, field = body.rpartition(":")
        if not sep or not dataset or not field:
            raise InvalidNodeId(
                f"Column id {node_id!r} must be 'datasetField:<namespace>:<dataset>:<field>'"
            )
        namespace, name = _pair(dataset, node_id, kind)
        return FieldKey(DatasetKey(namespace, name), field_of_part(field))
    if kind is NodeKind.DATASET:
        return DatasetKey(*_pair(body, node_id, kind))
    if kind is NodeKind.JOB:
        return JobKey(*_pair(body, node_id, kind))
    parts = _split(body, 2)
    namespace, name = parts[0], ":".join(parts[1:])
    if kind is NodeKind.DAG:
        return DagKey(namespace, name)
    dag_id, dot, task_id = name.partition(".")
    if not dot:
        raise InvalidNodeId(f"Task id {node_id!r} must be 'task:<namespace>:<dag_id>.<task_id>'")
    return TaskKey(namespace, dag_id, task_id)


def readings(node_id: str) -> list[NodeKey]:
    """Every key a textual id may mean: the one it parses to, then each other (namespace, name)
    (and field) whose Marquez id is this text. An escaped id means only itself. Raises
    InvalidNodeId when the text means nothing."""
    try:
        keys: list[NodeKey] = [parse_node_id(node_id)]
    except InvalidNodeId:
        keys = []
    kind = kind_of(node_id)
    body = node_id[len(kind.value) + 1 :]
    colons = [i for i, ch in enumerate(body) if ch == ":"]
    splittable = (NodeKind.DATASET, NodeKind.JOB, NodeKind.COLUMN)
    if kind in splittable and not body.startswith(ESCAPED) and len(colons) <= _MAX_READING_COLONS:
        pairs = [(body[:i], body[i + 1 :]) for i in colons]
        if kind is NodeKind.DATASET:
            keys.extend(DatasetKey(ns, name) for ns, name in pairs)
        elif kind is NodeKind.JOB:
            keys.extend(JobKey(ns, name) for ns, name in pairs)
        else:
            for ns, rest in pairs:
                for j, ch in enumerate(rest):
                    if ch == ":":
                        keys.append(FieldKey(DatasetKey(ns, rest[:j]), rest[j + 1 :]))
    found = list(dict.fromkeys(k for k in keys if _is_whole(k)))
    if not found:
        parse_node_id(node_id)  # raises the reason
    return found


def pair_body(namespace: str, name: str) -> str:
    """`<namespace>:<name>` when Marquez's rule reads that back as this pair; else the escaped
    form `~<namespace, escaped>:<name>`. ripple/_native.c declines what is not read back."""
    if namespace[:1] != ESCAPED and reads_back(namespace, name):
        return f"{namespace}:{name}"
    return f"{ESCAPED}{_escape(namespace)}:{name}"


def field_part(field: str) -> str:
    """A column id's last part: the field, escaped after `~` if it holds `:` or starts with `~`."""
    if ":" in field or field[:1] == ESCAPED:
        return ESCAPED + _escape(field)
    return field


def field_of_part(part: str) -> str:
    """The field a column id's last part names (`field_part` undone)."""
    return _unescape(part[1:]) if part[:1] == ESCAPED else part


def reads_back(namespace: str, name: str) -> bool:
    """Whether Marquez's rule reads `<namespace>:<name>` as (namespace, name)."""
    if not namespace or not name:
        return False
    if ":" not in namespace and ":" not in name:
        return True
    try:
        return _split(f"{namespace}:{name}", 2)[0] == namespace
    except InvalidNodeId:
        return False


def _pair(body: str, node_id: str, kind: NodeKind) -> tuple[str, str]:
    if body.startswith(ESCAPED):
        namespace, sep, name = body[1:].partition(":")
        if not sep or not name:
            raise InvalidNodeId(
                f"Node id {node_id!r} must be '{kind.value}:~<escaped namespace>:<name>'"
            )
        return _unescape(namespace), name
    parts = _split(body, 2)
    if len(parts) < 2:
        raise InvalidNodeId(f"Node id {node_id!r} must be '{kind.value}:<namespace>:<name>'")
    return parts[0], ":".join(parts[1:])


def _is_whole(key: NodeKey) -> bool:
    if isinstance(key, FieldKey):
        return bool(key.field) and _is_whole(key.dataset)
    if isinstance(key, (DatasetKey, JobKey)):
        return bool(key.namespace) and bool(key.name)
    return True


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace(":", "%3A")


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(lambda m: "%" if m.group(1) == "25" else ":", text)


def canonical(node_id: str) -> str:
    """The canonical form of a node id (normalises run UUIDs); raises InvalidNodeId."""
    return parse_node_id(node_id).node_id


def _split(body: str, wanted: int) -> list[str]:
    """Marquez's split; when it finds too few parts (a name starting with a digit, as in
    `users:2fa_enabled`), the last `:` separates the final part instead."""
    parts = _marquez_split(body)
    if len(parts) < wanted and ":" in body:
        head, _, last = body.rpartition(":")
        parts = [*_split(head, wanted - 1), last] if wanted > 2 else [head, last]
        if any(part == "" for part in parts):
            raise InvalidNodeId(f"Node id part is empty in {body!r}")
    return parts


def _marquez_split(body: str) -> list[str]:
    parts: list[str] = []
    start = 0
    for match in _SEPARATOR.finditer(body):
        parts.append(body[start : match.start()])
        start = match.end()
    parts.append(body[start:])
    if any(part == "" for part in parts):
        raise InvalidNodeId(f"Node id part is empty in {body!r}")
    return parts


# -- The vocabulary events and the graph share ---------------------------------------------------
# Pure constants: the parsers and the projection (ingest/) use them, and graph/native.py hands
# them to the C loops (ripple/_native.c), which keep no copy of their own.

# OpenLineage run states (`eventType`, read in any case), in the spec's order. START sets a run's
# `started_at`, a terminal state its `ended_at`; graph/merge.py ranks them.
START: Final = "START"
RUNNING: Final = "RUNNING"
COMPLETE: Final = "COMPLETE"
ABORT: Final = "ABORT"
FAIL: Final = "FAIL"
OTHER: Final = "OTHER"
EVENT_TYPES = (START, RUNNING, COMPLETE, ABORT, FAIL, OTHER)
TERMINAL = frozenset({COMPLETE, ABORT, FAIL})

# A column lineage transformation's type (any case in events); also the variant of a DERIVES edge.
DIRECT_TYPE: Final = "DIRECT"
INDIRECT_TYPE: Final = "INDIRECT"
TRANSFORMATION_TYPES = (DIRECT_TYPE, INDIRECT_TYPE)


class Prop:
    """Names of the node properties the projection writes."""

    NAMESPACE: Final = "namespace"
    NAME: Final = "name"
    TYPE: Final = "type"  # a job's type, from its jobType facet
    OWNERS: Final = "owners"
    SOURCE_LOCATION: Final = "source_location"
    RUN_ID: Final = "run_id"
    JOB: Final = "job"  # a run's job
    STATE: Final = "state"  # a run's state: its latest event type
    UPDATED_AT: Final = "updated_at"
    STARTED_AT: Final = "started_at"
    ENDED_AT: Final = "ended_at"
    NOMINAL_START: Final = "nominal_start"
    NOMINAL_END: Final = "nominal_end"
    ERROR_MESSAGE: Final = "error_message"
    PARENT_RUN: Final = "parent_run"
    ROOT_RUN: Final = "root_run"
    LAST_RUN: Final = "last_run"  # of a job or an output dataset
    LAST_RUN_STATE: Final = "last_run_state"
    UNRESOLVED: Final = "unresolved_column_inputs"  # lineage sources the event did not name
    # A facet is kept as a property: its name after the prefix of where it was found (a
    # dataset's own facets, or its input or output facets in the event).
    FACET: Final = "facet."
    INPUT: Final = "input."
    OUTPUT: Final = "output."


class Facet:
    """The facets the projection treats apart: a dataset's schema and column lineage become its
    column facts (not properties); the C projection reads the others itself."""

    SCHEMA: Final = "schema"
    COLUMN_LINEAGE: Final = "columnLineage"
    JOB_TYPE: Final = "jobType"
    NOMINAL_TIME: Final = "nominalTime"
    OUTPUT_STATISTICS: Final = "outputStatistics"
    SYMLINKS: Final = "symlinks"


# The facets whose shape the parsers check (ingest/facets.py, ingest/fastparse.py), by where they
# appear; every other facet is kept as it came.
CHECKED_FACETS: dict[str, frozenset[str]] = {
    "run": frozenset({"parent", Facet.NOMINAL_TIME, "errorMessage"}),
    "job": frozenset({Facet.JOB_TYPE, "ownership", "sourceCodeLocation", "sql"}),
    "dataset": frozenset(
        {
            Facet.SCHEMA,
            Facet.COLUMN_LINEAGE,
            "ownership",
            "version",
            Facet.SYMLINKS,
            "dataQualityAssertions",
        }
    ),
    "input": frozenset({"dataQualityMetrics"}),
    "output": frozenset({Facet.OUTPUT_STATISTICS}),
}


class Key:
    """The OpenLineage keys the fast parser reads (ingest/fastparse.py declares its structs with
    them, and the C loops read those structs and the schema and columnLineage facets by them)."""

    # an event, its run, job and datasets
    EVENT_TIME: Final = "eventTime"
    EVENT_TYPE: Final = "eventType"
    RUN: Final = "run"
    JOB: Final = "job"
    INPUTS: Final = "inputs"
    OUTPUTS: Final = "outputs"
    DATASET: Final = "dataset"  # of a DatasetEvent; also the dataset-wide inputs of a lineage
    RUN_ID: Final = "runId"
    NAMESPACE: Final = "namespace"
    NAME: Final = "name"
    FACETS: Final = "facets"
    INPUT_FACETS: Final = "inputFacets"
    OUTPUT_FACETS: Final = "outputFacets"
    # the schema facet
    FIELDS: Final = "fields"  # also the output fields of a columnLineage facet
    TYPE: Final = "type"  # also a transformation's
    DESCRIPTION: Final = "description"  # also a transformation's
    # the columnLineage facet
    INPUT_FIELDS: Final = "inputFields"
    TRANSFORMATION_TYPE: Final = "transformationType"  # the legacy form
    TRANSFORMATION_DESCRIPTION: Final = "transformationDescription"
    FIELD: Final = "field"
    TRANSFORMATIONS: Final = "transformations"
    SUBTYPE: Final = "subtype"
    MASKING: Final = "masking"
    # the symlinks facet (its identifiers' keys are NAMESPACE, NAME and TYPE)
    IDENTIFIERS: Final = "identifiers"
    # the jobType, nominalTime and outputStatistics facets
    JOB_TYPE: Final = "jobType"
    PROCESSING_TYPE: Final = "processingType"
    INTEGRATION: Final = "integration"
    NOMINAL_START_TIME: Final = "nominalStartTime"
    NOMINAL_END_TIME: Final = "nominalEndTime"
    ROW_COUNT: Final = "rowCount"
    SIZE: Final = "size"
    FILE_COUNT: Final = "fileCount"
