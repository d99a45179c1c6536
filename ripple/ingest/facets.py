"""Shape checks for the OpenLineage facets Ripple reads; every other facet is kept raw.

Each checker raises InvalidEvent with the JSON path of the offending value. The rules follow the
spec's facet schemas (required fields and types) for the facets the graph and detection use.

A facet that fails its check does not cost its event: like OpenLineage's reference proxy, which
validates each facet where it stands, the facet is left out of the graph and reported as a
`FacetWarning`, and the event's job, run, datasets and edges are recorded. The facet is not lost:
the event log keeps the event as it was received, so a later Ripple can read it on replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ripple.errors import InvalidEvent
from ripple.ingest import fields as f

Checker = Callable[[dict[str, Any], str], None]


@dataclass(frozen=True, slots=True)
class FacetWarning:
    """A facet left out of the graph (`dropped`, its JSON path) and the problem found in it:
    the path, value and reason its check raised."""

    dropped: str
    path: str
    value: Any
    reason: str

    @classmethod
    def of(cls, dropped: str, problem: InvalidEvent) -> FacetWarning:
        return cls(dropped, problem.path, problem.value, problem.reason)

    def as_dict(self) -> dict[str, Any]:
        problem = InvalidEvent(self.path, self.value, self.reason).as_dict()
        return {**problem, "dropped": self.dropped}


def validate_facets(
    parent: dict[str, Any],
    key: str,
    path: str,
    where: str,
    warnings: list[FacetWarning],
    skip: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The facets at `parent[key]` that are objects of their spec shape where they are known;
    each other one is left out and reported in `warnings` (so is a `facets` that is no object).

    Facets named in `skip` are only checked to be objects (their caller validates them)."""
    try:
        facets = f.obj(parent, key, path) or {}
    except InvalidEvent as exc:
        warnings.append(FacetWarning.of(exc.path, exc))
        return {}
    checkers = _CHECKERS[where]
    kept: dict[str, Any] | None = None  # a copy once one is left out
    for name, facet in facets.items():
        facet_path = f"{path}.{key}.{name}"
        try:
            if not isinstance(facet, dict):
                f.item_obj(facet, facet_path)
            checker = None if name in skip else checkers.get(name)
            if checker is not None:
                checker(facet, facet_path)
        except InvalidEvent as exc:
            warnings.append(FacetWarning.of(facet_path, exc))
            if kept is None:
                kept = dict(facets)
            del kept[name]
    return facets if kept is None else kept


def _parent(facet: dict[str, Any], path: str) -> None:
    _run_and_job(facet, path)
    root = f.obj(facet, "root", path)
    if root is not None:
        _run_and_job(root, f"{path}.root")


def _run_and_job(doc: dict[str, Any], path: str) -> None:
    run = f.obj(doc, "run", path, required=True) or {}
    f.run_uuid(run, "runId", f"{path}.run")
    job = f.obj(doc, "job", path, required=True) or {}
    f.string(job, "namespace", f"{path}.job", required=True)
    f.string(job, "name", f"{path}.job", required=True)


def _nominal_time(facet: dict[str, Any], path: str) -> None:
    f.timestamp(facet, "nominalStartTime", path, required=True)
    f.timestamp(facet, "nominalEndTime", path)


def _error_message(facet: dict[str, Any], path: str) -> None:
    f.string(facet, "message", path, required=True)
    f.string(facet, "programmingLanguage", path)
    f.string(facet, "stackTrace", path)


def _job_type(facet: dict[str, Any], path: str) -> None:
    for key in ("processingType", "integration", "jobType"):
        f.string(facet, key, path)


def _ownership(facet: dict[str, Any], path: str) -> None:
    for i, owner in enumerate(f.array(facet, "owners", path)):
        item = f.item_obj(owner, f"{path}.owners[{i}]")
        f.string(item, "name", f"{path}.owners[{i}]", required=True)
        f.string(item, "type", f"{path}.owners[{i}]")


def _source_code_location(facet: dict[str, Any], path: str) -> None:
    f.string(facet, "type", path, required=True)
    f.string(facet, "url", path, required=True)


def _sql(facet: dict[str, Any], path: str) -> None:
    f.string(facet, "query", path, required=True)


def check_schema(facet: dict[str, Any], path: str) -> None:
    _schema_fields(f.array(facet, "fields", path), f"{path}.fields")


def _schema_fields(items: list[Any], path: str) -> None:
    for i, item in enumerate(items):
        field_path = f"{path}[{i}]"
        entry = f.item_obj(item, field_path)
        f.string(entry, "name", field_path, required=True)
        f.string(entry, "type", field_path)
        f.string(entry, "description", field_path)
        _schema_fields(f.array(entry, "fields", field_path), f"{field_path}.fields")


def check_column_lineage(facet: dict[str, Any], path: str) -> None:
    fields = f.obj(facet, "fields", path, required=True) or {}
    for out_field, spec in fields.items():
        field_path = f"{path}.fields.{out_field}"
        entry = f.item_obj(spec, field_path)
        for i, item in enumerate(f.array(entry, "inputFields", field_path, required=True)):
            _input_field(item, f"{field_path}.inputFields[{i}]")
        f.string(entry, "transformationType", field_path)
        f.string(entry, "transformationDescription", field_path)
    for i, item in enumerate(f.array(facet, "dataset", path)):
        _input_field(item, f"{path}.dataset[{i}]")


def _input_field(item: Any, path: str) -> None:
    entry = f.item_obj(item, path)
    for key in ("namespace", "name", "field"):
        f.string(entry, key, path, required=True)
    for i, raw in enumerate(f.array(entry, "transformations", path)):
        t_path = f"{path}.transformations[{i}]"
        transformation = f.item_obj(raw, t_path)
        kind = f.string(transformation, "type", t_path, required=True)
        if kind is not None and kind.upper() not in ("DIRECT", "INDIRECT"):
            raise InvalidEvent(f"{t_path}.type", kind, "must be DIRECT or INDIRECT")
        f.string(transformation, "subtype", t_path)
        f.string(transformation, "description", t_path)
        f.boolean(transformation, "masking", t_path)


def _version(facet: dict[str, Any], path: str) -> None:
    f.string(facet, "datasetVersion", path, required=True)


def _symlinks(facet: dict[str, Any], path: str) -> None:
    for i, item in enumerate(f.array(facet, "identifiers", path)):
        entry = f.item_obj(item, f"{path}.identifiers[{i}]")
        for key in ("namespace", "name", "type"):
            f.string(entry, key, f"{path}.identifiers[{i}]", required=True)


def _assertions(facet: dict[str, Any], path: str) -> None:
    for i, item in enumerate(f.array(facet, "assertions", path, required=True)):
        entry = f.item_obj(item, f"{path}.assertions[{i}]")
        f.string(entry, "assertion", f"{path}.assertions[{i}]", required=True)
        if not isinstance(entry.get("success"), bool):
            raise InvalidEvent(
                f"{path}.assertions[{i}].success", entry.get("success"), "must be true or false"
            )


def _quality_metrics(facet: dict[str, Any], path: str) -> None:
    for key in ("rowCount", "bytes", "fileCount"):
        f.integer(facet, key, path)
    f.obj(facet, "columnMetrics", path, required=True)


def _output_statistics(facet: dict[str, Any], path: str) -> None:
    for key in ("rowCount", "size", "fileCount"):
        f.integer(facet, key, path)


_CHECKERS: dict[str, dict[str, Checker]] = {
    "run": {"parent": _parent, "nominalTime": _nominal_time, "errorMessage": _error_message},
    "job": {
        "jobType": _job_type,
        "ownership": _ownership,
        "sourceCodeLocation": _source_code_location,
        "sql": _sql,
    },
    "dataset": {
        "schema": check_schema,
        "columnLineage": check_column_lineage,
        "ownership": _ownership,
        "version": _version,
        "symlinks": _symlinks,
        "dataQualityAssertions": _assertions,
    },
    "input": {"dataQualityMetrics": _quality_metrics},
    "output": {"outputStatistics": _output_statistics},
}
