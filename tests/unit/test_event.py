import copy
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ripple.errors import MISSING, InvalidEvent
from ripple.graph.delta import LineageEntry
from ripple.ingest.event import parse_event
from ripple.model import DatasetKey, FieldKey, JobKey
from tests.unit.builders import (
    DS_NS,
    JOB_NS,
    column_lineage,
    dataset,
    field_ref,
    parent_facet,
    run_event,
    run_id,
)

RUN = run_id("event-tests")


def minimal_run_event() -> dict[str, Any]:
    return {
        "eventTime": "2026-03-01T10:00:00Z",
        "run": {"runId": RUN},
        "job": {"namespace": "jobs", "name": "load"},
    }


def rejection(doc: Any) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(doc)
    return caught.value


# -- accepted -------------------------------------------------------------------------------------


def test_minimal_run_event_is_accepted() -> None:
    event = parse_event(minimal_run_event())
    assert event.kind == "RunEvent"
    assert event.run is not None
    assert event.run.run_id == uuid.UUID(RUN)
    assert event.job is not None
    assert event.job.key == JobKey("jobs", "load")
    assert event.inputs == []
    assert event.outputs == []


def test_schema_url_event_type_and_producer_may_be_missing() -> None:
    event = parse_event(minimal_run_event())
    assert event.event_type is None
    assert event.producer is None


def test_event_type_is_read_case_insensitively() -> None:
    doc = minimal_run_event() | {"eventType": "complete"}
    assert parse_event(doc).event_type == "COMPLETE"


def test_full_run_event_keeps_producer_and_datasets() -> None:
    doc = run_event("load", ["src"], [dataset("dst", ["a"])], event_type="START")
    event = parse_event(doc)
    assert event.event_type == "START"
    assert event.producer == doc["producer"]
    assert [d.key for d in event.inputs] == [DatasetKey(DS_NS, "src")]
    assert [d.key for d in event.outputs] == [DatasetKey(DS_NS, "dst")]
    schema = event.outputs[0].schema
    assert schema is not None
    assert schema.fields == (("a", "TEXT", None),)


def test_dataset_event_is_accepted() -> None:
    doc = {
        "eventTime": "2026-03-01T10:00:00Z",
        "producer": "p",
        "dataset": {"namespace": "db", "name": "orders", "facets": {"schema": {"fields": []}}},
    }
    event = parse_event(doc)
    assert event.kind == "DatasetEvent"
    assert event.run is None
    assert event.job is None
    assert event.inputs == []
    assert [d.key for d in event.outputs] == [DatasetKey("db", "orders")]


def test_job_event_has_no_run_and_may_carry_an_event_type() -> None:
    doc = {
        "eventTime": "2026-03-01T10:00:00Z",
        "eventType": "COMPLETE",
        "job": {"namespace": "jobs", "name": "load"},
        "inputs": [{"namespace": "db", "name": "src"}],
    }
    event = parse_event(doc)
    assert event.kind == "JobEvent"
    assert event.run is None
    assert event.event_type == "COMPLETE"
    assert event.job is not None
    assert event.job.key == JobKey("jobs", "load")
    assert [d.key for d in event.inputs] == [DatasetKey("db", "src")]


def test_nanosecond_timestamps_are_cut_to_microseconds() -> None:
    doc = minimal_run_event() | {"eventTime": "2026-03-01T10:00:00.123456789Z"}
    assert parse_event(doc).event_time == datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)


def test_timestamps_without_zone_are_utc() -> None:
    doc = minimal_run_event() | {"eventTime": "2026-03-01T10:00:00"}
    parsed = parse_event(doc).event_time
    assert parsed == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert parsed.utcoffset() == timedelta(0)


def test_timestamps_with_an_offset_are_converted_to_utc() -> None:
    doc = minimal_run_event() | {"eventTime": "2026-03-01T12:00:00.5+02:00"}
    parsed = parse_event(doc).event_time
    assert parsed == datetime(2026, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert parsed.tzinfo == UTC
    assert parsed == datetime(2026, 3, 1, 12, 0, 0, 500000, tzinfo=timezone(timedelta(hours=2)))


def test_unknown_facets_are_kept_raw() -> None:
    custom = {"_producer": "p", "anything": [1, {"nested": True}], "n": None}
    doc = run_event(
        "load",
        [dataset("src", facets={"myCustomFacet": custom})],
        [],
        run_facets={"spark_version": {"version": 3}},
        job_facets={"airflow": {"dag": "x"}},
    )
    event = parse_event(doc)
    assert event.inputs[0].facets["myCustomFacet"] == custom
    assert event.run is not None
    assert event.run.facets["spark_version"] == {"version": 3}
    assert event.job is not None
    assert event.job.facets["airflow"] == {"dag": "x"}


def test_known_run_facets_are_read() -> None:
    parent = run_id("parent")
    doc = run_event(
        "child",
        event_type="FAIL",
        run_facets={
            "parent": parent_facet(parent, "orchestrator")
            | {
                "root": {
                    "run": {"runId": run_id("root")},
                    "job": {"namespace": "airflow", "name": "dag"},
                }
            },
            "nominalTime": {"nominalStartTime": "2026-03-01T00:00:00Z"},
            "errorMessage": {"message": "boom", "programmingLanguage": "python"},
        },
    )
    run = parse_event(doc).run
    assert run is not None
    assert run.parent == (uuid.UUID(parent), JobKey(JOB_NS, "orchestrator"))
    assert run.root == (uuid.UUID(run_id("root")), JobKey("airflow", "dag"))
    assert run.nominal_start == datetime(2026, 3, 1, tzinfo=UTC)
    assert run.nominal_end is None
    assert run.error_message == "boom"


def test_known_job_facets_are_read() -> None:
    doc = run_event(
        "load",
        job_facets={
            "jobType": {"processingType": "BATCH", "integration": "SPARK", "jobType": "QUERY"},
            "ownership": {"owners": [{"name": "team:data", "type": "TEAM"}]},
            "sourceCodeLocation": {"type": "git", "url": "https://git.example.com/etl"},
        },
    )
    job = parse_event(doc).job
    assert job is not None
    assert job.job_type == "QUERY"
    assert job.owners == ("team:data",)
    assert job.source_location == "https://git.example.com/etl"


def test_column_lineage_transformations_are_read() -> None:
    lineage = column_lineage(
        {
            "total": [
                field_ref("src", "amount", "DIRECT", "AGGREGATION", masking=False),
                field_ref("src", "status", "indirect", "FILTER"),
            ]
        },
        dataset=[field_ref("src", "region", "INDIRECT", "GROUP_BY")],
    )
    doc = run_event("load", ["src"], [dataset("dst", lineage=lineage)])
    lineage_value = parse_event(doc).outputs[0].lineage
    assert lineage_value is not None
    src = DatasetKey(DS_NS, "src")

    def entry(field: str, dst: str | None, kind: str, subtype: str) -> LineageEntry:
        column = FieldKey(src, field).node_id
        return LineageEntry(src.node_id, column, dst, kind, subtype, None, False)

    assert lineage_value.entries == (
        entry("amount", "total", "DIRECT", "AGGREGATION"),
        entry("status", "total", "INDIRECT", "FILTER"),
        entry("region", None, "INDIRECT", "GROUP_BY"),
    )
    assert lineage_value.fields == ("total",)


def test_legacy_column_lineage_becomes_a_transformation_with_subtype() -> None:
    lineage = {
        "fields": {
            "total": {
                "inputFields": [{"namespace": DS_NS, "name": "src", "field": "amount"}],
                "transformationType": "AGGREGATION",
                "transformationDescription": "sum(amount)",
            },
            "flag": {
                "inputFields": [{"namespace": DS_NS, "name": "src", "field": "status"}],
                "transformationType": "INDIRECT",
                "transformationDescription": "where status = 'ok'",
            },
            "id": {"inputFields": [{"namespace": DS_NS, "name": "src", "field": "id"}]},
        }
    }
    doc = run_event("load", ["src"], [dataset("dst", lineage=lineage)])
    lineage_value = parse_event(doc).outputs[0].lineage
    assert lineage_value is not None
    by_field = {e.dst_field: (e.type, e.subtype, e.description) for e in lineage_value.entries}
    assert by_field == {
        "total": ("DIRECT", "AGGREGATION", "sum(amount)"),
        "flag": ("INDIRECT", None, "where status = 'ok'"),
        "id": ("DIRECT", None, None),
    }


def test_nested_schema_fields_flatten_to_dotted_names() -> None:
    schema = {
        "fields": [
            {"name": "id", "type": "INT"},
            {
                "name": "address",
                "type": "STRUCT",
                "fields": [
                    {"name": "city", "type": "STRING", "description": "town"},
                    {
                        "name": "geo",
                        "type": "STRUCT",
                        "fields": [{"name": "lat", "type": "DOUBLE"}],
                    },
                ],
            },
        ]
    }
    doc = run_event("load", [], [dataset("dst", facets={"schema": schema})])
    schema_value = parse_event(doc).outputs[0].schema
    assert schema_value is not None
    assert schema_value.fields == (
        ("id", "INT", None),
        ("address", "STRUCT", None),
        ("address.city", "STRING", "town"),
        ("address.geo", "STRUCT", None),
        ("address.geo.lat", "DOUBLE", None),
    )


# -- rejected -------------------------------------------------------------------------------------


def with_change(path: list[str | int], value: Any) -> dict[str, Any]:
    """A valid event with one value set (or, for MISSING, removed) at `path`."""
    doc = run_event(
        "load",
        [dataset("src", ["a"])],
        [dataset("dst", ["b"], lineage=column_lineage({"b": [field_ref("src", "a")]}))],
    )
    doc = copy.deepcopy(doc)
    target: Any = doc
    for step in path[:-1]:
        if isinstance(target, dict) and step not in target:
            target[step] = {}
        target = target[step]
    if value is MISSING:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


LINEAGE_INPUT = ["outputs", 0, "facets", "columnLineage", "fields", "b", "inputFields", 0]


@pytest.mark.parametrize(
    ("path", "value", "expected_path", "reason"),
    [
        (["job", "namespace"], MISSING, "$.job.namespace", "is required"),
        (["job", "name"], "", "$.job.name", "must not be empty"),
        (["job"], MISSING, "$.job", "is required"),
        (["run", "runId"], MISSING, "$.run.runId", "is required"),
        (["run", "runId"], "run-42", "$.run.runId", "must be a UUID"),
        (["run", "runId"], 42, "$.run.runId", "must be a string"),
        (["eventTime"], "yesterday", "$.eventTime", "ISO-8601"),
        (["eventTime"], MISSING, "$.eventTime", "is required"),
        (["eventType"], "DONE", "$.eventType", "must be one of"),
        (["inputs"], {"namespace": "db", "name": "src"}, "$.inputs", "must be an array"),
        (["outputs", 0], "dst", "$.outputs[0]", "must be an object"),
        (["inputs", 0, "namespace"], MISSING, "$.inputs[0].namespace", "is required"),
    ],
)
def test_rejection_names_the_path_and_the_reason(
    path: list[str | int], value: Any, expected_path: str, reason: str
) -> None:
    error = rejection(with_change(path, value))
    assert error.path == expected_path
    assert reason in error.reason


# -- a known facet of the wrong shape is dropped, with a warning; the event's lineage is kept ----


@pytest.mark.parametrize(
    ("path", "value", "expected_path", "reason"),
    [
        (["run", "facets", "x"], 3, "$.run.facets.x", "must be an object"),
        (["job", "facets"], [], "$.job.facets", "must be an object"),
        (
            ["job", "facets", "ownership"],
            {"owners": [{"type": "TEAM"}]},
            "$.job.facets.ownership.owners[0].name",
            "is required",
        ),
        (
            ["outputs", 0, "outputFacets", "outputStatistics"],
            {"rowCount": "12"},
            "$.outputs[0].outputFacets.outputStatistics.rowCount",
            "must be an integer",
        ),
        (
            ["run", "facets", "parent"],
            {"run": {}, "job": {"namespace": "jobs", "name": "p"}},
            "$.run.facets.parent.run.runId",
            "is required",
        ),
        (
            ["run", "facets", "parent"],
            {"run": {"runId": RUN}},
            "$.run.facets.parent.job",
            "is required",
        ),
        (
            [*LINEAGE_INPUT, "transformations", 0, "type"],
            "SOMETIMES",
            ("$.outputs[0].facets.columnLineage.fields.b.inputFields[0].transformations[0].type"),
            "must be DIRECT or INDIRECT",
        ),
        (
            [*LINEAGE_INPUT, "field"],
            MISSING,
            "$.outputs[0].facets.columnLineage.fields.b.inputFields[0].field",
            "is required",
        ),
        (
            ["outputs", 0, "facets", "schema", "fields", 0, "name"],
            MISSING,
            "$.outputs[0].facets.schema.fields[0].name",
            "is required",
        ),
        (
            ["run", "facets", "errorMessage"],
            {"programmingLanguage": "python"},
            "$.run.facets.errorMessage.message",
            "is required",
        ),
    ],
)
def test_a_bad_facet_is_dropped_with_a_warning_naming_the_path(
    path: list[str | int], value: Any, expected_path: str, reason: str
) -> None:
    event = parse_event(with_change(path, value))
    assert [w.path for w in event.warnings] == [expected_path]
    warning = event.warnings[0]
    assert reason in warning.reason
    assert expected_path.startswith(warning.dropped)
    assert warning.as_dict()["dropped"] == warning.dropped
    # the lineage stays: job, run, both datasets
    assert event.job is not None and event.job.key == JobKey(JOB_NS, "load")
    assert event.run is not None
    assert [ref.key.name for ref in (*event.inputs, *event.outputs)] == ["src", "dst"]
    # and the dropped facet is nowhere in the event
    facet = warning.dropped.rsplit(".", 1)[-1]
    holders = [event.job.facets, event.run.facets]
    holders += [h for ref in (*event.inputs, *event.outputs) for h in (ref.facets, ref.io_facets)]
    if facet not in ("facets", "inputFacets", "outputFacets"):
        assert all(facet not in holder for holder in holders)
    if facet == "schema":
        assert event.outputs[0].schema is None
    if facet == "columnLineage":
        assert event.outputs[0].lineage is None


def test_rejection_of_a_document_that_is_not_an_object() -> None:
    error = rejection([minimal_run_event()])
    assert error.path == "$"
    assert "must be an object" in error.reason


def test_a_run_without_run_id_is_not_taken_for_a_job_event() -> None:
    doc = minimal_run_event()
    doc["run"] = {}
    assert rejection(doc).path == "$.run.runId"


def test_invalid_event_as_dict_has_path_value_and_reason() -> None:
    error = rejection(with_change(["run", "runId"], "run-42"))
    assert error.as_dict() == {
        "path": "$.run.runId",
        "value": "run-42",
        "reason": "must be a UUID",
    }


def test_invalid_event_as_dict_of_a_missing_value_is_null() -> None:
    error = rejection(with_change(["job", "namespace"], MISSING))
    assert error.as_dict() == {"path": "$.job.namespace", "value": None, "reason": "is required"}


def test_invalid_event_as_dict_keeps_the_offending_number() -> None:
    error = rejection(with_change(["run", "runId"], 3))
    assert error.as_dict()["value"] == 3
    assert "$.run.runId" in str(error)
