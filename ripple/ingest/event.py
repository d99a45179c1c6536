"""Parse decoded OpenLineage JSON (spec 2-0-2) into typed events, strictly where the graph needs it.

Lenient like Marquez: `schemaURL`, `eventType` and `producer` may be missing, timestamps may carry
nanoseconds or no zone, and unknown facets are kept raw. A known facet of the wrong shape is left
out and reported as a warning (ingest/facets.py), never costing its event's lineage. Strict where
the graph would be wrong: the event time, job and dataset identities, run ids. Every rejection is
an InvalidEvent naming the JSON path, the offending value and the reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ripple.errors import InvalidEvent
from ripple.graph.delta import Schema
from ripple.ingest import fields as f
from ripple.ingest.columns import FacetMemo, Lineage, parse_lineage, parse_schema
from ripple.ingest.facets import FacetWarning, validate_facets
from ripple.model import EVENT_TYPES, DatasetKey, JobKey

EventKind = Literal["RunEvent", "DatasetEvent", "JobEvent"]


@dataclass(slots=True)
class DatasetRef:
    key: DatasetKey
    facets: dict[str, Any] = field(default_factory=dict)  # all but schema and columnLineage
    io_facets: dict[str, Any] = field(default_factory=dict)  # inputFacets or outputFacets
    schema: Schema | None = None
    lineage: Lineage | None = None


@dataclass(slots=True)
class JobRef:
    key: JobKey
    facets: dict[str, Any] = field(default_factory=dict)
    job_type: str | None = None
    owners: tuple[str, ...] = ()
    source_location: str | None = None


@dataclass(slots=True)
class RunRef:
    run_id: uuid.UUID
    facets: dict[str, Any] = field(default_factory=dict)
    parent: tuple[uuid.UUID, JobKey] | None = None
    root: tuple[uuid.UUID, JobKey] | None = None
    nominal_start: datetime | None = None
    nominal_end: datetime | None = None
    error_message: str | None = None


@dataclass(slots=True)
class Event:
    kind: EventKind
    event_type: str | None
    event_time: datetime
    producer: str | None
    run: RunRef | None
    job: JobRef | None
    inputs: list[DatasetRef]
    outputs: list[DatasetRef]
    warnings: list[FacetWarning] = field(default_factory=list)  # facets left out, and why


def parse_event(doc: Any, memo: FacetMemo | None = None) -> Event:
    """Validate one decoded event; raise InvalidEvent (path, value, reason) on the first problem.

    `memo` lets repeated schema and lineage facets skip re-validation (see ingest/columns.py)."""
    root = f.item_obj(doc, "$")
    warnings: list[FacetWarning] = []
    event_time = f.timestamp(root, "eventTime", "$", required=True)
    assert event_time is not None
    f.string(root, "producer", "$")
    f.string(root, "schemaURL", "$")
    if "dataset" in root and "job" not in root and "run" not in root:
        dataset = _dataset(
            f.obj(root, "dataset", "$", required=True) or {}, "$.dataset", None, memo, warnings
        )
        return Event(
            "DatasetEvent",
            None,
            event_time,
            root.get("producer"),
            None,
            None,
            [],
            [dataset],
            warnings,
        )
    event_type = f.string(root, "eventType", "$")
    if event_type is not None and event_type.upper() not in EVENT_TYPES:
        raise InvalidEvent("$.eventType", event_type, "must be one of " + ", ".join(EVENT_TYPES))
    job = _job(f.obj(root, "job", "$", required=True) or {}, warnings)
    # A JobEvent has no `run`; anything that carries one is a RunEvent and needs a valid runId.
    run = _run(f.obj(root, "run", "$", required=True) or {}, warnings) if "run" in root else None
    inputs = [
        _dataset(f.item_obj(item, path), path, "inputFacets", memo, warnings)
        for i, item in enumerate(f.array(root, "inputs", "$"))
        for path in (f"$.inputs[{i}]",)
    ]
    outputs = [
        _dataset(f.item_obj(item, path), path, "outputFacets", memo, warnings)
        for i, item in enumerate(f.array(root, "outputs", "$"))
        for path in (f"$.outputs[{i}]",)
    ]
    return Event(
        "RunEvent" if run is not None else "JobEvent",
        event_type.upper() if event_type else None,
        event_time,
        root.get("producer"),
        run,
        job,
        inputs,
        outputs,
        warnings,
    )


def _job(doc: dict[str, Any], warnings: list[FacetWarning]) -> JobRef:
    namespace = f.string(doc, "namespace", "$.job", required=True)
    name = f.string(doc, "name", "$.job", required=True)
    assert namespace is not None and name is not None
    facets = validate_facets(doc, "facets", "$.job", "job", warnings)
    job = JobRef(JobKey(namespace, name), facets)
    job_type = facets.get("jobType")
    if job_type:
        job.job_type = job_type.get("jobType") or job_type.get("processingType")
    ownership = facets.get("ownership")
    if ownership:
        job.owners = tuple(owner["name"] for owner in ownership.get("owners") or [])
    location = facets.get("sourceCodeLocation")
    if location:
        job.source_location = location.get("url")
    return job


def _run(doc: dict[str, Any], warnings: list[FacetWarning]) -> RunRef:
    run_id = f.run_uuid(doc, "runId", "$.run")
    facets = validate_facets(doc, "facets", "$.run", "run", warnings)
    run = RunRef(run_id, facets)
    parent = facets.get("parent")
    if parent:
        run.parent = _run_and_job(parent)
        if isinstance(parent.get("root"), dict):
            run.root = _run_and_job(parent["root"])
    nominal = facets.get("nominalTime")
    if nominal:
        run.nominal_start = f.parse_timestamp(nominal["nominalStartTime"])
        end = nominal.get("nominalEndTime")
        run.nominal_end = f.parse_timestamp(end) if end else None
    error = facets.get("errorMessage")
    if error:
        run.error_message = error["message"]
    return run


def _run_and_job(doc: dict[str, Any]) -> tuple[uuid.UUID, JobKey]:
    run, job = doc["run"], doc["job"]
    return uuid.UUID(run["runId"]), JobKey(job["namespace"], job["name"])


def _dataset(
    doc: dict[str, Any],
    path: str,
    io_key: str | None,
    memo: FacetMemo | None,
    warnings: list[FacetWarning],
) -> DatasetRef:
    namespace = f.string(doc, "namespace", path, required=True)
    name = f.string(doc, "name", path, required=True)
    assert namespace is not None and name is not None
    facets_path = f"{path}.facets"
    facets = validate_facets(doc, "facets", path, "dataset", warnings, _COLUMNS)
    ref = DatasetRef(
        DatasetKey(namespace, name), {k: v for k, v in facets.items() if k not in _COLUMNS}
    )
    if io_key is not None:
        kind = "input" if io_key == "inputFacets" else "output"
        ref.io_facets = validate_facets(doc, io_key, path, kind, warnings)
    schema = facets.get("schema")
    if schema is not None:
        try:
            ref.schema = parse_schema(schema, f"{facets_path}.schema", memo)
        except InvalidEvent as exc:
            warnings.append(FacetWarning.of(f"{facets_path}.schema", exc))
    lineage = facets.get("columnLineage")
    if lineage is not None:
        try:
            ref.lineage = parse_lineage(lineage, f"{facets_path}.columnLineage", memo)
        except InvalidEvent as exc:
            warnings.append(FacetWarning.of(f"{facets_path}.columnLineage", exc))
    return ref


_COLUMNS = ("schema", "columnLineage")  # validated by ingest/columns.py
