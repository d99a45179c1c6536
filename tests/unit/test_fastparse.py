"""The fast parser (msgspec) must answer exactly as the full parser: same Event, same error."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ripple.errors import RippleError
from ripple.ingest.demo import demo_events
from ripple.ingest.event import parse_event
from ripple.ingest.fastparse import parse_event_json
from tests.unit.builders import column_lineage, dataset, field_ref, parent_facet, run_event, run_id


def both(doc: Any) -> tuple[Any, Any]:
    """(result or error text) from each parser."""
    answers = []
    for parse in (lambda: parse_event(doc), lambda: parse_event_json(orjson.dumps(doc))):
        try:
            answers.append(parse())
        except RippleError as exc:
            answers.append(f"{type(exc).__name__}: {exc}")
    return answers[0], answers[1]


def rich_event() -> dict[str, Any]:
    lineage = column_lineage(
        {"b": [field_ref("src", "a", "DIRECT", "IDENTITY"), field_ref("src", "c", "INDIRECT")]},
        dataset=[field_ref("src", "c", "INDIRECT", "FILTER")],
    )
    return run_event(
        "load",
        [dataset("src", ["a", "c"])],
        [dataset("dst", ["b"], lineage=lineage)],
        run=run_id("r"),
        run_facets={
            "parent": parent_facet(run_id("p"), "dag"),
            "nominalTime": {"nominalStartTime": "2024-01-01T00:00:00Z"},
            "errorMessage": {"message": "boom", "programmingLanguage": "python"},
        },
    )


@pytest.mark.parametrize("doc", [rich_event(), *demo_events()], ids=lambda d: d["job"]["name"])
def test_valid_events_parse_the_same(doc: dict[str, Any]) -> None:
    slow, fast = both(doc)
    assert not isinstance(slow, str)
    assert fast == slow


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(paths(item, (*prefix, i)))
    return found


def mutated(doc: Any, changes: list[tuple[tuple[Any, ...], Any]]) -> Any:
    """A copy of `doc` with the value at each path replaced ("DELETE" removes the key); a path
    that no longer leads anywhere is skipped."""
    doc = copy.deepcopy(doc)
    for path, value in changes:
        target: Any = doc
        try:
            for step in path[:-1]:
                target = target[step]
            if value == "DELETE" and isinstance(target, dict):
                target.pop(path[-1], None)
            else:
                target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    return doc


RICH = rich_event()
PATHS = paths(RICH)
REPLACEMENTS = st.sampled_from(
    [
        None,
        "",
        "x",
        0,
        1.5,
        True,
        [],
        {},
        "2024-01-01",
        "DIRECT",
        "indirect",
        "not-a-uuid",
        "DELETE",
    ]
)


@settings(max_examples=400, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), REPLACEMENTS), min_size=1, max_size=3))
def test_mutated_events_get_the_same_answer(changes: list[tuple[tuple[Any, ...], Any]]) -> None:
    slow, fast = both(mutated(RICH, changes))
    assert fast == slow
