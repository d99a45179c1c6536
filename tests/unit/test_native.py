"""The C loops (ripple/_native.c) must answer exactly as their Python twins, or decline."""

from __future__ import annotations

import copy
import importlib
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ripple
from bench.generator import events_for
from ripple.errors import RippleError
from ripple.graph import memory
from ripple.graph import native as loader
from ripple.graph.codes import NODE_KINDS, kind_of_id
from ripple.graph.delta import EdgeUpsert, GraphDelta, NodeUpsert, Schema
from ripple.graph.embedded import _image
from ripple.graph.memory import MemoryGraph
from ripple.graph.merge import RANK, wins
from ripple.graph.native import NATIVE
from ripple.ingest import facets, fastparse
from ripple.ingest.columns import FacetMemo, lineage_value
from ripple.ingest.demo import demo_events
from ripple.ingest.event import parse_event
from ripple.ingest.fastparse import fast_delta, fast_deltas, parse_event_json
from ripple.ingest.projection import project
from ripple.model import CHECKED_FACETS, EVENT_TYPES, EdgeKind, Key, NodeKind
from tests.conftest import food_delivery_events
from tests.unit.test_fastparse import mutated, paths

# With RIPPLE_NATIVE=0 (scripts/check runs the unit, contract and API suites so as well) there is
# no C to compare: those runs check the Python twins end to end, and this module only that no
# module took the C loops.
PYTHON_ONLY = os.environ.get("RIPPLE_NATIVE", "1") == "0"
c_loops = pytest.mark.skipif(PYTHON_ONLY, reason="RIPPLE_NATIVE=0: the Python twins alone")


def test_the_c_loops_are_loaded_unless_ripple_native_is_0() -> None:
    if PYTHON_ONLY:
        assert NATIVE is None and memory.NATIVE is None and fastparse.NATIVE is None
        assert fast_delta(orjson.dumps(GENERATED)) is None  # parse_event_json and project run
        return
    # Ripple runs without them, only slower; an install on this project's machines must build them.
    assert NATIVE is not None, "ripple._native is missing: reinstall with a C compiler present"
    assert memory.NATIVE is NATIVE and fastparse.NATIVE is NATIVE


def test_ripple_native_0_turns_the_c_loops_off() -> None:
    code = "from ripple.graph.native import NATIVE; print(NATIVE is None)"
    env = {**os.environ, "RIPPLE_NATIVE": "0"}
    found = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "True"


def test_the_facts_handed_to_c_are_the_parsers() -> None:
    """graph/native.py hands C the checked facets and the OpenLineage keys from model.py; they
    must be what the two Python parsers check and read."""
    assert {where: frozenset(found) for where, found in facets._CHECKERS.items()} == CHECKED_FACETS
    skipped = {"dataset": {"schema", "columnLineage"}}  # fastparse decodes these two itself
    assert {
        where: frozenset(decoders) | skipped.get(where, set())
        for where, decoders in fastparse._FACETS.items()
    } == CHECKED_FACETS
    fields = {
        name
        for kind in vars(fastparse).values()
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct)
        for name in kind.__struct_fields__
    }
    keys = {value for name, value in vars(Key).items() if name.isupper()}
    assert keys <= fields, keys - fields
    assert set(RANK) == {None, *EVENT_TYPES}


SOURCE = Path(ripple.__file__).with_name("_native.c").read_text()


def test_the_twin_table_in_native_c_is_true() -> None:
    header = SOURCE[: SOURCE.index("*/")]
    rows = re.findall(r"^   (\w+) +(ripple\.[\w.]+): ([\w.]+(?:, [\w.]+)*)", header, re.M)
    assert len(rows) > 10
    for c_name, module, names in rows:
        assert re.search(rf"^static [\w *]+\b{c_name}\(", SOURCE, re.M), c_name
        for name in names.split(", "):
            found: Any = importlib.import_module(module)
            for part in name.split("."):
                found = getattr(found, part)  # AttributeError: the table names no such twin
            assert callable(found), (module, name)
    exported = set(re.findall(r'^    \{"(\w+)", ', SOURCE, re.M))
    assert exported == {"setup", "apply", "schema", "lineage", "project", "project_many", "depth"}
    assert exported <= {c_name for c_name, _, _ in rows}


@c_loops
def test_setup_checks_everything_before_it_keeps_anything() -> None:
    with pytest.raises(TypeError, match="missing keyword"):
        native().setup(id_separator=":")
    with pytest.raises(TypeError, match="separators are one character"):
        native().setup(**{**_setup_facts(), "stamp_separator": "||"})
    assert check_delta(GENERATED)  # the module still holds what it held


@c_loops
def test_setup_again_holds_one_reference_to_each_object() -> None:
    held = [wins, kind_of_id, Schema, NODE_KINDS, NodeKind.JOB, EdgeKind.READ_BY]
    facts = _setup_facts()
    before = [sys.getrefcount(item) for item in held]
    for _ in range(3):
        native().setup(**facts)  # each time: the new one kept, the old one released
    assert [sys.getrefcount(item) for item in held] == before
    assert check_delta(GENERATED)


def _setup_facts() -> dict[str, Any]:
    """The keywords graph/native.py hands to setup()."""
    facts: dict[str, Any] = {}

    class Recorder:
        def setup(self, **given: Any) -> None:
            facts.update(given)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ripple, "_native", Recorder())  # what `from ripple import _native` finds
        patch.delenv("RIPPLE_NATIVE", raising=False)
        loader._load()
    return facts


def native() -> Any:
    assert NATIVE is not None
    return NATIVE


# -- lineage ----------------------------------------------------------------------------------


def python_lineage(raw: bytes) -> Any:
    """The Python reading, or why it declines or rejects."""
    try:
        return fastparse._lineage_entries(msgspec.Raw(raw))
    except (fastparse._Unusual, msgspec.DecodeError) as exc:
        return type(exc).__name__


def check_lineage(raw: bytes) -> bool:
    """Equal answers, or a decline; returns whether C answered."""
    found = native().lineage(raw)
    expected = python_lineage(raw)
    if found is None:
        return False
    assert not isinstance(expected, str), f"C read what Python refuses ({expected}): {raw!r}"
    value = lineage_value(*found)
    assert value == expected
    assert all(type(e) is type(w) for e, w in zip(value.entries, expected.entries, strict=True))
    return True


def lineage_facets(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        d["facets"]["columnLineage"]
        for e in events
        for d in e.get("outputs") or []
        if "columnLineage" in (d.get("facets") or {})
    ]


@c_loops
def test_generated_lineage_is_read_in_c() -> None:
    _, events = events_for(200, seed=3)
    facets = lineage_facets(events)
    assert facets
    assert all(check_lineage(orjson.dumps(f)) for f in facets)  # none declined: the fast path


def corpus(fixtures: Path) -> list[dict[str, Any]]:
    """Every JSON document of the shared corpus, and the Marquez seed."""
    docs: list[dict[str, Any]] = food_delivery_events(fixtures)
    for path in sorted(fixtures.rglob("*.json")):
        try:
            loaded = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        docs.extend(
            d for d in (loaded if isinstance(loaded, list) else [loaded]) if isinstance(d, dict)
        )
    return docs


@c_loops
def test_fixture_and_demo_lineage_agree(fixtures_dir: Path) -> None:
    facets = lineage_facets([*demo_events(), *corpus(fixtures_dir)])
    assert len(facets) > 10
    for facet in facets:
        check_lineage(orjson.dumps(facet))
        check_lineage(json.dumps(facet, indent=2).encode())  # whitespace anywhere


@c_loops
def test_declines_what_it_does_not_read() -> None:
    field = {"namespace": "n", "name": "t", "field": "a"}
    cases = [
        {"fields": {"x": {"inputFields": [field], "transformationType": "IDENTITY"}}},  # legacy
        {"fields": {"x": {"inputFields": [{**field, "name": "t\\u00e9"}]}}},  # escapes
        {"fields": {"x": {"inputFields": [{**field, "field": ""}]}}},  # empty name
        {"fields": {"x": {"inputFields": [{**field, "transformations": [{"type": "OTHER"}]}]}}},
        {"fields": {"x": {"inputFields": [{**field, "transformations": [{"subtype": "A"}]}]}}},
        {"fields": {"x": {"inputFields": [{"namespace": "n", "name": "t"}]}}},  # no field
        {"fields": {"x": {}}},  # no inputFields
        {"fields": None},
        {"dataset": []},  # no fields
        {
            "fields": {
                "x": {
                    "inputFields": [
                        {**field, "transformations": [{"type": "DIRECT", "masking": 1}]}
                    ]
                }
            }
        },
    ]
    for case in cases:
        assert native().lineage(orjson.dumps(case)) is None, case
    doubled = b'{"fields": {"x": {"inputFields": []}, "x": {"inputFields": []}}}'
    assert native().lineage(doubled) is None
    assert native().lineage(b'{"fields": {"\xff": {"inputFields": []}}}') is None  # not UTF-8


@c_loops
def test_transformations_before_the_field_they_transform() -> None:
    field = {"transformations": [{"type": "indirect"}], "field": "a", "namespace": "n", "name": "t"}
    raw = orjson.dumps({"fields": {"x": {"inputFields": [field]}}})  # keys in this order
    assert check_lineage(raw)
    assert native().lineage(raw)[0][0].src_column == "datasetField:n:t:a"


@c_loops
def test_dataset_inputs_follow_field_inputs_wherever_they_appear() -> None:
    field = {"namespace": "n", "name": "t", "field": "a"}
    raw = orjson.dumps({"dataset": [field], "fields": {"x": {"inputFields": [field]}}})
    assert check_lineage(raw)
    entries, fields = native().lineage(raw)
    assert [e.type for e in entries] == ["DIRECT", "INDIRECT"] and fields == ("x",)


names = st.sampled_from(["a", "b", "id", "é", "x y", "ns:with/colon", ""])
kinds = st.sampled_from(["DIRECT", "INDIRECT", "direct", "Indirect", "OTHER", "", 3, None])
optional = st.one_of(
    st.none(), st.sampled_from(["", "AGG", "FILTER", "desc ü", 'q"uote']), st.integers(0, 9)
)
transformation = st.fixed_dictionaries(
    {},
    optional={
        "type": kinds,
        "subtype": optional,
        "description": optional,
        "masking": st.one_of(st.booleans(), st.none(), st.integers(0, 1)),
        "_extra": st.one_of(
            st.none(), st.integers(-9, 9), st.lists(st.floats(allow_nan=False), max_size=2)
        ),
    },
)
input_field = st.fixed_dictionaries(
    {},
    optional={
        "namespace": names,
        "name": names,
        "field": names,
        "transformations": st.one_of(st.none(), st.lists(transformation, max_size=3)),
        "_meta": st.dictionaries(st.text(max_size=3), st.integers(-(2**40), 2**40), max_size=2),
    },
)
field_lineage = st.fixed_dictionaries(
    {},
    optional={
        "inputFields": st.lists(input_field, max_size=4),
        "transformationType": st.one_of(st.none(), st.just("IDENTITY")),
        "transformationDescription": st.none(),
    },
)
facet = st.fixed_dictionaries(
    {},
    optional={
        "_producer": st.just("urn:test"),
        "fields": st.one_of(st.none(), st.dictionaries(names, field_lineage, max_size=4)),
        "dataset": st.one_of(st.none(), st.lists(input_field, max_size=3)),
    },
)


@c_loops
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(facet, st.booleans())
def test_any_facet_agrees_or_declines(doc: dict[str, Any], pretty: bool) -> None:
    raw = json.dumps(doc, indent=1, ensure_ascii=False).encode() if pretty else orjson.dumps(doc)
    check_lineage(raw)


# -- schema -----------------------------------------------------------------------------------


def check_schema(raw: bytes) -> bool:
    """Equal fields (equal and interned names), or a decline; returns whether C answered."""
    found = native().schema(raw)
    try:
        expected: Any = fastparse._schema_fields(msgspec.Raw(raw))
    except msgspec.DecodeError as exc:
        expected = type(exc).__name__
    if found is None:
        return False
    assert not isinstance(expected, str), f"C read what Python refuses: {raw!r}"
    assert found == expected
    assert all(sys.intern(name) is name for name, _, _ in found)
    return True


def schema_facets(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        d["facets"]["schema"]
        for e in events
        for d in [*(e.get("inputs") or []), *(e.get("outputs") or [])]
        if "schema" in (d.get("facets") or {})
    ]


@c_loops
def test_generated_and_fixture_schemas_agree(fixtures_dir: Path) -> None:
    _, events = events_for(100, seed=4)
    assert all(check_schema(orjson.dumps(f)) for f in schema_facets(events))
    facets = schema_facets([*demo_events(), *corpus(fixtures_dir)])
    assert len(facets) > 10
    for facet in facets:
        check_schema(orjson.dumps(facet))
        check_schema(json.dumps(facet, indent=2).encode())


@c_loops
def test_schema_declines_what_it_does_not_read() -> None:
    for case in [
        {"fields": [{"type": "INT"}]},  # no name
        {"fields": [{"name": ""}]},
        {"fields": [{"name": "a", "type": 3}]},
        {"fields": [{"name": "a\nb"}]},  # an escape
        {"fields": {"name": "a"}},
        {"fields": [{"name": "a", "fields": [{"name": 1}]}]},
    ]:
        assert native().schema(orjson.dumps(case)) is None, case


schema_field: st.SearchStrategy[dict[str, Any]] = st.deferred(
    lambda: st.fixed_dictionaries(
        {},
        optional={
            "name": names,
            "type": st.one_of(
                st.none(), st.sampled_from(["INT", "", "DECIMAL(18,2)"]), st.integers(0, 3)
            ),
            "description": optional,
            "fields": st.one_of(st.none(), st.lists(schema_field, max_size=3)),
            "_x": st.one_of(st.none(), st.booleans()),
        },
    )
)


@c_loops
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {}, optional={"fields": st.one_of(st.none(), st.lists(schema_field, max_size=4))}
    ),
    st.booleans(),
)
def test_any_schema_agrees_or_declines(doc: dict[str, Any], pretty: bool) -> None:
    raw = json.dumps(doc, indent=1, ensure_ascii=False).encode() if pretty else orjson.dumps(doc)
    check_schema(raw)


# -- apply ----------------------------------------------------------------------------


def deltas(events: list[dict[str, Any]]) -> list[GraphDelta]:
    return [project(parse_event(e)) for e in events]


def graph_state(graph: MemoryGraph) -> dict[str, Any]:
    """Every structure of the graph: what its snapshot holds, and its index."""
    return {**_image(graph), "index": graph.index}


def build(items: list[GraphDelta], use_c: bool, monkeypatch: pytest.MonkeyPatch) -> MemoryGraph:
    with monkeypatch.context() as patch:
        patch.setattr(memory, "NATIVE", NATIVE if use_c else None)
        graph = MemoryGraph()
        for delta in items:
            graph.apply(delta)
        return graph


@c_loops
def test_apply_builds_the_same_graph(fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    native()
    _, generated = events_for(300, seed=5)
    items = deltas([*generated, *demo_events(), *food_delivery_events(fixtures_dir)])
    shuffled = random.Random(7).sample(items, len(items))
    twice = items + shuffled  # every content again, in another order: the re-assertion path
    expected = build(twice, use_c=False, monkeypatch=monkeypatch)
    found = build(twice, use_c=True, monkeypatch=monkeypatch)
    assert graph_state(found) == graph_state(expected)
    assert found.dump() == expected.dump()


@c_loops
def test_apply_fails_like_python(monkeypatch: pytest.MonkeyPatch) -> None:
    native()
    item = deltas(events_for(3, seed=1)[1])[-1]
    for facts in item.columns:
        facts.lineage = tuple(e._replace(src_dataset="dataset:nowhere:x") for e in facts.lineage)
    odd_edge = GraphDelta(item.stamp, item.run, edges=[EdgeUpsert("thing:1", EdgeKind.READ, "x")])
    errors = []
    for use_c in (False, True):
        for bad in (item, odd_edge):
            with pytest.raises((KeyError, ValueError)) as caught:
                build([bad], use_c, monkeypatch)
            errors.append((use_c, type(caught.value), caught.value.args))
    assert [e[1:] for e in errors[:2]] == [e[1:] for e in errors[2:]]
    assert errors[0][2] == ("dataset:nowhere:x",)
    with pytest.raises(TypeError, match=r"graph's index is not a dict"):
        native().apply([], [], bytearray(), [], [], [], {}, {}, item)


@c_loops
def test_ties_are_broken_by_python(monkeypatch: pytest.MonkeyPatch) -> None:
    node = "job:ns:j"
    graphs = []
    for use_c in (False, True):
        items = [
            GraphDelta(
                "2024-01-01T00:00:00|1", None, nodes=[NodeUpsert(node, NodeKind.JOB, {"v": v})]
            )
            for v in ("b", "a", "c", 1)
        ]
        graphs.append(build(items, use_c, monkeypatch))
    assert graph_state(graphs[0]) == graph_state(graphs[1])


# -- project: a decoded event straight to its delta -------------------------------------------


def python_delta(body: bytes) -> Any:
    try:
        return project(parse_event_json(body))
    except RippleError as exc:
        return f"{type(exc).__name__}: {exc}"


def check_delta(doc: Any) -> bool:
    """The C delta equals the Python one, or C declines; returns whether C answered."""
    body = json.dumps(doc).encode()  # (orjson refuses integers beyond 64 bits)
    found = fast_delta(body)
    if found is None:
        return False
    expected = python_delta(body)
    assert not isinstance(expected, str), f"C projected what Python rejects ({expected})"
    assert found == expected
    assert found.nodes == expected.nodes and found.edges == expected.edges  # in the same order
    assert [list(n.props) for n in found.nodes] == [list(n.props) for n in expected.nodes]
    return True


@c_loops
def test_generated_events_are_projected_in_c() -> None:
    _, events = events_for(300, seed=9)
    assert all(check_delta(e) for e in events)  # none declined: the bench's events take it


@c_loops
def test_fixture_and_demo_events_agree(fixtures_dir: Path) -> None:
    docs = [*demo_events(), *corpus(fixtures_dir)]
    answered = sum(check_delta(doc) for doc in docs)
    assert answered > 10  # the common shape is common in the corpus too


GENERATED = events_for(4, seed=2)[1][-1]
SHAPES = [
    "2024-02-29T23:59:59Z",
    "2023-02-29T00:00:00Z",
    "2024-01-01T00:00:00.123456789Z",
    "2024-01-01T00:00:00.5+00:00",
    "2024-01-01T00:00:00-00:00",
    "2024-01-01T00:00:00+02:00",
    "2024-01-01T00:00:00",
    "2024-01-01 00:00:00Z",
    "2024-13-01T00:00:00Z",
    "A2F5B7C4-93C0-4D0B-9A63-0F1C2B3D4E5F",
    "{a2f5b7c4-93c0-4d0b-9a63-0f1c2b3d4e5f}",
    "a2f5b7c493c04d0b9a630f1c2b3d4e5f",
    "complete",
    "Start",
    "fail",
    "",
    None,
    0,
    True,
    [],
    {},
    {"rowCount": 3},
    {"rowCount": 3.5},
    {"rowCount": 2**70},
    {"jobType": "", "processingType": "BATCH"},
    {"jobType": 3},
    {"nominalStartTime": ""},
    {"nominalStartTime": "2024-01-01T00:00:00Z", "nominalEndTime": ""},
    "DELETE",
]


@c_loops
@settings(max_examples=500, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(paths(GENERATED)), st.sampled_from(SHAPES)),
        min_size=1,
        max_size=3,
    )
)
def test_mutated_events_agree_or_decline(changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    check_delta(mutated(GENERATED, changes))


@c_loops
def test_named_twice_and_unusual_events_decline() -> None:
    doc = copy.deepcopy(GENERATED)
    doc["outputs"].append(doc["inputs"][0])  # a dataset read and written: Python merges it
    assert fast_delta(orjson.dumps(doc)) is None
    doc = copy.deepcopy(GENERATED)
    doc["run"]["facets"]["parent"] = {"run": {"runId": doc["run"]["runId"]}, "job": doc["job"]}
    assert fast_delta(orjson.dumps(doc)) is None
    assert check_delta(GENERATED)


@c_loops
def test_batches_and_the_memo_give_the_same_deltas() -> None:
    _, events = events_for(120, seed=11)
    bodies = [orjson.dumps(e) for e in events]
    bodies.append(b'{"rippleRecord": "x"}')  # a sync record's prefix: never an event here
    bodies.append(b"{not json")
    memo = FacetMemo()
    for _ in range(2):  # the second pass finds every schema and lineage in the memo
        found = fast_deltas(bodies, memo)
        assert found[-2:] == [None, None]
        assert found[:-2] == [project(parse_event_json(b)) for b in bodies[:-2]]


@c_loops
def test_unusual_characters_keep_the_digests() -> None:
    doc = copy.deepcopy(GENERATED)
    odd = "é\u2028\x7f/ü"
    for ref in doc["outputs"]:
        for field in ref["facets"]["schema"]["fields"]:
            field["description"] = odd
        lineage = ref["facets"]["columnLineage"]
        lineage["fields"] = {name + odd: spec for name, spec in lineage["fields"].items()}
    assert check_delta(doc)


@c_loops
def test_escaped_keys_and_an_empty_event_type_decline() -> None:
    # msgspec reads "fi\u0065lds" as "fields": comparing raw text would miss it, so C declines.
    assert native().schema(rb'{"fi\u0065lds": [{"name": "a", "type": "INT"}]}') is None
    assert native().schema(rb'{"fields": [{"name": "a", "typ\u0065": "INT"}]}') is None
    field = rb'{"namespace": "n", "name": "t", "field": "a"}'
    assert native().lineage(rb'{"fields": {}, "d\u0061taset": [' + field + b"]}") is None
    assert (
        native().lineage(rb'{"fields": {"x": {"inputFields": [' + field + rb']}}, "\u005fp": 1}')
        is None
    )
    doc = copy.deepcopy(GENERATED)
    doc["eventType"] = ""
    assert fast_delta(orjson.dumps(doc)) is None
    assert isinstance(python_delta(orjson.dumps(doc)), str)  # the full parser rejects it


@c_loops
def test_kinds_given_as_plain_strings_apply_as_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    graphs = []
    for use_c in (False, True):
        item = GraphDelta(
            "2024-01-01T00:00:00|1",
            None,
            nodes=[NodeUpsert("job:ns:j", "job", {"v": 1})],  # type: ignore[arg-type]
            edges=[EdgeUpsert("dataset:ns:d", "READ_BY", "job:ns:j")],  # type: ignore[arg-type]
        )
        graphs.append(build([item], use_c, monkeypatch))
    assert graph_state(graphs[0]) == graph_state(graphs[1])
