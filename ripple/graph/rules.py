"""Which edges a walk follows, per node kind and direction — the one definition both stores use.

Downstream (blast radius) follows data flow: a dataset's readers, a job's outputs, a column's
derived columns, and (dataset, job and run roots, when `columns` is on) the columns of every
impacted dataset. A run root starts from the datasets it produced. Upstream (root cause) is the
reverse walk: a dataset's writers, a job's inputs, a column's sources; a dataset root also walks
its own columns' sources, and a run root starts from the datasets it read.

Airflow task dependencies carry impact too, datasets or not: a job steps to the Airflow task that
runs it (IMPLEMENTS, walked backwards), a task to the tasks it PRECEDES (downstream) or follows
(upstream), and a task to its job — so a task downstream of a failed task in the same DAG, or of
an asset another DAG updates, is in the blast radius.
"""

from __future__ import annotations

from ripple.graph.store import Direction, WalkOptions
from ripple.model import EdgeKind, NodeKind

Step = tuple[EdgeKind, bool]  # (edge kind, True = follow outgoing, False = follow incoming)


def steps(
    kind: NodeKind,
    direction: Direction,
    options: WalkOptions,
    *,
    is_root: bool,
    root_kind: NodeKind,
) -> tuple[Step, ...]:
    """The edges to follow out of a node of `kind` during a walk."""
    column_walk = options.columns or root_kind is NodeKind.COLUMN
    if direction == Direction.DOWNSTREAM:
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
