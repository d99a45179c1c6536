"""Graph deltas: what one event asserts about the graph, in the vocabulary every store applies.

A delta is a set of node and edge upserts stamped with the event's time and run. Applying a delta
is idempotent and commutative: every property is kept per key with the stamp that set it, and a
later stamp wins (`first_seen` keeps the earliest, `last_seen` the latest). So the same events in
any order, any number of times, give the same graph — which is what makes replay exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ripple.model import EdgeKind, NodeKind


@dataclass(slots=True)
class NodeUpsert:
    id: str
    kind: NodeKind
    props: dict[str, Any]


@dataclass(slots=True)
class EdgeUpsert:
    src: str
    kind: EdgeKind
    dst: str
    props: dict[str, Any] = field(default_factory=dict)
    variant: str = ""  # DIRECT / INDIRECT for DERIVES: the same column pair may be both


SchemaFields = tuple[tuple[str, str | None, str | None], ...]  # (name, type, description)


class Schema(NamedTuple):
    fields: SchemaFields  # nested fields flattened to `parent.child`
    digest: str  # of the content: equal schemas have equal digests


class LineageEntry(NamedTuple):
    """One input of one output column (one transformation of it)."""

    src_dataset: str  # dataset node id
    src_column: str  # column node id
    dst_field: str | None  # None only before projection: a dataset-level input of every column
    type: str  # DIRECT | INDIRECT
    subtype: str | None
    description: str | None
    masking: bool


@dataclass(slots=True)
class ColumnFacts:
    """The columns of one dataset as one event asserts them: its schema and the lineage of its
    columns. Content-addressed, so a store can apply a re-assertion as one timestamp update and
    materialize Column nodes, HAS_COLUMN and DERIVES edges only for content it has not seen."""

    dataset: str  # dataset node id
    schema: Schema | None
    lineage: tuple[LineageEntry, ...] = ()  # every dst_field set; only sources the event names
    lineage_digest: str | None = None


@dataclass(slots=True)
class GraphDelta:
    stamp: str  # "<UTC ISO event time>|<rank>": orders assertions; a later stamp wins
    run: str | None  # the run that asserted it (node id), if any
    nodes: list[NodeUpsert] = field(default_factory=list)
    edges: list[EdgeUpsert] = field(default_factory=list)
    columns: list[ColumnFacts] = field(default_factory=list)

    @property
    def time(self) -> str:
        return self.stamp.split("|", 1)[0]


def edge_key(src: str, kind: str, dst: str, variant: str = "") -> str:
    """One string per edge identity, used by stores as a primary key."""
    return f"{src}\x1f{kind}\x1f{dst}\x1f{variant}"
