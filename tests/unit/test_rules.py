"""The walk rules table, read both ways: the embedded walk's steps and the Neo4j closure branches.

The expected answers are the rules as they were written out by hand for each store before the
table existed (one `if` chain per store); every combination of node kind, direction, root or not
and options must still come out the same.
"""

from itertools import product

import pytest

from ripple.graph import rules
from ripple.graph.neo4j import cypher
from ripple.graph.neo4j.walks import Branch, branches
from ripple.graph.store import WalkOptions
from ripple.model import EdgeKind, NodeKind

Step = tuple[EdgeKind, bool]
OPTIONS = [
    WalkOptions(columns=columns, direct_only=direct)
    for columns, direct in product((False, True), repeat=2)
]


def hand_written_steps(
    kind: NodeKind, direction: str, options: WalkOptions, *, is_root: bool, root_kind: NodeKind
) -> tuple[Step, ...]:
    column_walk = options.columns or root_kind is NodeKind.COLUMN
    if direction == "downstream":
        if kind is NodeKind.DATASET:
            return ((EdgeKind.READ_BY, True),) + (
                ((EdgeKind.HAS_COLUMN, True),) if options.columns else ()
            )
        if kind is NodeKind.JOB:
            return ((EdgeKind.WRITES, True), (EdgeKind.IMPLEMENTS, False))
        if kind is NodeKind.COLUMN and column_walk:
            return ((EdgeKind.DERIVES, True),)
        if kind is NodeKind.RUN and is_root:
            return ((EdgeKind.PRODUCED, True),)
        if kind is NodeKind.TASK:
            return ((EdgeKind.PRECEDES, True), (EdgeKind.IMPLEMENTS, True))
        return ()
    if kind is NodeKind.DATASET:
        own_columns = ((EdgeKind.HAS_COLUMN, True),) if options.columns and is_root else ()
        return ((EdgeKind.WRITES, False), *own_columns)
    if kind is NodeKind.JOB:
        return ((EdgeKind.READ_BY, False), (EdgeKind.IMPLEMENTS, False))
    if kind is NodeKind.COLUMN and column_walk:
        return ((EdgeKind.DERIVES, False),)
    if kind is NodeKind.RUN and is_root:
        return ((EdgeKind.READ, True),)
    if kind is NodeKind.TASK:
        return ((EdgeKind.PRECEDES, False), (EdgeKind.IMPLEMENTS, True))
    return ()


def hand_written_branches(
    kind: NodeKind, direction: str, options: WalkOptions
) -> tuple[Branch, ...]:
    direct = options.direct_only
    if direction == "downstream":
        if kind is NodeKind.COLUMN:
            return (Branch("down_derives_direct" if direct else "down_derives"),)
        lineage = (
            ("down_columns_direct" if direct else "down_columns")
            if options.columns
            else "down_lineage"
        )
        if kind in (NodeKind.DATASET, NodeKind.JOB, NodeKind.TASK):
            return (Branch(lineage),)
        if kind is NodeKind.RUN:
            return (Branch(lineage, first_hop="PRODUCED"),)
        return ()
    if kind is NodeKind.COLUMN:
        return (Branch("up_derives_direct" if direct else "up_derives"),)
    if kind is NodeKind.DATASET:
        own_columns = Branch(
            "up_derives_direct" if direct else "up_derives", first_hop="HAS_COLUMN"
        )
        return (Branch("up_lineage"), *((own_columns,) if options.columns else ()))
    if kind in (NodeKind.JOB, NodeKind.TASK):
        return (Branch("up_lineage"),)
    if kind is NodeKind.RUN:
        return (Branch("up_lineage", first_hop="READ"),)
    return ()


@pytest.mark.parametrize("direction", ["downstream", "upstream"])
@pytest.mark.parametrize("options", OPTIONS, ids=repr)
def test_steps_match_the_hand_written_rules(direction: str, options: WalkOptions) -> None:
    checked = 0
    for kind, root_kind, is_root in product(NodeKind, NodeKind, (False, True)):
        if is_root and root_kind is not kind:
            continue  # a root's kind is the walk's root kind
        found = rules.steps(kind, direction, options, is_root=is_root, root_kind=root_kind)
        expected = hand_written_steps(
            kind, direction, options, is_root=is_root, root_kind=root_kind
        )
        assert found == expected, (kind, root_kind, is_root)
        checked += 1
    assert checked == len(NodeKind) * (len(NodeKind) + 1)


@pytest.mark.parametrize("direction", ["downstream", "upstream"])
@pytest.mark.parametrize("options", OPTIONS, ids=repr)
@pytest.mark.parametrize("kind", list(NodeKind))
def test_branches_match_the_hand_written_rules(
    kind: NodeKind, direction: str, options: WalkOptions
) -> None:
    found = branches(kind, direction, options)
    assert found == hand_written_branches(kind, direction, options)
    for branch in found:
        assert branch.shape in cypher.SHAPES
        assert branch.first_hop is None or branch.first_hop in cypher.FIRST_HOP


def test_every_rule_leaves_the_kind_its_edge_joins() -> None:
    assert set(rules.ENDS) == set(EdgeKind)
    for rule in rules.RULES:
        source, target = rules.ENDS[rule.edge]
        assert rule.kind is (source if rule.outgoing else target), rule


def test_a_leg_takes_the_steps_of_every_kind_it_reaches() -> None:
    (leg,) = rules.legs(NodeKind.JOB, "upstream", WalkOptions(columns=True))
    assert leg.first is None
    assert leg.steps == {
        (EdgeKind.WRITES, False),
        (EdgeKind.READ_BY, False),
        (EdgeKind.IMPLEMENTS, False),
        (EdgeKind.PRECEDES, False),
        (EdgeKind.IMPLEMENTS, True),
    }, "columns are not reachable upstream of a job, so DERIVES is not a step"
    (run_leg,) = rules.legs(NodeKind.RUN, "downstream", WalkOptions(columns=False))
    assert run_leg.first == (EdgeKind.PRODUCED, True)
    assert (EdgeKind.READ_BY, True) in run_leg.steps
