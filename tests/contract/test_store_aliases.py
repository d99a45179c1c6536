"""Dataset identity on every store (issue 18): a dataset's symlinks, renames and naming variants
are one node to every walk, in any arrival order."""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from ripple.graph import queries
from ripple.graph.embedded import EmbeddedStore
from ripple.graph.store import Direction, GraphStore, WalkOptions
from ripple.ingest.aliases import Naming, link
from ripple.ingest.pipeline import read_event
from ripple.model import DatasetKey, FieldKey

LANDING = "dataset:s3://landing:orders/2026-01-01"
PATH = "dataset:s3://warehouse:sales.db/orders"
TABLE = "dataset:hive://metastore:9083:sales.orders"
MART = "dataset:hive://metastore:9083:marts.daily_revenue"
HIVE = "hive://metastore:9083"


def event(
    job: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    time: str = "2026-01-01T01:00:00Z",
) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": time,
        "run": {"runId": str(uuid.uuid5(uuid.NAMESPACE_DNS, job + time))},
        "job": {"namespace": "etl", "name": job},
        "inputs": inputs,
        "outputs": outputs,
        "producer": "https://example.com/tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
    }


def dataset(namespace: str, name: str, **facets: Any) -> dict[str, Any]:
    return {"namespace": namespace, "name": name, "facets": facets}


def schema(*fields: str) -> dict[str, Any]:
    return {"fields": [{"name": f, "type": "BIGINT"} for f in fields]}


def lineage(**fields: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "fields": {
            out: {"inputFields": [{"namespace": ns, "name": name, "field": field}]}
            for out, (ns, name, field) in fields.items()
        }
    }


SYMLINK = {"identifiers": [{"namespace": HIVE, "name": "sales.orders", "type": "TABLE"}]}


def spark(*, symlinks: bool = True, time: str = "2026-01-01T01:00:00Z") -> dict[str, Any]:
    facets: dict[str, Any] = {
        "schema": schema("id", "amount"),
        "columnLineage": lineage(amount=("s3://landing", "orders/2026-01-01", "amount")),
    }
    if symlinks:
        facets["symlinks"] = SYMLINK
    return event(
        "load_orders",
        [dataset("s3://landing", "orders/2026-01-01", schema=schema("id", "amount"))],
        [dataset("s3://warehouse", "sales.db/orders", **facets)],
        time,
    )


TRINO = event(
    "daily_revenue",
    [dataset(HIVE, "sales.orders")],
    [
        dataset(
            HIVE,
            "marts.daily_revenue",
            schema=schema("revenue"),
            columnLineage=lineage(revenue=(HIVE, "sales.orders", "amount")),
        )
    ],
    "2026-01-01T02:00:00Z",
)


async def ingest(store: GraphStore, *events: dict[str, Any], naming: Naming | None = None) -> None:
    deltas = [read_event(orjson.dumps(e)).delta for e in events]
    link(deltas, naming or Naming())
    await store.apply(deltas, 1)


def ids(closure: Any) -> set[str]:
    return {n.id for n in closure.nodes}


@pytest.mark.parametrize("order", list(itertools.permutations(range(2))))
async def test_blast_radius_crosses_the_symlink_in_any_order(
    store: GraphStore, order: tuple[int, ...]
) -> None:
    events = [spark(), TRINO]
    await ingest(store, *(events[i] for i in order))
    down = await queries.impact(store, LANDING, WalkOptions(columns=False))
    assert ids(down) == {"job:etl:load_orders", TABLE, "job:etl:daily_revenue", MART}
    table = next(n for n in down.nodes if n.id == TABLE)
    assert table.aliases == [PATH]
    assert table.distance == 2 and table.path == [LANDING, "job:etl:load_orders", TABLE]
    assert [e.as_dict() for e in down.edges] == [
        {"from": LANDING, "to": "job:etl:load_orders", "kind": "READ_BY"},
        {"from": "job:etl:load_orders", "to": TABLE, "kind": "WRITES"},
        {"from": TABLE, "to": "job:etl:daily_revenue", "kind": "READ_BY"},
        {"from": "job:etl:daily_revenue", "to": MART, "kind": "WRITES"},
    ]
    up = await queries.upstream(store, MART, WalkOptions(columns=False))
    assert ids(up) == {"job:etl:daily_revenue", TABLE, "job:etl:load_orders", LANDING}
    order_ = await queries.order(store, LANDING, WalkOptions())
    assert [layer for layer in order_.as_dict()["layers"]] == [
        ["job:etl:load_orders"],
        ["job:etl:daily_revenue"],
    ]


async def test_every_name_answers_the_same(store: GraphStore) -> None:
    await ingest(store, spark(), TRINO)
    for direction in Direction:
        by_path = await store.walk(PATH, direction, WalkOptions())
        by_table = await store.walk(TABLE, direction, WalkOptions())
        assert by_path.as_dict() == by_table.as_dict()
        assert by_path.root == TABLE and by_path.aliases == [PATH]


async def test_column_lineage_joins_through_the_aliases_columns(store: GraphStore) -> None:
    await ingest(store, TRINO, spark())
    column = "datasetField:s3://landing:orders/2026-01-01:amount"
    down = await store.walk(column, Direction.DOWNSTREAM, WalkOptions())
    assert f"{MART.replace('dataset:', 'datasetField:')}:revenue" in ids(down)
    amount = next(n for n in down.nodes if n.id.endswith("sales.orders:amount"))
    assert amount.aliases == ["datasetField:s3://warehouse:sales.db/orders:amount"]
    up = await store.walk(
        "datasetField:hive://metastore:9083:marts.daily_revenue:revenue",
        Direction.UPSTREAM,
        WalkOptions(),
    )
    assert column in ids(up)


async def test_a_symlink_learnt_late_joins_a_dataset_long_known_by_its_path(
    store: GraphStore,
) -> None:
    await ingest(store, spark(symlinks=False), TRINO)
    before = await store.walk(LANDING, Direction.DOWNSTREAM, WalkOptions(columns=False))
    assert ids(before) == {"job:etl:load_orders", PATH}
    counted = await store.counts()
    await ingest(store, spark(time="2026-01-02T01:00:00Z"))
    # an update, not a rebuild: the new run, its edges, and one ALIAS_OF edge
    grown = {k: v - counted.get(k, 0) for k, v in (await store.counts()).items()}
    assert grown["ALIAS_OF"] == 1 and grown["dataset"] == 0 and grown["datasetField"] == 0
    after = await store.walk(LANDING, Direction.DOWNSTREAM, WalkOptions(columns=False))
    assert ids(after) == {"job:etl:load_orders", TABLE, "job:etl:daily_revenue", MART}
    # the path that answered before still answers, now under the table's name
    assert (await store.walk(PATH, Direction.DOWNSTREAM, WalkOptions())).root == TABLE


async def test_the_graph_is_the_same_in_every_arrival_order(store: GraphStore) -> None:
    images = []
    for order in itertools.permutations(
        [spark(symlinks=False), TRINO, spark(time="2026-01-02T00:00:00Z")]
    ):
        await store.clear()
        await ingest(store, *order)
        images.append(await store.dump())
    assert all(image == images[0] for image in images)


async def test_a_rename_carries_lineage_from_the_old_name_to_the_new(store: GraphStore) -> None:
    writer = event("build", [dataset("pg", "raw.src")], [dataset("pg", "public.old_t")])
    rename = event(
        "rename",
        [],
        [
            dataset(
                "pg",
                "public.new_t",
                lifecycleStateChange={
                    "lifecycleStateChange": "RENAME",
                    "previousIdentifier": {"namespace": "pg", "name": "public.old_t"},
                },
            )
        ],
        "2026-01-01T03:00:00Z",
    )
    reader = event("report", [dataset("pg", "public.new_t")], [dataset("pg", "public.report")])
    await ingest(store, reader, rename, writer)
    down = await queries.impact(store, "dataset:pg:raw.src", WalkOptions(columns=False))
    assert "dataset:pg:public.report" in ids(down)
    renamed = next(n for n in down.nodes if n.id == "dataset:pg:public.new_t")
    assert renamed.aliases == ["dataset:pg:public.old_t"]


async def test_a_blast_radius_says_which_datasets_are_dropped(store: GraphStore) -> None:
    drop = event(
        "cleanup",
        [],
        [dataset("pg", "public.b", lifecycleStateChange={"lifecycleStateChange": "DROP"})],
        "2026-01-02T00:00:00Z",
    )
    await ingest(
        store,
        event("j1", [dataset("pg", "public.a")], [dataset("pg", "public.b")]),
        event("j2", [dataset("pg", "public.b")], [dataset("pg", "public.c")]),
        drop,
    )
    down = await queries.impact(store, "dataset:pg:public.a", WalkOptions(columns=False))
    answer = down.as_dict()
    assert answer["dropped"] == ["dataset:pg:public.b"]
    assert {n["id"]: n.get("lifecycle") for n in answer["nodes"]}["dataset:pg:public.b"] == "DROP"


async def test_naming_variants_meet_at_the_specs_spelling(store: GraphStore) -> None:
    await ingest(
        store,
        event("load", [dataset("s3://in/", "x")], [dataset("postgresql://db", "public.t")]),
        event("use", [dataset("postgres://db:5432", "public.t")], [dataset("pg", "out")]),
    )
    down = await queries.impact(store, "dataset:s3://in:x", WalkOptions(columns=False))
    assert ids(down) == {
        "job:etl:load",
        "dataset:postgres://db:5432:public.t",
        "job:etl:use",
        "dataset:pg:out",
    }
    t = next(n for n in down.nodes if n.id == "dataset:postgres://db:5432:public.t")
    assert t.aliases == ["dataset:postgresql://db:public.t"]
    # the producer's spelling answers too
    assert (await queries.impact(store, "dataset:s3://in/:x", WalkOptions())).root == (
        "dataset:s3://in:x"
    )


def _spark_fixture(fixtures_dir: Path, name: str) -> dict[str, Any]:
    """A partial fixture (an integration test's expected event: only the fields it checks)
    made whole with what it leaves out."""
    doc = orjson.loads((fixtures_dir / "openlineage" / "partial" / "spark" / name).read_bytes())
    doc.setdefault("eventTime", "2026-01-01T00:30:00Z")
    doc.setdefault("run", {}).setdefault("runId", str(uuid.uuid5(uuid.NAMESPACE_DNS, name)))
    doc["job"].setdefault("name", name)
    doc.setdefault("producer", "https://github.com/OpenLineage/OpenLineage/tree/1.0.0/spark")
    doc.setdefault("schemaURL", "https://openlineage.io/spec/2-0-2/OpenLineage.json")
    return doc


@pytest.mark.parametrize("reader_first", [False, True])
async def test_the_spark_fixtures_table_name_joins_a_reader_by_that_name(
    store: GraphStore, fixtures_dir: Path, reader_first: bool
) -> None:
    """Spark's own CLL test writes /tmp/cll_test/tbl1 and names it default.tbl1 in symlinks; a
    SQL engine that reads default.tbl1 is downstream of Spark's sources."""
    written = _spark_fixture(fixtures_dir, "pysparkCLLEnd.json")
    reader = event(
        "read_tbl1",
        [dataset("file:/tmp/cll_test", "default.tbl1")],
        [
            dataset(
                "file:/tmp/cll_test",
                "default.report",
                schema=schema("ident"),
                columnLineage=lineage(ident=("file:/tmp/cll_test", "default.tbl1", "ident")),
            )
        ],
    )
    await ingest(store, *((reader, written) if reader_first else (written, reader)))
    source = "dataset:file:/tmp/cll_test/cll_source1"
    down = await queries.impact(store, source, WalkOptions())
    table = DatasetKey("file:/tmp/cll_test", "default.tbl1")  # ids escape this namespace's ':'
    report = DatasetKey("file:/tmp/cll_test", "default.report")
    assert report.node_id in ids(down)
    tbl1 = next(n for n in down.nodes if n.id == table.node_id)
    assert tbl1.aliases == ["dataset:file:/tmp/cll_test/tbl1"]
    column = await store.walk(
        "datasetField:file:/tmp/cll_test/cll_source1:b", Direction.DOWNSTREAM, WalkOptions()
    )
    assert FieldKey(report, "ident").node_id in ids(column)


async def test_a_reopened_snapshot_keeps_the_alias_groups(tmp_path: Path) -> None:
    snapshot = tmp_path / "graph.snapshot"
    first = EmbeddedStore(snapshot)
    await first.open()
    await ingest(first, spark(), TRINO)
    before = (await first.walk(LANDING, Direction.DOWNSTREAM, WalkOptions())).as_dict()
    await first.close()
    again = EmbeddedStore(snapshot)
    await again.open()
    after = (await again.walk(LANDING, Direction.DOWNSTREAM, WalkOptions())).as_dict()
    assert after == before and MART in {n["id"] for n in after["nodes"]}
