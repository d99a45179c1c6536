"""Dataset identity, the pure parts: naming rules, the alias edges a delta gets, and which name
of a group is canonical (ingest/aliases.py, graph/aliases.py)."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest

from ripple.graph.aliases import Groups, lifecycle_state
from ripple.graph.delta import GraphDelta
from ripple.graph.memory import MemoryGraph
from ripple.ingest.aliases import Naming, link
from ripple.ingest.pipeline import read_event
from ripple.model import EdgeKind, NodeKind
from tests.unit.builders import run_event


@pytest.mark.parametrize(
    ("namespace", "name", "expected"),
    [
        ("postgresql://db", "public.t", ("postgres://db:5432", "public.t")),
        ("POSTGRESQL://db:6543", "public.t", ("postgres://db:6543", "public.t")),
        ("postgres://db:5432", "public.t", ("postgres://db:5432", "public.t")),
        ("mysql://db", "shop.orders", ("mysql://db:3306", "shop.orders")),
        ("sqlserver://db", "dbo.t", ("mssql://db:1433", "dbo.t")),
        ("postgres://[::1]", "t", ("postgres://[::1]:5432", "t")),
        ("s3://bucket/", "dir/file/", ("s3://bucket", "dir/file")),
        ("s3://bucket", "/", ("s3://bucket", "/")),
        ("bigquery", "p.d.t", ("bigquery", "p.d.t")),
        ("file", "/tmp/x", ("file", "/tmp/x")),
        ("kafka://broker:9092", "topic", ("kafka://broker:9092", "topic")),
    ],
)
def test_the_naming_rules_spell_namespaces_as_the_spec_does(
    namespace: str, name: str, expected: tuple[str, str]
) -> None:
    assert Naming().normalise(namespace, name) == expected


def test_case_insensitive_namespaces_lower_their_names_and_the_rules_can_be_off() -> None:
    naming = Naming(case_insensitive=("snowflake://*",))
    assert naming.normalise("snowflake://acct", "DB.SCHEMA.T") == (
        "snowflake://acct",
        "db.schema.t",
    )
    assert naming.normalise("bigquery", "P.D.T") == ("bigquery", "P.D.T")
    off = Naming(enabled=False)
    assert off.normalise("postgresql://db/", "t/") == ("postgresql://db/", "t/")


def delta_of(event: dict[str, Any]) -> GraphDelta:
    return read_event(orjson.dumps(event)).delta


def aliases_of(delta: GraphDelta) -> list[tuple[str, str, str]]:
    return [(e.src, e.dst, e.props["type"]) for e in delta.edges if e.kind == EdgeKind.ALIAS_OF]


def output(name: str, **facets: Any) -> dict[str, Any]:
    return {"namespace": "s3://lake", "name": name, "facets": facets}


def symlinks(*identifiers: tuple[str, str, str]) -> dict[str, Any]:
    return {"identifiers": [{"namespace": n, "name": m, "type": t} for n, m, t in identifiers]}


def test_a_table_symlink_is_preferred_and_a_location_symlink_points_back() -> None:
    table = ("hive://ms:9083", "sales.orders", "TABLE")
    location = ("s3://other", "copy/orders", "LOCATION")
    delta = delta_of(run_event("j", [], [output("orders", symlinks=symlinks(table, location))]))
    link([delta], Naming())
    assert aliases_of(delta) == [
        ("dataset:s3://lake:orders", "dataset:hive://ms:9083:sales.orders", "TABLE"),
        ("dataset:s3://other:copy/orders", "dataset:s3://lake:orders", "LOCATION"),
    ]
    assert {n.id for n in delta.nodes} >= {
        "dataset:hive://ms:9083:sales.orders",
        "dataset:s3://other:copy/orders",
    }
    link([delta], Naming())  # linking again adds nothing
    assert len(aliases_of(delta)) == 2


def test_a_rename_points_from_the_previous_name_and_a_variant_to_the_specs() -> None:
    renamed = output(
        "new",
        lifecycleStateChange={
            "lifecycleStateChange": "RENAME",
            "previousIdentifier": {"namespace": "s3://lake", "name": "old"},
        },
    )
    variant = {"namespace": "postgresql://db", "name": "public.t"}
    delta = delta_of(run_event("j", [variant], [renamed]))
    link([delta], Naming())
    assert sorted(aliases_of(delta)) == [
        ("dataset:postgresql://db:public.t", "dataset:postgres://db:5432:public.t", "VARIANT"),
        ("dataset:s3://lake:old", "dataset:s3://lake:new", "RENAME"),
    ]


def test_a_malformed_symlinks_facet_links_nothing_and_the_event_is_kept() -> None:
    bad = output("orders", symlinks={"identifiers": [{"namespace": "", "name": "x", "type": "T"}]})
    reading = read_event(orjson.dumps(run_event("j", [], [bad])))
    link([reading.delta], Naming())
    assert aliases_of(reading.delta) == []
    assert reading.warnings  # the parser named the bad facet


def graph_of(*edges: tuple[str, str]) -> MemoryGraph:
    graph = MemoryGraph()
    for src, dst in edges:
        for node in (src, dst):
            graph.add_node(node, NodeKind.DATASET)
        graph.add_edge(src, EdgeKind.ALIAS_OF, dst)
    return graph


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_the_canonical_name_is_where_the_edges_lead_whatever_their_order(
    order: tuple[int, ...],
) -> None:
    edges = [
        ("dataset:s3:a", "dataset:h:t"),
        ("dataset:s3:b", "dataset:h:t"),
        ("dataset:x:old", "dataset:s3:a"),
    ]
    graph = graph_of(*(edges[i] for i in order))
    for member in ("dataset:s3:a", "dataset:h:t", "dataset:x:old"):
        group = Groups(graph, len(graph.ids)).of(graph.index[member])
        assert group is not None
        assert [graph.ids[m] for m in group] == [
            "dataset:h:t",
            "dataset:s3:a",
            "dataset:s3:b",
            "dataset:x:old",
        ]


def test_two_preferred_names_or_a_cycle_give_the_smallest_id() -> None:
    two = graph_of(("dataset:s3:a", "dataset:h:z"), ("dataset:s3:a", "dataset:h:y"))
    group = Groups(two, len(two.ids)).of(two.index["dataset:s3:a"])
    assert group is not None and two.ids[group[0]] == "dataset:h:y"
    cycle = graph_of(("dataset:b:b", "dataset:a:a"), ("dataset:a:a", "dataset:b:b"))
    group = Groups(cycle, len(cycle.ids)).of(cycle.index["dataset:b:b"])
    assert group is not None and cycle.ids[group[0]] == "dataset:a:a"


def test_the_lifecycle_state_is_read_from_the_kept_facet() -> None:
    assert (
        lifecycle_state({"facet.lifecycleStateChange": {"lifecycleStateChange": "drop"}}) == "DROP"
    )
    assert lifecycle_state({"facet.lifecycleStateChange": "DROP"}) is None
    assert lifecycle_state(None) is None


def test_the_settings_choose_the_naming_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    from ripple.config import Settings
    from ripple.runtime import naming

    monkeypatch.setenv("RIPPLE_SCHEME_ALIASES", '{"pg": "postgres"}')
    monkeypatch.setenv("RIPPLE_CASE_INSENSITIVE_NAMESPACES", '["snowflake://*"]')
    rules = naming(Settings())
    assert rules.normalise("pg://db", "T") == ("postgres://db:5432", "T")
    assert rules.normalise("postgresql://db", "t") == ("postgresql://db", "t")  # replaced table
    assert rules.normalise("snowflake://acct", "DB.T") == ("snowflake://acct", "db.t")
    monkeypatch.setenv("RIPPLE_NORMALIZE_NAMES", "false")
    assert naming(Settings()).normalise("pg://db", "T") == ("pg://db", "T")


def test_the_command_line_shows_a_nodes_other_names_and_a_drop() -> None:
    from rich.console import Console

    from ripple.cli.render import print_closure
    from ripple.graph.store import Closure, Direction, ImpactedNode

    table = ImpactedNode("dataset:h:t", "dataset", 1, ["dataset:a:b", "dataset:h:t"])
    table.aliases, table.lifecycle = ["dataset:s3:t"], "DROP"
    closure = Closure("dataset:a:b", Direction.DOWNSTREAM, [table], [], False)
    closure.aliases = ["dataset:s3:b"]
    console = Console(record=True, width=200, emoji=False)  # as ripple.cli.console's
    print_closure(console, closure)
    text = console.export_text()
    assert "Blast radius of dataset:a:b (also named dataset:s3:b)" in text
    assert "= dataset:s3:t" in text and "(DROP)" in text
