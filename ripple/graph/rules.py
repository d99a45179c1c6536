"""Which edges a walk follows, per node kind and direction — one table, read by both stores.

Downstream (blast radius) follows data flow: a dataset's readers, a job's outputs, a column's
derived columns, and (dataset, job and run roots, when `columns` is on) the columns of every
impacted dataset. A run root starts from the datasets it produced. Upstream (root cause) is the
reverse walk: a dataset's writers, a job's inputs, a column's sources; a dataset root also walks
its own columns' sources, and a run root starts from the datasets it read.

Airflow task dependencies carry impact too, datasets or not: a job steps to the Airflow task that
runs it (IMPLEMENTS, walked backwards), a task to the tasks it PRECEDES (downstream) or follows
(upstream), and a task to its job — so a task downstream of a failed task in the same DAG, or of
an asset another DAG updates, is in the blast radius.

The embedded walk (graph/walk.py) reads the table one node at a time (`steps`); the Neo4j store
(graph/neo4j/walks.py) reads it one closure at a time (`legs`): since every edge kind joins fixed
node kinds (`ENDS`), the steps a closure can take are those of the kinds it can reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ripple.graph.store import Direction, WalkOptions
from ripple.model import EdgeKind, NodeKind

Step = tuple[EdgeKind, bool]  # (edge kind, True = follow outgoing, False = follow incoming)


class Needs(Enum):
    """What a rule needs of the walk, beyond its direction and the node's kind."""

    NOTHING = "nothing"
    COLUMNS = "columns"  # options.columns
    COLUMN_WALK = "column walk"  # options.columns, or a column root


@dataclass(frozen=True, slots=True)
class Rule:
    direction: Direction
    kind: NodeKind  # the kind of node the step leaves
    edge: EdgeKind
    outgoing: bool  # follow the edge as stored (True) or backwards (False)
    needs: Needs = Needs.NOTHING
    only_root: bool = False  # a step out of the walk's root only


_D, _U = Direction.DOWNSTREAM, Direction.UPSTREAM
_DS, _JOB, _COL, _RUN, _TASK = (
    NodeKind.DATASET,
    NodeKind.JOB,
    NodeKind.COLUMN,
    NodeKind.RUN,
    NodeKind.TASK,
)
_OUT, _IN = True, False

RULES: tuple[Rule, ...] = (
    Rule(_D, _DS, EdgeKind.READ_BY, _OUT),
    Rule(_D, _DS, EdgeKind.HAS_COLUMN, _OUT, Needs.COLUMNS),
    Rule(_D, _JOB, EdgeKind.WRITES, _OUT),
    Rule(_D, _JOB, EdgeKind.IMPLEMENTS, _IN),
    Rule(_D, _COL, EdgeKind.DERIVES, _OUT, Needs.COLUMN_WALK),
    Rule(_D, _RUN, EdgeKind.PRODUCED, _OUT, only_root=True),
    Rule(_D, _TASK, EdgeKind.PRECEDES, _OUT),
    Rule(_D, _TASK, EdgeKind.IMPLEMENTS, _OUT),
    Rule(_U, _DS, EdgeKind.WRITES, _IN),
    Rule(_U, _DS, EdgeKind.HAS_COLUMN, _OUT, Needs.COLUMNS, only_root=True),
    Rule(_U, _JOB, EdgeKind.READ_BY, _IN),
    Rule(_U, _JOB, EdgeKind.IMPLEMENTS, _IN),
    Rule(_U, _COL, EdgeKind.DERIVES, _IN, Needs.COLUMN_WALK),
    Rule(_U, _RUN, EdgeKind.READ, _OUT, only_root=True),
    Rule(_U, _TASK, EdgeKind.PRECEDES, _IN),
    Rule(_U, _TASK, EdgeKind.IMPLEMENTS, _OUT),
)

# Edge kind -> (kind of its source, kind of its target): every edge joins fixed node kinds.
ENDS: dict[EdgeKind, tuple[NodeKind, NodeKind]] = {
    EdgeKind.READ_BY: (_DS, _JOB),
    EdgeKind.WRITES: (_JOB, _DS),
    EdgeKind.HAS_COLUMN: (_DS, _COL),
    EdgeKind.DERIVES: (_COL, _COL),
    EdgeKind.RUN_OF: (_RUN, _JOB),
    EdgeKind.READ: (_RUN, _DS),
    EdgeKind.PRODUCED: (_RUN, _DS),
    EdgeKind.CHILD_OF: (_RUN, _RUN),
    EdgeKind.CONTAINS: (NodeKind.DAG, _TASK),
    EdgeKind.IMPLEMENTS: (_TASK, _JOB),
    EdgeKind.PRECEDES: (_TASK, _TASK),
    EdgeKind.ALIAS_OF: (_DS, _DS),  # not a step: walks join alias groups themselves (walk.py)
}


@dataclass(frozen=True, slots=True)
class Leg:
    """One breadth-first closure of a walk: an optional first step out of the root, then every
    step the kinds reachable from there allow, as often as the depth permits."""

    first: Step | None
    steps: frozenset[Step]


def steps(
    kind: NodeKind,
    direction: Direction,
    options: WalkOptions,
    *,
    is_root: bool,
    root_kind: NodeKind,
) -> tuple[Step, ...]:
    """The edges to follow out of a node of `kind` during a walk."""
    return tuple(
        (rule.edge, rule.outgoing)
        for rule in RULES
        if rule.direction == direction
        and rule.kind is kind
        and (is_root or not rule.only_root)
        and _applies(rule, options, root_kind)
    )


def legs(root_kind: NodeKind, direction: Direction, options: WalkOptions) -> tuple[Leg, ...]:
    """A walk from a root of `root_kind` as closures: the one from the root itself (if it can
    step anywhere), then one per first step only the root takes."""
    found: list[Leg] = []
    from_root = _closure_steps(root_kind, direction, options, root_kind)
    if from_root:
        found.append(Leg(None, from_root))
    for rule in RULES:
        if (
            rule.only_root
            and rule.direction == direction
            and rule.kind is root_kind
            and _applies(rule, options, root_kind)
        ):
            source, target = ENDS[rule.edge]
            after = _closure_steps(
                target if rule.outgoing else source, direction, options, root_kind
            )
            found.append(Leg((rule.edge, rule.outgoing), after))
    return tuple(found)


def _closure_steps(
    start: NodeKind, direction: Direction, options: WalkOptions, root_kind: NodeKind
) -> frozenset[Step]:
    """Every step (not a root-only one) out of the node kinds reachable from `start`."""
    found: set[Step] = set()
    kinds, todo = {start}, [start]
    while todo:
        kind = todo.pop()
        for step in steps(kind, direction, options, is_root=False, root_kind=root_kind):
            found.add(step)
            source, target = ENDS[step[0]]
            reached = target if step[1] else source
            if reached not in kinds:
                kinds.add(reached)
                todo.append(reached)
    return frozenset(found)


def _applies(rule: Rule, options: WalkOptions, root_kind: NodeKind) -> bool:
    if rule.needs is Needs.COLUMNS:
        return options.columns
    if rule.needs is Needs.COLUMN_WALK:
        return options.columns or root_kind is NodeKind.COLUMN
    return True
