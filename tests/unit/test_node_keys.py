"""Node ids are injective: two different (namespace, name) pairs — or (namespace, name, field)
triples — are never one node, in the Python twins and in the C loops alike (issue 19)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ripple.errors import InvalidNodeId
from ripple.graph.memory import MemoryGraph
from ripple.ingest.columns import FacetMemo
from ripple.ingest.fastparse import fast_delta
from ripple.model import (
    DatasetKey,
    FieldKey,
    JobKey,
    field_part,
    pair_body,
    parse_node_id,
    readings,
    reads_back,
)
from tests.unit.test_native import build, c_loops, check_delta, check_lineage, graph_state

# the characters Marquez's rule turns on, and the escapes'
_TEXT = st.text(alphabet=":/0a~%", min_size=1, max_size=8)


def test_the_issues_two_pairs_are_two_ids() -> None:
    one, two = DatasetKey("team:b", "c"), DatasetKey("team", "b:c")
    assert one.node_id != two.node_id
    assert two.node_id == "dataset:team:b:c"  # the Marquez id, as it reads back
    assert one.node_id == "dataset:~team%3Ab:c"
    assert parse_node_id(one.node_id) == one and parse_node_id(two.node_id) == two
    assert set(readings("dataset:team:b:c")) == {one, two}


def test_real_ids_keep_their_marquez_form() -> None:
    for ns, name in [
        ("postgres://db:5432", "analytics.orders"),
        ("s3://lake-raw", "raw/source_1"),
        ("bigquery", "project.dataset.table"),
        ("users", "2fa_enabled"),
        ("kafka://broker:9092", "topic"),
    ]:
        assert DatasetKey(ns, name).node_id == f"dataset:{ns}:{name}"
        assert JobKey(ns, name).node_id == f"job:{ns}:{name}"
        assert FieldKey(DatasetKey(ns, name), "id").node_id == f"datasetField:{ns}:{name}:id"


def test_columns_with_a_colon_in_their_field_are_apart() -> None:
    one = FieldKey(DatasetKey("a", "b"), "c:d")
    two = FieldKey(DatasetKey("a", "b:c"), "d")
    assert one.node_id != two.node_id
    assert one.node_id == "datasetField:a:b:~c%3Ad"
    assert parse_node_id(one.node_id) == one and parse_node_id(two.node_id) == two
    assert set(readings("datasetField:a:b:c:d")) >= {one, two}


def test_an_escaped_id_means_only_itself_and_bad_ones_say_why() -> None:
    assert readings("dataset:~team%3Ab:c") == [DatasetKey("team:b", "c")]
    with pytest.raises(InvalidNodeId, match="dataset:~<escaped namespace>:<name>"):
        parse_node_id("dataset:~team")


@given(_TEXT, _TEXT, _TEXT)
def test_ids_are_injective_and_read_back(ns: str, name: str, field: str) -> None:
    dataset, job, column = (
        DatasetKey(ns, name),
        JobKey(ns, name),
        FieldKey(DatasetKey(ns, name), field),
    )
    assert parse_node_id(dataset.node_id) == dataset
    assert parse_node_id(job.node_id) == job
    assert parse_node_id(column.node_id) == column
    assert dataset in readings(f"dataset:{ns}:{name}") or ns.startswith("~")
    # a column's id is its dataset's with the column prefix, plus ':' and its field's part
    assert column.node_id == "datasetField:" + pair_body(ns, name) + ":" + field_part(field)
    if reads_back(ns, name) and not ns.startswith("~"):
        assert dataset.node_id == f"dataset:{ns}:{name}"


# -- the C loops agree with the Python twins -----------------------------------------------


def _event(pairs: list[tuple[str, str]], field: str = "x") -> dict[str, Any]:
    (job_ns, job_name), *datasets = pairs
    inputs = [{"namespace": ns, "name": name} for ns, name in datasets[:-1]]
    ns, name = datasets[-1]
    sources = [{"namespace": i["namespace"], "name": i["name"], "field": field} for i in inputs]
    return {
        "eventType": "COMPLETE",
        "eventTime": "2024-01-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": job_ns, "name": job_name},
        "inputs": inputs,
        "outputs": [
            {
                "namespace": ns,
                "name": name,
                "facets": {
                    "schema": {"fields": [{"name": field}, {"name": "y"}]},
                    "columnLineage": {"fields": {field: {"inputFields": sources}}},
                },
            }
        ],
    }


_PAIR = st.tuples(_TEXT, _TEXT)


@c_loops
@settings(max_examples=300, deadline=None)
@given(st.lists(_PAIR, min_size=3, max_size=4, unique=True), _TEXT)
def test_c_projection_agrees_or_declines_escaped_ids(pairs: list[tuple[str, str]], f: str) -> None:
    doc = _event(pairs, f)
    projected = check_delta(doc)
    plain = all(pair_body(ns, name) == f"{ns}:{name}" for ns, name in pairs)
    assert projected == plain  # C builds exactly the ids that need no escaping
    lineage = doc["outputs"][0]["facets"]["columnLineage"]
    read = check_lineage(json.dumps(lineage).encode())
    cited = all(pair_body(ns, name) == f"{ns}:{name}" for ns, name in pairs[1:-1])
    assert read == (cited and field_part(f) == f)


@c_loops
def test_c_apply_escapes_fields_as_python(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [
        _event([("etl", "j"), ("team:b", "c"), ("team", "b:c")], "a:b"),
        _event([("etl", "k"), ("team", "b:c"), ("team:b", "c")], "~x"),
        _event([("etl", "l"), ("a", "b"), ("a", "b:c")], "c:d"),
    ]
    from ripple.ingest.event import parse_event
    from ripple.ingest.projection import project

    items = [project(parse_event(d, FacetMemo())) for d in docs]
    with_c, without = build(items, True, monkeypatch), build(items, False, monkeypatch)
    assert graph_state(with_c) == graph_state(without)
    datasets = {i for i in with_c.ids if i.startswith("dataset:")}
    assert {"dataset:team:b:c", "dataset:~team%3Ab:c", "dataset:a:b", "dataset:a:b:c"} == datasets
    assert "datasetField:~team%3Ab:c:~a%3Ab" in with_c.index
    assert "datasetField:team:b:c:~~x" in with_c.index


def test_the_two_pairs_are_two_nodes_in_a_graph() -> None:
    graph = MemoryGraph()
    doc = _event([("etl", "j"), ("team:b", "c"), ("team", "b:c")])
    from ripple.ingest.event import parse_event
    from ripple.ingest.projection import project

    graph.apply(project(parse_event(doc)))
    body = json.dumps(doc).encode()
    assert fast_delta(body) is None or fast_delta(body) == project(parse_event(doc))
    one, two = graph.record("dataset:~team%3Ab:c"), graph.record("dataset:team:b:c")
    assert one is not None and two is not None
    assert (one.props["namespace"], one.props["name"]) == ("team:b", "c")
    assert (two.props["namespace"], two.props["name"]) == ("team", "b:c")
