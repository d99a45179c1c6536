"""The merge rule (graph/merge.py): a later stamp wins, ties are broken the same way whatever the
order, and both stores apply it."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ripple.graph import memory
from ripple.graph.delta import GraphDelta, NodeUpsert
from ripple.graph.memory import MemoryGraph
from ripple.graph.merge import (
    RANK,
    Record,
    combine,
    later,
    merge,
    stamp,
    time_of,
    touch,
    wins,
)
from ripple.graph.native import NATIVE
from ripple.graph.neo4j.batch import merged, merged_version
from ripple.model import EVENT_TYPES, NodeKind

T1, T2 = "2024-01-01T00:00:00.000000+00:00", "2024-01-02T00:00:00.000000+00:00"


def test_a_stamp_is_the_time_then_the_rank_of_the_run_state() -> None:
    assert stamp(T1, "COMPLETE") == f"{T1}|3"
    assert stamp(T1, None) == stamp(T1, "OTHER") == stamp(T1, "no such state") == f"{T1}|0"
    assert time_of(stamp(T1, "START")) == T1
    # among events of one time a later lifecycle state wins; a later time wins whatever the state
    assert stamp(T1, "START") < stamp(T1, "RUNNING") < stamp(T1, "COMPLETE")
    assert stamp(T1, "FAIL") < stamp(T2, "START")
    assert set(RANK) == {None, *EVENT_TYPES}


def test_later_is_a_later_stamp_or_the_same_stamp_from_a_greater_run() -> None:
    s1, s2 = stamp(T1, "START"), stamp(T1, "COMPLETE")
    assert later(s1, None, None, None)  # nothing kept yet
    assert later(s2, "run:a", s1, "run:b") and not later(s1, "run:b", s2, "run:a")
    assert later(s1, "run:b", s1, "run:a") and not later(s1, "run:a", s1, "run:b")
    assert later(s1, "run:a", s1, None) and not later(s1, None, s1, "run:a")  # no run is ""
    assert not later(s1, "run:a", s1, "run:a")  # the same assertion again changes nothing


def test_touch_keeps_the_earliest_time_and_the_latest_stamp_with_its_run() -> None:
    record: Record = [None, None, None, None, None]
    touch(record, T2, stamp(T2, "START"), "run:b")
    touch(record, T1, stamp(T1, "COMPLETE"), "run:a")
    assert record[:3] == [T1, stamp(T2, "START"), "run:b"]


def test_merge_keeps_each_property_with_its_latest_stamp() -> None:
    record: Record = [T1, stamp(T1, "START"), None, None, None]
    merge(record, {"state": "START", "owner": "x"}, stamp(T1, "START"))
    merge(record, {"state": "COMPLETE"}, stamp(T1, "COMPLETE"))
    merge(record, {"state": "RUNNING", "owner": "y"}, stamp(T1, "RUNNING"))
    assert record[3] == {"state": "COMPLETE", "owner": "y"}
    assert record[4] == {"state": stamp(T1, "COMPLETE"), "owner": stamp(T1, "RUNNING")}


def test_a_tie_goes_to_the_greater_canonical_json_and_an_equal_value_changes_nothing() -> None:
    assert wins("b", "a") and not wins("a", "b")
    assert not wins({"x": 1, "y": 2}, {"y": 2, "x": 1})  # equal: keys sorted, no change
    assert wins({"a": 2}, {"a": 1}) and wins(None, 1) and not wins(1, None)  # "null" > "1"
    one = stamp(T1, "START")
    for values in itertools.permutations(["b", "a", "c", 1]):
        record: Record = [T1, one, None, None, None]
        for value in values:
            merge(record, {"v": value}, one)
        assert record[3] == {"v": 1}  # b'1' is the greatest JSON of the four (b'"c"' next)


assertion = st.tuples(
    st.sampled_from([T1, T2]),
    st.sampled_from([None, *EVENT_TYPES]),
    st.sampled_from([None, "run:a", "run:b"]),
    st.dictionaries(
        st.sampled_from(["state", "owner", "n"]),
        st.one_of(st.none(), st.integers(0, 2), st.sampled_from(["x", "y"])),
        max_size=3,
    ),
)


def applied(assertions: list[tuple[str, str | None, str | None, dict[str, Any]]]) -> Record:
    record: Record = [None, None, None, None, None]
    for time, event_type, run, props in assertions:
        touch(record, time, stamp(time, event_type), run)
        merge(record, props, stamp(time, event_type))
    return record


def as_record(assertion: tuple[str, str | None, str | None, dict[str, Any]]) -> Record:
    time, event_type, run, props = assertion
    s = stamp(time, event_type)
    return [time, s, run, dict(props), dict.fromkeys(props, s)]


@settings(max_examples=300)
@given(st.lists(assertion, min_size=1, max_size=6), st.randoms(use_true_random=False))
def test_any_order_any_number_of_times_gives_one_record(
    assertions: list[tuple[str, str | None, str | None, dict[str, Any]]], rng: random.Random
) -> None:
    expected = applied(assertions)
    shuffled = rng.sample(assertions, len(assertions))
    assert applied(shuffled + assertions) == expected  # reordered, and repeated
    # combining records one by one (the Neo4j store's way) gives the same record too
    folded = as_record(shuffled[0])
    for item in shuffled[1:]:
        folded = combine(folded, as_record(item))
    assert folded[:3] == expected[:3]
    assert (folded[3] or {}) == (expected[3] or {}) and (folded[4] or {}) == (expected[4] or {})


@given(assertion, assertion)
def test_combine_is_commutative_and_changes_neither_record(
    a: tuple[str, str | None, str | None, dict[str, Any]],
    b: tuple[str, str | None, str | None, dict[str, Any]],
) -> None:
    old, new = as_record(a), as_record(b)
    old_copy, new_copy = (
        [list(old[:3]), dict(old[3]), dict(old[4])],
        [list(new[:3]), new[3], new[4]],
    )
    assert combine(old, new) == combine(new, old)
    assert combine(old, old) == old
    assert [old[:3], old[3], old[4]] == old_copy and [new[:3], new[3], new[4]] == new_copy


def test_the_neo4j_store_merges_by_the_same_rule() -> None:
    stored = as_record((T1, "START", "run:a", {"state": "START"}))
    batch = as_record((T1, "COMPLETE", "run:a", {"state": "COMPLETE"}))
    assert merged(stored, batch, explicit=True) == combine(stored, batch)
    assert merged(batch, stored, explicit=True) is None  # the stored record stands: no write
    assert merged(stored, stored, explicit=True) is None  # nothing changes: nothing written
    version = [T2, stamp(T2, "START"), "run:b", ("payload",)]
    again = [T1, stamp(T1, "START"), "run:a", ("payload",)]
    expected: Record = list(version)
    touch(expected, again[0], again[1], again[2])
    assert merged_version(version, again) == expected
    assert merged_version(version, version) is None


@pytest.mark.parametrize("use_c", [False, True])
def test_the_embedded_store_merges_by_the_same_rule(
    use_c: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if use_c and NATIVE is None:
        pytest.skip("no C loops (RIPPLE_NATIVE=0 or not built)")
    assertions = [
        (T1, "COMPLETE", "run:b", {"state": "COMPLETE", "v": "a"}),
        (T1, "START", "run:a", {"state": "START", "v": "b"}),
        (T1, "COMPLETE", "run:a", {"v": "c"}),
    ]
    monkeypatch.setattr(memory, "NATIVE", NATIVE if use_c else None)
    graph = MemoryGraph()
    for time, event_type, run, props in assertions:
        node = NodeUpsert("job:ns:j", NodeKind.JOB, dict(props))
        graph.apply(GraphDelta(stamp(time, event_type), run, nodes=[node]))
    assert graph.records[graph.index["job:ns:j"]] == applied(assertions)
