"""The benchmark generator's `symlinks` option: a share of datasets written under a location
name with a TABLE symlink to the name every reader uses; without it, the same bytes as before."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import orjson
import pytest

from bench.generator import (
    LOCATION_NAMESPACE,
    SYMLINKS_FACET,
    EventWriter,
    build_plan,
    generate,
)
from ripple.ingest.pipeline import prepare

# sha256 of `generate(2000, seed=7)` as NDJSON, written by the generator before the option
# existed (commit 2a48bd0): every figure built on the default output stays comparable.
DEFAULT_2000_SEED_7 = "8e620cbd6fd830997d7aad8f0674fe786b2fd5d7d1bdad1d3d87ef0f28aa70a7"


def _digest(events: Any) -> str:
    return hashlib.sha256(b"".join(orjson.dumps(e) + b"\n" for e in events)).hexdigest()


def test_the_default_output_is_unchanged_byte_for_byte() -> None:
    assert _digest(generate(2000, seed=7)) == DEFAULT_2000_SEED_7
    assert _digest(generate(2000, seed=7, symlinks=0.0)) == DEFAULT_2000_SEED_7


def test_the_share_of_datasets_with_a_symlink_is_the_one_asked() -> None:
    plan = build_plan(4_000, seed=1, symlinks=0.3)

    assert plan.symlinked == round(0.3 * len(plan.datasets))
    located = [ds for ds in plan.datasets if ds.location is not None]
    assert all(ds.layer > 0 for ds in located)  # only datasets some job writes
    identifiers = [
        output["facets"]["symlinks"]["identifiers"]
        for event in EventWriter(plan).events()
        for output in event["outputs"]
        if "symlinks" in output["facets"]
    ]
    assert len(identifiers) == plan.symlinked  # each dataset is written once
    # Chosen from the seed: the same again, another set for another seed.
    assert build_plan(4_000, seed=1, symlinks=0.3).datasets == plan.datasets
    other = build_plan(4_000, seed=2, symlinks=0.3)
    assert {ds.name for ds in other.datasets if ds.location} != {ds.name for ds in located}


def test_writers_use_the_location_and_readers_the_table_name() -> None:
    plan = build_plan(3_000, seed=5, symlinks=0.3)
    table_names = {(ds.namespace, ds.name) for ds in plan.datasets}
    by_location = {ds.location: ds for ds in plan.datasets if ds.location is not None}

    for event in EventWriter(plan).events():
        for dataset in event["inputs"]:
            assert (dataset["namespace"], dataset["name"]) in table_names
        for output in event["outputs"]:
            cited = {
                (field["namespace"], field["name"])
                for column in output["facets"]["columnLineage"]["fields"].values()
                for field in column["inputFields"]
            }
            assert cited <= table_names  # columns of the inputs cited by their table name
            ds = by_location.get((output["namespace"], output["name"]))
            if ds is None:
                assert "symlinks" not in output["facets"]
                continue
            assert output["namespace"] == LOCATION_NAMESPACE
            assert output["facets"]["symlinks"] == {
                "_producer": event["producer"],
                "_schemaURL": SYMLINKS_FACET,
                "identifiers": [{"namespace": ds.namespace, "name": ds.name, "type": "TABLE"}],
            }
        assert prepare(event).delta is not None  # Ripple accepts the event


def test_with_the_symlinks_resolved_the_lineage_is_the_plain_one() -> None:
    plain = build_plan(3_000, seed=5)
    aliased = build_plan(3_000, seed=5, symlinks=0.3)
    assert aliased.jobs == plain.jobs
    assert [(d.namespace, d.name, d.columns) for d in aliased.datasets] == [
        (d.namespace, d.name, d.columns) for d in plain.datasets
    ]
    table_of = {ds.location: (ds.namespace, ds.name) for ds in aliased.datasets if ds.location}

    for with_links, without in zip(
        EventWriter(aliased).events(), EventWriter(plain).events(), strict=True
    ):
        resolved = copy.deepcopy(with_links)
        for output in resolved["outputs"]:
            key = (output["namespace"], output["name"])
            if key in table_of:
                output["namespace"], output["name"] = table_of[key]
                del output["facets"]["symlinks"]
        assert orjson.dumps(resolved) == orjson.dumps(without)


def test_a_share_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="symlinks must be a share between 0 and 1"):
        build_plan(100, seed=1, symlinks=1.5)
