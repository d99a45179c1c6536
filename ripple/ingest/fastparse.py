"""The fast path of event parsing: msgspec checks the shape of an event's JSON in C.

`parse_event_json(body)` gives exactly what `parse_event(orjson.loads(body))` gives, faster. The
structs below are at least as strict as the checks in `event.py`/`facets.py`; anything they do
not accept — and anything unusual they do let through (an unknown event type, a run id that is no
UUID, an unparseable time) — falls back to the full parser, so every error is reported by one
code path, naming the JSON path, the value and the reason.

JSON nested more than MAX_DEPTH levels deep is refused before any decoder recurses into it: the
decoders would exhaust the stack, and the graph could neither store nor answer such a value.
"""

from __future__ import annotations

import re
import uuid
from sys import intern
from typing import Annotated, Any

import msgspec
import orjson
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

from ripple.errors import InvalidEvent, MalformedInput
from ripple.graph.codes import LINEAGE_TAG, SCHEMA_TAG
from ripple.graph.delta import (
    GraphDelta,
    LineageEntry,
    Schema,
    SchemaFields,
)
from ripple.graph.native import NATIVE
from ripple.ingest.columns import (
    FacetMemo,
    Lineage,
    digest,
    lineage_value,
    schema_value,
)
from ripple.ingest.event import DatasetRef, Event, JobRef, RunRef, parse_event
from ripple.ingest.fields import parse_timestamp
from ripple.ingest.projection import _resolve
from ripple.ingest.records import PREFIX as RECORD_PREFIX
from ripple.model import (
    DIRECT_TYPE,
    EVENT_TYPES,
    FIELD_PATH_SEPARATOR,
    INDIRECT_TYPE,
    TRANSFORMATION_TYPES,
    DatasetKey,
    FieldKey,
    JobKey,
)

# Deepest nesting of an event's JSON: far beyond any producer's facets (Spark's logical plans
# included), and below orjson's 255 levels, which storing and answering a facet take.
MAX_DEPTH = 200

Name = Annotated[str, Meta(min_length=1)]
Facets = dict[str, Raw] | None


class _Dataset(Struct):
    namespace: Name
    name: Name
    facets: Facets = None
    inputFacets: Facets = None
    outputFacets: Facets = None


class _Job(Struct):
    namespace: Name
    name: Name
    facets: Facets = None


class _Run(Struct):
    runId: str
    facets: Facets = None


class _Event(Struct):
    eventTime: Name
    eventType: str | None = None
    producer: str | None = None
    schemaURL: str | None = None
    run: _Run | UnsetType | None = UNSET
    job: _Job | UnsetType | None = UNSET
    inputs: list[_Dataset] | None = None
    outputs: list[_Dataset] | None = None
    dataset: _Dataset | UnsetType | None = UNSET


# -- the facets Ripple reads (mirroring facets.py) ------------------------------------------------


class _RunRef(Struct):
    runId: Name


class _JobRef(Struct):
    namespace: Name
    name: Name


class _Root(Struct):
    run: _RunRef
    job: _JobRef


class _Parent(Struct):
    run: _RunRef
    job: _JobRef
    root: _Root | None = None


class _NominalTime(Struct):
    nominalStartTime: Name
    nominalEndTime: str | None = None


class _ErrorMessage(Struct):
    message: Name
    programmingLanguage: str | None = None
    stackTrace: str | None = None


class _JobType(Struct):
    processingType: str | None = None
    integration: str | None = None
    jobType: str | None = None


class _Owner(Struct):
    name: Name
    type: str | None = None


class _Ownership(Struct):
    owners: list[_Owner] | None = None


class _SourceLocation(Struct):
    type: Name
    url: Name


class _Sql(Struct):
    query: Name


class _Version(Struct):
    datasetVersion: Name


class _Identifier(Struct):
    namespace: Name
    name: Name
    type: Name


class _Symlinks(Struct):
    identifiers: list[_Identifier] | None = None


class _Assertion(Struct):
    assertion: Name
    success: bool


class _Assertions(Struct):
    assertions: list[_Assertion]


class _QualityMetrics(Struct):
    columnMetrics: dict[str, Any]
    rowCount: int | None = None
    bytes: int | None = None
    fileCount: int | None = None


class _OutputStatistics(Struct):
    rowCount: int | None = None
    size: int | None = None
    fileCount: int | None = None


class _SchemaField(Struct):
    name: Name
    type: str | None = None
    description: str | None = None
    fields: list[_SchemaField] | None = None


class _Schema(Struct):
    fields: list[_SchemaField] | None = None


class _Transformation(Struct):
    type: Name
    subtype: str | None = None
    description: str | None = None
    masking: bool | None = None


class _InputField(Struct):
    namespace: Name
    name: Name
    field: Name
    transformations: list[_Transformation] | None = None


class _FieldLineage(Struct):
    inputFields: list[_InputField]
    transformationType: str | None = None
    transformationDescription: str | None = None


class _ColumnLineage(Struct):
    fields: dict[str, _FieldLineage]
    dataset: list[_InputField] | None = None


def _decoders(types: dict[str, type]) -> dict[str, msgspec.json.Decoder[Any]]:
    return {name: msgspec.json.Decoder(kind) for name, kind in types.items()}


_EVENT = msgspec.json.Decoder(_Event)
_GENERIC = msgspec.json.Decoder()
_SCHEMA = msgspec.json.Decoder(_Schema)
_LINEAGE = msgspec.json.Decoder(_ColumnLineage)
_FACETS = {
    "run": _decoders(
        {"parent": _Parent, "nominalTime": _NominalTime, "errorMessage": _ErrorMessage}
    ),
    "job": _decoders(
        {
            "jobType": _JobType,
            "ownership": _Ownership,
            "sourceCodeLocation": _SourceLocation,
            "sql": _Sql,
        }
    ),
    "dataset": _decoders(
        {
            "ownership": _Ownership,
            "version": _Version,
            "symlinks": _Symlinks,
            "dataQualityAssertions": _Assertions,
        }
    ),
    "input": _decoders({"dataQualityMetrics": _QualityMetrics}),
    "output": _decoders({"outputStatistics": _OutputStatistics}),
}
_TRANSFORMATION_TYPES = {kind: kind for kind in TRANSFORMATION_TYPES}
_SCHEMA_KEY = SCHEMA_TAG.encode()  # the memo keys a facet's JSON by its kind's tag, then the JSON
_LINEAGE_KEY = LINEAGE_TAG.encode()


class _Unusual(Exception):
    """The fast path declines; the full parser decides (and names any problem)."""


def parse_event_json(body: bytes, memo: FacetMemo | None = None) -> Event:
    """Parse one event's JSON bytes; raises InvalidEvent or MalformedInput like the full parser."""
    if body.startswith(RECORD_PREFIX):  # the log would take it for a sync record on replay
        reason = "reserved for Ripple's own sync records; an event cannot start with this key"
        raise InvalidEvent("$.rippleRecord", None, reason)
    at = deep_at(body)
    if at >= 0:
        reason = (
            f"nests more than {MAX_DEPTH} levels deep (at byte {at}); "
            f"Ripple reads JSON up to {MAX_DEPTH} levels"
        )
        raise InvalidEvent("$", body[max(0, at - 40) : at + 40].decode("utf-8", "replace"), reason)
    try:
        return _fast(body, memo)
    except (msgspec.DecodeError, UnicodeDecodeError, _Unusual):
        pass  # ValidationError is a DecodeError too: the full parser decides and explains
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput(f"not valid JSON: {exc}") from None
    return parse_event(doc, memo)


def fast_delta(body: bytes, memo: FacetMemo | None = None) -> GraphDelta | None:
    """The graph delta of one event's JSON in its common shape, straight from the decoded
    structs in C (ripple/_native.c); None when C is not built or declines the event (anything
    unusual, invalid, or merely rarer), and the caller takes `project(parse_event_json(...))`,
    which gives the same delta (tests/unit/test_native.py) and names any problem."""
    if NATIVE is None or body.startswith(RECORD_PREFIX) or NATIVE.depth(body, MAX_DEPTH) >= 0:
        return None
    try:
        delta: GraphDelta | None = NATIVE.project(_EVENT.decode(body), memo, _PARSER)
    except (msgspec.DecodeError, UnicodeDecodeError, _Unusual):  # a string not UTF-8: the
        # full parser rejects the event, naming it
        return None
    return delta


def fast_deltas(bodies: list[bytes], memo: FacetMemo | None = None) -> list[GraphDelta | None]:
    """`fast_delta` of each body, in one call into C (a batch of `ripple ingest`)."""
    if NATIVE is None:
        return [None] * len(bodies)
    if any(NATIVE.depth(body, MAX_DEPTH) >= 0 for body in bodies):  # declined, each alone
        return [fast_delta(body, memo) for body in bodies]
    try:
        deltas: list[GraphDelta | None] = NATIVE.project_many(bodies, memo, _PARSER)
    except UnicodeDecodeError:  # one body's string is not UTF-8: each alone, that one declined
        return [fast_delta(body, memo) for body in bodies]
    return deltas


def deep_at(body: bytes) -> int:
    """The offset of the first bracket of `body` nested more than MAX_DEPTH deep, or -1."""
    if NATIVE is not None:
        depth: int = NATIVE.depth(body, MAX_DEPTH)
        return depth
    if body.count(b"{") + body.count(b"[") <= MAX_DEPTH:
        return -1
    return _deep_at(body)


_SPECIAL = re.compile(rb'[\[\]{}"\\]')


def _deep_at(body: bytes) -> int:
    """deep_at's Python twin (ripple/_native.c, depth): strings skipped, escapes and all."""
    level, in_string, escaped_at = 0, False, -1
    for match in _SPECIAL.finditer(body):
        at = match.start()
        if at == escaped_at:
            continue
        ch = body[at]
        if in_string:
            if ch == 0x5C:  # a backslash: the next byte is escaped
                escaped_at = at + 1
            elif ch == 0x22:
                in_string = False
        elif ch == 0x22:
            in_string = True
        elif ch in b"[{":
            level += 1
            if level > MAX_DEPTH:
                return at
        elif ch in b"]}":
            level -= 1
    return -1


def _fast(body: bytes, memo: FacetMemo | None) -> Event:
    raw = _EVENT.decode(body)
    event_time = parse_timestamp(raw.eventTime)
    if event_time is None:
        raise _Unusual
    if raw.dataset is not UNSET and raw.job is UNSET and raw.run is UNSET:
        if raw.dataset is None:
            raise _Unusual
        dataset = _dataset(raw.dataset, None, memo)
        return Event("DatasetEvent", None, event_time, raw.producer, None, None, [], [dataset])
    event_type = raw.eventType
    if event_type is not None and event_type.upper() not in EVENT_TYPES:
        raise _Unusual
    if not isinstance(raw.job, _Job) or raw.run is None:
        raise _Unusual
    job = _job(raw.job)
    run = _run(raw.run) if isinstance(raw.run, _Run) else None
    return Event(
        "RunEvent" if run is not None else "JobEvent",
        event_type.upper() if event_type else None,
        event_time,
        raw.producer,
        run,
        job,
        [_dataset(d, "input", memo) for d in raw.inputs or ()],
        [_dataset(d, "output", memo) for d in raw.outputs or ()],
    )


def _facets(
    raw: Facets, where: str, skip: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Generic values of every facet (kept as props) and typed values of the known ones."""
    if not raw:
        return {}, {}
    decoders = _FACETS[where]
    values: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    for name, facet in raw.items():
        if not bytes(facet).startswith(b"{"):
            raise _Unusual  # not an object: the full parser says so
        if name in skip:
            typed[name] = facet
            continue
        values[name] = _GENERIC.decode(facet)
        decoder = decoders.get(name)
        if decoder is not None:
            typed[name] = decoder.decode(facet)
    return values, typed


def _job(raw: _Job) -> JobRef:
    values, typed = _facets(raw.facets, "job")
    job = JobRef(JobKey(raw.namespace, raw.name), values)
    job_type = typed.get("jobType")
    if job_type is not None and values["jobType"]:
        job.job_type = job_type.jobType or job_type.processingType
    ownership = typed.get("ownership")
    if ownership is not None and values["ownership"]:
        job.owners = tuple(owner.name for owner in ownership.owners or ())
    location = typed.get("sourceCodeLocation")
    if location is not None:
        job.source_location = location.url
    return job


def _run(raw: _Run) -> RunRef:
    values, typed = _facets(raw.facets, "run")
    run = RunRef(_uuid(raw.runId), values)
    parent = typed.get("parent")
    if parent is not None:
        run.parent = (_uuid(parent.run.runId), JobKey(parent.job.namespace, parent.job.name))
        if parent.root is not None:
            root = parent.root
            run.root = (_uuid(root.run.runId), JobKey(root.job.namespace, root.job.name))
    nominal = typed.get("nominalTime")
    if nominal is not None:
        run.nominal_start = _time(nominal.nominalStartTime)
        run.nominal_end = _time(nominal.nominalEndTime) if nominal.nominalEndTime else None
    error = typed.get("errorMessage")
    if error is not None:
        run.error_message = error.message
    return run


def _dataset(raw: _Dataset, role: str | None, memo: FacetMemo | None) -> DatasetRef:
    values, typed = _facets(raw.facets, "dataset", ("schema", "columnLineage"))
    ref = DatasetRef(DatasetKey(raw.namespace, raw.name), values)
    if role is not None:
        ref.io_facets = _facets(raw.inputFacets if role == "input" else raw.outputFacets, role)[0]
    schema = typed.get("schema")
    if schema is not None:
        ref.schema = _schema(schema, memo)
    lineage = typed.get("columnLineage")
    if lineage is not None:
        ref.lineage = _lineage(lineage, memo)
    return ref


def _schema(raw: Raw, memo: FacetMemo | None) -> Schema:
    key = _SCHEMA_KEY + bytes(raw)
    found = memo.get(key) if memo is not None else None
    if isinstance(found, Schema):
        return found
    # The same reading in C (ripple/_native.c), which answers None to decline what it does not read.
    fields = NATIVE.schema(raw) if NATIVE is not None else None
    schema = schema_value(_schema_fields(raw) if fields is None else fields)
    if memo is not None:
        memo.put(key, schema)
    return schema


def _schema_fields(raw: Raw) -> SchemaFields:
    flat: list[tuple[str, str | None, str | None]] = []
    _flatten(_SCHEMA.decode(raw).fields or [], "", flat)
    return tuple(flat)


def _flatten(
    items: list[_SchemaField], prefix: str, out: list[tuple[str, str | None, str | None]]
) -> None:
    for item in items:
        name = intern(prefix + item.name)  # names and types repeat across datasets: one copy
        out.append((name, intern(item.type) if item.type else item.type, item.description))
        if item.fields:
            _flatten(item.fields, name + FIELD_PATH_SEPARATOR, out)


def _lineage(raw: Raw, memo: FacetMemo | None) -> Lineage:
    key = _LINEAGE_KEY + bytes(raw)
    found = memo.get(key) if memo is not None else None
    if isinstance(found, Lineage):
        return found
    # The same reading in C (ripple/_native.c), which answers None to decline what it does not read.
    found_native = NATIVE.lineage(raw) if NATIVE is not None else None
    lineage = _lineage_entries(raw) if found_native is None else lineage_value(*found_native)
    if memo is not None:
        memo.put(key, lineage)
    return lineage


def _lineage_entries(raw: Raw) -> Lineage:
    facet = _LINEAGE.decode(raw)
    entries: list[LineageEntry] = []
    for out_field, spec in facet.fields.items():
        if spec.transformationType is not None or spec.transformationDescription is not None:
            raise _Unusual  # the legacy form: the full parser reads it
        for item in spec.inputFields:
            _entries(item, out_field, DIRECT_TYPE, entries)
    for item in facet.dataset or ():
        _entries(item, None, INDIRECT_TYPE, entries)
    return lineage_value(tuple(entries), tuple(facet.fields))


def _entries(item: _InputField, dst: str | None, default: str, out: list[LineageEntry]) -> None:
    key = DatasetKey(item.namespace, item.name)
    dataset, column = key.node_id, FieldKey(key, item.field).node_id
    if not item.transformations:
        out.append(LineageEntry(dataset, column, dst, default, None, None, False))
        return
    for t in item.transformations:
        kind = _TRANSFORMATION_TYPES.get(t.type.upper())
        if kind is None:
            raise _Unusual
        out.append(
            LineageEntry(dataset, column, dst, kind, t.subtype, t.description, bool(t.masking))
        )


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise _Unusual from None


def _time(text: str) -> Any:
    value = parse_timestamp(text)
    if value is None:
        raise _Unusual
    return value


# The parser's helpers the C projection calls (`project(event, memo, parser)` in
# ripple/_native.pyi), in that order: this layer's own, so they travel with each call rather than
# configure the module (graph/native.py does, with every fact).
_PARSER = (
    _EVENT.decode,
    _GENERIC.decode,
    _schema,
    _lineage,
    _resolve,
    digest,
    Lineage,
    FacetMemo.get,
    FacetMemo.put,
    UNSET,
    (msgspec.DecodeError, _Unusual, RecursionError),
    RECORD_PREFIX,
)
