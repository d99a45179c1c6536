"""The C projection reads the `symlinks` dataset facet: the shapes the Python parsers accept take
the C path with the same delta; every other shape is declined, and the Python parser names it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ripple.errors import InvalidEvent
from ripple.ingest.event import parse_event
from ripple.ingest.fastparse import fast_delta, parse_event_json
from ripple.ingest.projection import project
from ripple.model import Facet, Prop
from tests.unit.test_native import GENERATED, PYTHON_ONLY, c_loops, check_delta

KEY = Prop.FACET + Facet.SYMLINKS
SPARK = Path("openlineage", "partial", "spark")
SPEC_EXAMPLE = Path("openlineage", "spec", "tests", "SymlinksDatasetFacet", "1.json")


def identifier(**changes: Any) -> dict[str, Any]:
    found = {"namespace": "hive://metastore:9083", "name": "analytics.orders", "type": "TABLE"}
    return {key: value for key, value in {**found, **changes}.items() if value != "DELETE"}


def with_symlinks(facet: Any, side: str = "outputs", at: int = 0) -> dict[str, Any]:
    doc = copy.deepcopy(GENERATED)
    doc[side][at]["facets"][Facet.SYMLINKS] = facet
    return doc


def symlinks_props(doc: dict[str, Any]) -> list[Any]:
    """The facet.symlinks property of each dataset node of the Python delta (None: absent)."""
    delta = project(parse_event_json(orjson.dumps(doc)))
    return [n.props.get(KEY) for n in delta.nodes if n.id.startswith("dataset:")]


VALID = [
    {"identifiers": [identifier()]},
    {
        "_producer": "urn:test",
        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/SymlinksDatasetFacet.json",
        "identifiers": [
            identifier(),
            identifier(namespace="s3://lake", name="warehouse/orders", type="LOCATION"),
            identifier(name="é/ü \u2028 x", extra={"kept": [1, None]}),  # unknown keys kept
        ],
    },
    {"identifiers": None},
    {"identifiers": []},
    {},
    {"identifiers": [identifier(name="x" * 5000)]},
]


@pytest.mark.parametrize("facet", VALID, ids=range(len(VALID)))
@pytest.mark.parametrize("side", ["inputs", "outputs"])
def test_symlinks_of_the_spec_shape_take_the_c_path(facet: Any, side: str) -> None:
    doc = with_symlinks(facet, side)
    event = parse_event_json(orjson.dumps(doc))
    assert event.warnings == []
    assert facet in symlinks_props(doc)  # kept whole, as every facet is
    if not PYTHON_ONLY:
        assert fast_delta(orjson.dumps(doc)) is not None, "C declined symlinks it can read"
        assert check_delta(doc)


def test_symlinks_on_every_dataset_take_the_c_path() -> None:
    doc = copy.deepcopy(GENERATED)
    for side in ("inputs", "outputs"):
        for i, ref in enumerate(doc[side]):
            ref["facets"][Facet.SYMLINKS] = {"identifiers": [identifier(name=f"{side}.{i}")]}
    assert all(props is not None for props in symlinks_props(doc))
    if not PYTHON_ONLY:
        assert check_delta(doc)


# (facet, the path below the facet that the Python parser names, its reason): today's answers
INVALID: list[tuple[Any, str, str]] = [
    ("TABLE", "", "must be an object, not a string"),
    ([identifier()], "", "must be an object, not an array"),
    ({"identifiers": "x"}, ".identifiers", "must be an array, not a string"),
    ({"identifiers": {}}, ".identifiers", "must be an array, not an object"),
    ({"identifiers": identifier()}, ".identifiers", "must be an array, not an object"),
    ({"identifiers": 3}, ".identifiers", "must be an array, not a number"),
    ({"identifiers": ["t"]}, ".identifiers[0]", "must be an object, not a string"),
    ({"identifiers": [None]}, ".identifiers[0]", "must be an object, not null"),
    ({"identifiers": [[identifier()]]}, ".identifiers[0]", "must be an object, not an array"),
    ({"identifiers": [{}]}, ".identifiers[0].namespace", "is required"),
    (
        {"identifiers": [identifier(), identifier(type=None)]},
        ".identifiers[1].type",
        "is required",
    ),
]
for key in ("namespace", "name", "type"):
    INVALID += [
        ({"identifiers": [identifier(**{key: "DELETE"})]}, f".identifiers[0].{key}", "is required"),
        ({"identifiers": [identifier(**{key: None})]}, f".identifiers[0].{key}", "is required"),
        ({"identifiers": [identifier(**{key: ""})]}, f".identifiers[0].{key}", "must not be empty"),
        (
            {"identifiers": [identifier(**{key: 7})]},
            f".identifiers[0].{key}",
            "must be a string, not a number",
        ),
        (
            {"identifiers": [identifier(**{key: ["a"]})]},
            f".identifiers[0].{key}",
            "must be a string, not an array",
        ),
        (
            {"identifiers": [identifier(**{key: True})]},
            f".identifiers[0].{key}",
            "must be a string, not a boolean",
        ),
    ]


@pytest.mark.parametrize(("facet", "below", "reason"), INVALID, ids=range(len(INVALID)))
@pytest.mark.parametrize("side", ["inputs", "outputs"])
def test_symlinks_of_another_shape_are_left_to_the_python_parser(
    facet: Any, below: str, reason: str, side: str
) -> None:
    doc = with_symlinks(facet, side)
    body = orjson.dumps(doc)
    dropped = f"$.{side}[0].facets.{Facet.SYMLINKS}"
    for event in (parse_event_json(body), parse_event(orjson.loads(body))):
        # the event is kept; the facet is left out and reported
        assert [(w.dropped, w.path, w.reason) for w in event.warnings] == [
            (dropped, dropped + below, reason)
        ]
    assert all(props is None for props in symlinks_props(doc))
    if not PYTHON_ONLY:
        assert fast_delta(body) is None, "C read symlinks the Python parser refuses"


def spark_symlinks(fixtures: Path) -> tuple[list[bytes], list[Any]]:
    """The Spark integration's expected events that carry symlinks, and their symlinks facets
    (with the spec's example)."""
    events, found = [], []
    for path in sorted((fixtures / SPARK).glob("*.json")):
        doc = json.loads(path.read_text())
        facets = [
            ref["facets"][Facet.SYMLINKS]
            for side in ("inputs", "outputs")
            for ref in doc.get(side) or ()
            if Facet.SYMLINKS in (ref.get("facets") or {})
        ]
        if facets:
            events.append(doc)
            found.extend(facets)
    found.append(json.loads((fixtures / SPEC_EXAMPLE).read_text())[Facet.SYMLINKS])
    return [orjson.dumps(doc) for doc in events], found


def test_spark_symlinks_take_the_c_path(fixtures_dir: Path) -> None:
    """The Spark expected events are templates: no eventTime, runId or job name, partial parent
    facets. The parsers reject them whole, whatever their symlinks; so their symlinks facets ride
    a generated event here."""
    events, facets = spark_symlinks(fixtures_dir)
    assert len(events) >= 8 and len(facets) >= 8
    for body in events:
        with pytest.raises(InvalidEvent, match=r"\$\.eventTime"):
            parse_event_json(body)
        assert fast_delta(body) is None
    for facet in facets:
        for side in ("inputs", "outputs"):
            doc = with_symlinks(facet, side)
            assert parse_event_json(orjson.dumps(doc)).warnings == []
            assert facet in symlinks_props(doc)
            if not PYTHON_ONLY:
                assert fast_delta(orjson.dumps(doc)) is not None
                assert check_delta(doc)


texts = st.one_of(
    st.sampled_from(["", "a", "é", "TABLE", "s3://b/p"]),
    st.none(),
    st.integers(-1, 1),
    st.booleans(),
    st.just([]),
)
identifiers = st.fixed_dictionaries(
    {},
    optional={"namespace": texts, "name": texts, "type": texts, "extra": texts},
)
facets = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "identifiers": st.one_of(
                st.none(),
                st.lists(st.one_of(identifiers, texts), max_size=3),
                texts,
                identifiers,
            ),
            "_producer": st.just("urn:test"),
        },
    ),
    texts,
)


@c_loops
@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(facets, st.sampled_from(["inputs", "outputs"]))
def test_any_symlinks_agree_or_decline(facet: Any, side: str) -> None:
    doc = with_symlinks(facet, side)
    accepted = check_delta(doc)
    assert accepted == (parse_event_json(orjson.dumps(doc)).warnings == [])
