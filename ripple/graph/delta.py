"""Graph deltas: what one event asserts about the graph, in the vocabulary every store applies.

A delta is a set of node and edge upserts stamped with the event's time and run. Applying a delta
is idempotent and commutative: every property is kept per key with the stamp that set it, and a
later stamp wins (`first_seen` keeps the earliest, `last_seen` the latest). So the same events in
any order, any number of times, give the same graph — which is what makes replay exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ripple.model import EdgeKind, NodeKind


@dataclass(slots=True)
class NodeUpsert:
    id: str
    kind: NodeKind
    props: dict[str, Any]
    versions: dict[str, Any] | None = None  # schema versions by content hash (datasets only)


@dataclass(slots=True)
class EdgeUpsert:
    src: str
    kind: EdgeKind
    dst: str
    props: dict[str, Any] = field(default_factory=dict)
    variant: str = ""  # DIRECT / INDIRECT for DERIVES: the same column pair may be both


@dataclass(slots=True)
class GraphDelta:
    stamp: str  # "<UTC ISO event time>|<rank>": orders assertions; a later stamp wins
    run: str | None  # the run that asserted it (node id), if any
    nodes: list[NodeUpsert] = field(default_factory=list)
    edges: list[EdgeUpsert] = field(default_factory=list)

    @property
    def time(self) -> str:
        return self.stamp.split("|", 1)[0]


def edge_key(src: str, kind: str, dst: str, variant: str = "") -> str:
    """One string per edge identity, used by stores as a primary key."""
    return f"{src}\x1f{kind}\x1f{dst}\x1f{variant}"
