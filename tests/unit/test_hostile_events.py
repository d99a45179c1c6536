"""Hostile and sloppy events at the parser: bad facets cost only themselves, deep nesting and bad
text are clear errors in every reader path, and new events keep the input limits."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ripple.errors import InvalidEvent, MalformedInput
from ripple.graph.native import NATIVE
from ripple.ingest.demo import demo_events
from ripple.ingest.event import parse_event
from ripple.ingest.fastparse import MAX_DEPTH, _deep_at, deep_at, parse_event_json
from ripple.ingest.limits import Limits
from ripple.ingest.pipeline import prepare_logged, prepare_many, prepare_raw, read_event
from ripple.ingest.projection import project
from ripple.model import EdgeKind
from tests.unit.builders import (
    DS_NS,
    JOB_NS,
    TIME,
    column_lineage,
    dataset,
    field_ref,
    parent_facet,
    run_event,
    run_id,
)

NOW = datetime.fromisoformat(TIME.replace("Z", "+00:00"))


def base() -> dict[str, Any]:
    lineage = column_lineage({"b": [field_ref("src", "a")]})
    return run_event("load", [dataset("src", ["a"])], [dataset("dst", ["b"], lineage=lineage)])


def body_of(doc: Any) -> bytes:
    return orjson.dumps(doc)


def set_at(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    target: Any = doc
    for step in path[:-1]:
        if isinstance(target, dict) and step not in target:
            target[step] = {}
        target = target[step]
    target[path[-1]] = value
    return doc


# -- a known facet of the wrong shape is dropped with a warning; the lineage stays -----------------

RUN_F = ("run", "facets")
JOB_F = ("job", "facets")
OUT_F = ("outputs", 0, "facets")
IN_IO = ("inputs", 0, "inputFacets")
OUT_IO = ("outputs", 0, "outputFacets")
GOOD_PARENT = parent_facet(run_id("p"), "dag")

# (where the bad value goes, the value, the facet the warning says was dropped)
VARIANTS: list[tuple[tuple[Any, ...], Any, str]] = [
    # the issue's own examples
    ((*IN_IO, "dataQualityMetrics"), {"rowCount": 3}, "$.inputs[0].inputFacets.dataQualityMetrics"),
    (
        (*OUT_IO, "outputStatistics"),
        {"rowCount": "12"},
        "$.outputs[0].outputFacets.outputStatistics",
    ),
    ((*JOB_F, "ownership"), {"owners": "alice"}, "$.job.facets.ownership"),
    ((*RUN_F, "nominalTime"), "yesterday", "$.run.facets.nominalTime"),
    ((*OUT_F, "schema"), {"fields": "id"}, "$.outputs[0].facets.schema"),
    # run facets
    ((*RUN_F, "nominalTime"), {}, "$.run.facets.nominalTime"),
    ((*RUN_F, "nominalTime"), {"nominalStartTime": "soon"}, "$.run.facets.nominalTime"),
    (
        (*RUN_F, "nominalTime"),
        {"nominalStartTime": TIME, "nominalEndTime": 5},
        "$.run.facets.nominalTime",
    ),
    ((*RUN_F, "parent"), {}, "$.run.facets.parent"),
    ((*RUN_F, "parent"), {**GOOD_PARENT, "run": {"noRunId": "x"}}, "$.run.facets.parent"),
    ((*RUN_F, "parent"), {**GOOD_PARENT, "run": {"runId": "not-a-uuid"}}, "$.run.facets.parent"),
    ((*RUN_F, "parent"), {**GOOD_PARENT, "job": {"namespace": "jobs"}}, "$.run.facets.parent"),
    ((*RUN_F, "parent"), {**GOOD_PARENT, "root": {"run": {}}}, "$.run.facets.parent"),
    ((*RUN_F, "parent"), "dag", "$.run.facets.parent"),
    ((*RUN_F, "errorMessage"), {}, "$.run.facets.errorMessage"),
    ((*RUN_F, "errorMessage"), {"message": 5}, "$.run.facets.errorMessage"),
    ((*RUN_F, "errorMessage"), {"message": "x", "stackTrace": []}, "$.run.facets.errorMessage"),
    (("run", "facets"), "none", "$.run.facets"),
    (("run", "facets"), [], "$.run.facets"),
    ((*RUN_F, "custom"), 3, "$.run.facets.custom"),
    # job facets
    ((*JOB_F, "jobType"), "BATCH", "$.job.facets.jobType"),
    ((*JOB_F, "jobType"), {"jobType": 5}, "$.job.facets.jobType"),
    ((*JOB_F, "ownership"), "alice", "$.job.facets.ownership"),
    ((*JOB_F, "ownership"), {"owners": [{"type": "TEAM"}]}, "$.job.facets.ownership"),
    ((*JOB_F, "ownership"), {"owners": ["alice"]}, "$.job.facets.ownership"),
    ((*JOB_F, "sourceCodeLocation"), {}, "$.job.facets.sourceCodeLocation"),
    ((*JOB_F, "sourceCodeLocation"), {"type": "git", "url": 5}, "$.job.facets.sourceCodeLocation"),
    ((*JOB_F, "sql"), {}, "$.job.facets.sql"),
    ((*JOB_F, "sql"), {"query": ["select 1"]}, "$.job.facets.sql"),
    (("job", "facets"), 3, "$.job.facets"),
    # dataset facets
    ((*OUT_F, "schema"), {"fields": [{"type": "INT"}]}, "$.outputs[0].facets.schema"),
    ((*OUT_F, "schema"), {"fields": ["id"]}, "$.outputs[0].facets.schema"),
    ((*OUT_F, "schema"), "id INT", "$.outputs[0].facets.schema"),
    ((*OUT_F, "schema"), {"fields": [{"name": "a", "fields": "b"}]}, "$.outputs[0].facets.schema"),
    ((*OUT_F, "columnLineage"), {}, "$.outputs[0].facets.columnLineage"),
    ((*OUT_F, "columnLineage"), {"fields": "b"}, "$.outputs[0].facets.columnLineage"),
    ((*OUT_F, "columnLineage"), {"fields": {"b": {}}}, "$.outputs[0].facets.columnLineage"),
    (
        (*OUT_F, "columnLineage"),
        column_lineage({"b": [field_ref("src", "a", "SOMETIMES")]}),
        "$.outputs[0].facets.columnLineage",
    ),
    (
        (*OUT_F, "columnLineage"),
        column_lineage({"b": [{"namespace": DS_NS, "name": "src"}]}),
        "$.outputs[0].facets.columnLineage",
    ),
    ((*OUT_F, "version"), {}, "$.outputs[0].facets.version"),
    ((*OUT_F, "symlinks"), {"identifiers": [{}]}, "$.outputs[0].facets.symlinks"),
    ((*OUT_F, "dataQualityAssertions"), {}, "$.outputs[0].facets.dataQualityAssertions"),
    (
        (*OUT_F, "dataQualityAssertions"),
        {"assertions": [{"assertion": "not_null", "success": "yes"}]},
        "$.outputs[0].facets.dataQualityAssertions",
    ),
    ((*OUT_F, "ownership"), {"owners": "alice"}, "$.outputs[0].facets.ownership"),
    (("outputs", 0, "facets"), "x", "$.outputs[0].facets"),
    # input and output facets
    (
        (*IN_IO, "dataQualityMetrics"),
        {"columnMetrics": {}, "rowCount": "12"},
        "$.inputs[0].inputFacets.dataQualityMetrics",
    ),
    (
        (*IN_IO, "dataQualityMetrics"),
        {"columnMetrics": []},
        "$.inputs[0].inputFacets.dataQualityMetrics",
    ),
    (("inputs", 0, "inputFacets"), "x", "$.inputs[0].inputFacets"),
    ((*OUT_IO, "outputStatistics"), {"size": 1.5}, "$.outputs[0].outputFacets.outputStatistics"),
    ((*OUT_IO, "outputStatistics"), "12 rows", "$.outputs[0].outputFacets.outputStatistics"),
    (("outputs", 0, "outputFacets"), [], "$.outputs[0].outputFacets"),
]


def test_every_facet_variant_of_the_issue_and_more_is_counted() -> None:
    assert len(VARIANTS) >= 50  # the issue found 29 variants; 23 lost their event
    assert len({(path, json.dumps(value)) for path, value, _ in VARIANTS}) == len(VARIANTS)


def lineage_of(delta: Any) -> set[tuple[str, str, str]]:
    return {(e.src, str(e.kind), e.dst) for e in delta.edges}


EXPECTED_LINEAGE = {
    (f"dataset:{DS_NS}:src", str(EdgeKind.READ_BY), f"job:{JOB_NS}:load"),
    (f"job:{JOB_NS}:load", str(EdgeKind.WRITES), f"dataset:{DS_NS}:dst"),
}


@pytest.mark.parametrize(("path", "value", "dropped"), VARIANTS)
def test_a_bad_facet_costs_only_itself(path: tuple[Any, ...], value: Any, dropped: str) -> None:
    doc = set_at(base(), path, value)
    reading = read_event(body_of(doc), None, Limits(clock=lambda: NOW))
    assert [w.dropped for w in reading.warnings] == [dropped]
    warning = reading.warnings[0].as_dict()
    assert warning["path"].startswith(dropped)
    assert warning["reason"]
    assert lineage_of(reading.delta) >= EXPECTED_LINEAGE
    # the dict parser says the same, and every parser projects the same graph
    event = parse_event(doc)
    assert [w.dropped for w in event.warnings] == [dropped]
    assert project(event) == reading.delta
    # and the logged event replays to the same delta
    assert prepare_logged(body_of(doc)).delta == reading.delta


def test_a_good_event_has_no_warnings() -> None:
    assert read_event(body_of(base())).warnings == ()


def test_a_batch_reports_the_warnings_of_its_events() -> None:
    bad = set_at(base(), (*OUT_IO, "outputStatistics"), {"rowCount": "12"})
    prepared = prepare_many([body_of(base()), body_of(bad)])
    assert [p.error for p in prepared] == [None, None]
    assert prepared[0].warnings == ()
    [warning] = prepared[1].warnings
    assert warning.path == "$.outputs[0].outputFacets.outputStatistics.rowCount"


# -- deep nesting, bad text ------------------------------------------------------------------------


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def deep_body(where: str, depth: int) -> bytes:
    """An event with JSON nested `depth` levels inside it at `where` (as text: orjson cannot
    encode it)."""
    inner = '{"a":' * depth + "1" + "}" * depth
    doc = base()
    marker = "__DEEP__"
    if where == "facet":
        doc["job"]["facets"] = {"x": marker}
    elif where == "array":
        inner = "[" * depth + "]" * depth
        doc["run"]["facets"] = {"x": {"list": marker}}
    elif where == "field":
        fields = '{"name":"f"}'
        for _ in range(depth):
            fields = '{"name":"f","fields":[%s]}' % fields  # noqa: UP031
        inner = '{"fields":[%s]}' % fields  # noqa: UP031
        doc["outputs"][0]["facets"]["schema"] = marker
    elif where == "name":
        doc["job"]["name"] = marker
    return body_of(doc).replace(b'"__DEEP__"', inner.encode())


@pytest.mark.parametrize("where", ["facet", "array", "field", "name"])
@pytest.mark.parametrize("depth", [MAX_DEPTH, 1_000, 100_000])
def test_deep_nesting_is_a_clear_422_in_every_reader_path(where: str, depth: int) -> None:
    body = deep_body(where, depth)
    readers = [
        lambda: read_event(body),  # C first
        lambda: parse_event_json(body),  # msgspec, then the dict parser
        lambda: read_event(body, None, Limits(clock=lambda: NOW)),
    ]
    for read in readers:
        with pytest.raises(InvalidEvent) as caught:
            read()
        assert caught.value.path == "$"
        assert f"more than {MAX_DEPTH} levels deep" in caught.value.reason
    [prepared] = prepare_many([body])
    assert prepared.error is not None and "levels deep" in prepared.error.reason


def test_nesting_up_to_the_limit_is_read() -> None:
    # the event, job and facets are three levels; x's dicts the rest
    doc = set_at(base(), (*JOB_F, "x"), nested(MAX_DEPTH - 3))
    assert deep_at(body_of(doc)) == -1
    delta = read_event(body_of(doc)).delta
    assert lineage_of(delta) >= EXPECTED_LINEAGE
    deeper = set_at(base(), (*JOB_F, "x"), nested(MAX_DEPTH - 2))
    with pytest.raises(InvalidEvent):
        read_event(body_of(deeper))


def test_a_deep_event_in_a_batch_costs_only_itself() -> None:
    good = body_of(base())
    prepared = prepare_many([good, deep_body("facet", 5_000), good])
    assert [p.error is None for p in prepared] == [True, False, True]


JSON_TEXT = st.recursive(
    st.none() | st.integers() | st.text(alphabet='[]{}"\\ab\n', max_size=90),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=60,
)


@pytest.mark.skipif(NATIVE is None, reason="the C loops are not built")
@settings(max_examples=500, derandomize=True, deadline=None)
@given(JSON_TEXT, st.integers(min_value=0, max_value=8), st.integers(min_value=0, max_value=70))
def test_the_depth_scan_and_its_twin_agree(value: Any, limit: int, pad: int) -> None:
    import ripple.ingest.fastparse as fastparse

    # padded, so strings, escapes and brackets fall across the C scan's 64-byte blocks
    body = b" " * pad + json.dumps(value).encode()
    assert NATIVE is not None
    native = NATIVE.depth(body, limit)
    saved = fastparse.MAX_DEPTH
    fastparse.MAX_DEPTH = limit
    try:
        assert fastparse._deep_at(body) == native
    finally:
        fastparse.MAX_DEPTH = saved


def test_the_depth_scan_skips_brackets_in_strings() -> None:
    text = json.dumps({"s": "[" * 500 + '\\"' + "{" * 500}).encode()
    assert _deep_at(text) == -1
    assert deep_at(text) == -1
    for pad in range(70):  # an escaped quote or backslash on each side of a block's edge
        for tail in ('\\"', "\\\\", '\\\\\\"'):
            text = b" " * pad + b'["' + tail.encode() + b"[" * 300 + b'"]'
            assert _deep_at(text) == deep_at(text) == -1, (pad, tail)
        deep = b" " * pad + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
        assert _deep_at(deep) == deep_at(deep) == pad + MAX_DEPTH


@pytest.mark.parametrize(
    "body",
    [
        b'{"eventTime": "\xff\xfe", "job": {"namespace": "a", "name": "b"}}',
        body_of(base()).replace(b'"load"', b'"lo\xc3"'),
        body_of(base()).replace(b'"load"', b'"\\ud800"'),
        body_of(base()).replace(b'"load"', b'"\\udc00x"'),
        body_of(set_at(base(), (*JOB_F, "x"), {"s": "__S__"})).replace(b"__S__", b"\\ud800"),
        body_of(set_at(base(), (*JOB_F, "x"), {"__S__": 1})).replace(b"__S__", b"\\udfff"),
        body_of(set_at(base(), (*JOB_F, "x"), {"s": "__S__"})).replace(b"__S__", b"\xed\xa0\x80"),
    ],
    ids=[
        "utf8-time",
        "utf8-name",
        "surrogate-name",
        "low-surrogate",
        "surrogate-facet",
        "surrogate-key",
        "utf8-encoded-surrogate",
    ],
)
def test_invalid_utf8_and_lone_surrogates_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedInput) as caught:
        read_event(body)
    assert "not valid JSON" in str(caught.value)
    prepared = prepare_raw(body)
    assert prepared.error is not None and prepared.error.path == "$"
    [batched] = prepare_many([body])
    assert batched.error is not None and batched.error.path == "$"


# -- limits: new events only -----------------------------------------------------------------------

LIMITS = Limits(max_name_length=32, max_facets=20, max_datasets=4, clock=lambda: NOW)
LONG = "x" * 33


def reject(doc: dict[str, Any], limits: Limits = LIMITS) -> InvalidEvent:
    """The error of every reader path, which must be the same."""
    body = body_of(doc)
    errors = []
    for read in (
        lambda: read_event(body, None, limits),
        lambda: limits.check_event(parse_event(doc)),
    ):
        with pytest.raises(InvalidEvent) as caught:
            read()
        errors.append(caught.value.as_dict())
    [batched] = prepare_many([body], None, limits)
    assert batched.error is not None
    errors.append(batched.error.as_dict())
    assert errors[0] == errors[1] == errors[2]
    # the log replays it whatever the limits: accepted once, read again
    assert prepare_logged(body).error is None
    return InvalidEvent(errors[0]["path"], errors[0]["value"], errors[0]["reason"])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("job", "name"), "$.job.name"),
        (("job", "namespace"), "$.job.namespace"),
        (("inputs", 0, "name"), "$.inputs[0].name"),
        (("outputs", 0, "namespace"), "$.outputs[0].namespace"),
    ],
)
def test_a_name_over_the_limit_is_named(path: tuple[Any, ...], expected: str) -> None:
    doc = set_at(base(), path, LONG)
    if path[0] == "inputs":  # the lineage cites the input by name
        doc["outputs"][0]["facets"].pop("columnLineage")
    error = reject(doc)
    assert error.path == expected
    assert "33 characters long; at most 32" in error.reason


def test_a_field_name_over_the_limit_is_named() -> None:
    doc = run_event("load", ["src"], [dataset("dst", ["id", LONG])])
    error = reject(doc)
    assert error.path == "$.outputs[0].facets.schema.fields"
    assert error.value == LONG
    lineage = column_lineage({"b": [field_ref("src", LONG)]})
    doc = run_event("load", ["src"], [dataset("dst", ["b"], lineage=lineage)])
    assert reject(doc).path.startswith("$.outputs[0].facets.columnLineage")
    lineage = column_lineage({LONG: [field_ref("src", "a")]})
    doc = run_event("load", ["src"], [dataset("dst", lineage=lineage)])
    assert reject(doc).path == "$.outputs[0].facets.columnLineage.fields"


def test_a_parent_job_name_over_the_limit_is_named() -> None:
    doc = run_event(
        "load", ["src"], ["dst"], run_facets={"parent": parent_facet(run_id("p"), LONG)}
    )
    assert reject(doc).path == "$.run.facets.parent.job.name"


def test_names_at_the_limit_pass() -> None:
    doc = run_event("x" * 32, ["y" * 32], [dataset("z" * 32, ["f" * 32])])
    assert read_event(body_of(doc), None, LIMITS).delta is not None


def test_too_many_facets_is_a_422() -> None:
    doc = run_event("load", ["src"], ["dst"], job_facets={f"f{i}": {} for i in range(21)})
    error = reject(doc)
    assert error.path == "$"
    assert "21 facets; at most 20" in error.reason
    doc = run_event("load", ["src"], ["dst"], job_facets={f"f{i}": {} for i in range(10)})
    assert read_event(body_of(doc), None, LIMITS).delta is not None


def test_dropped_facets_count_too() -> None:
    doc = run_event("load", ["src"], ["dst"], job_facets={f"f{i}": "x" for i in range(21)})
    assert "21 facets" in reject(doc).reason


def test_too_many_datasets_is_a_422() -> None:
    doc = run_event("load", ["a", "b", "c"], ["d", "e"])
    error = reject(doc)
    assert "names 5 inputs and outputs; at most 4" in error.reason
    # the same dataset named many times counts each time
    doc = run_event("load", ["a"] * 5)
    assert "names 5 inputs" in reject(doc).reason
    assert read_event(body_of(run_event("load", ["a", "b"], ["c", "d"])), None, LIMITS)


def test_an_event_time_beyond_the_skew_is_named() -> None:
    doc = run_event("load", ["src"], ["dst"], time="9999-12-31T23:59:59Z")
    error = reject(doc)
    assert error.path == "$.eventTime"
    assert "eventTime 9999-12-31T23:59:59+00:00 is more than 86400 s ahead" in error.reason
    later = (NOW + timedelta(seconds=86_400, microseconds=1)).isoformat()
    assert "86400 s ahead" in reject(run_event("load", time=later)).reason
    at_skew = (NOW + timedelta(seconds=86_400)).isoformat()
    assert read_event(body_of(run_event("load", time=at_skew)), None, LIMITS)
    skewed = Limits(max_clock_skew=60, clock=lambda: NOW)
    soon = (NOW + timedelta(minutes=2)).isoformat()
    assert "more than 60 s ahead" in reject(run_event("load", time=soon), skewed).reason


def test_an_event_time_beyond_the_skew_of_a_dataset_event() -> None:
    doc = {"eventTime": "2100-01-01T00:00:00Z", "dataset": {"namespace": "db", "name": "t"}}
    assert reject(doc).path == "$.eventTime"


def test_limits_of_the_clock_move_with_it() -> None:
    body = body_of(run_event("load", time="2030-01-01T00:00:00Z"))
    with pytest.raises(InvalidEvent):
        read_event(body, None, Limits(clock=lambda: NOW))
    later = Limits(clock=lambda: datetime(2030, 1, 1, tzinfo=UTC))
    assert read_event(body, None, later)


@settings(max_examples=200, derandomize=True)
@given(
    st.sampled_from(demo_events()),
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=1, max_value=30),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=-3, max_value=3),
)
def test_the_quick_test_of_c_deltas_never_passes_what_the_check_refuses(
    doc: dict[str, Any], names: int, facets: int, datasets: int, days: int
) -> None:
    event = parse_event(doc)
    limits = Limits(
        names, facets, datasets, 86_400, lambda: event.event_time + timedelta(days=days)
    )
    try:
        limits.check_event(event)
    except InvalidEvent:
        assert not limits.admits(project(event), limits.cutoff())
