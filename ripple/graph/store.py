"""The GraphStore protocol — what every store (embedded, Neo4j) answers, in lineage terms — and
the value types of its answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from ripple.graph.budget import Budget
from ripple.graph.delta import GraphDelta


class Direction(StrEnum):
    """Which way a walk goes: with the data flow (blast radius) or against it (root cause). The
    values are the strings answers carry in JSON."""

    DOWNSTREAM = "downstream"
    UPSTREAM = "upstream"


class Edge(NamedTuple):
    src: str
    dst: str
    kind: str  # an EdgeKind value
    variant: str = ""  # DIRECT / INDIRECT for DERIVES

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"from": self.src, "to": self.dst, "kind": self.kind}
        if self.variant:
            out["transformation"] = self.variant
        return out


@dataclass(slots=True)
class ImpactedNode:
    id: str
    kind: str  # a NodeKind value
    distance: int
    path: list[str]  # one shortest path from the root, both ends included
    dependence: str = "DIRECT"  # INDIRECT when every path crosses an INDIRECT column edge
    state: str | None = None  # last run state (root-cause answers)
    aliases: list[str] = field(default_factory=list)  # its other names (graph/aliases.py)
    lifecycle: str | None = None  # DROP / TRUNCATE, when the dataset's latest event said so

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "distance": self.distance,
            "path": self.path,
            "dependence": self.dependence,
        }
        if self.state is not None:
            out["state"] = self.state
        if self.aliases:
            out["aliases"] = self.aliases
        if self.lifecycle is not None:
            out["lifecycle"] = self.lifecycle
        return out


@dataclass(slots=True)
class Closure:
    """The answer to a blast-radius or root-cause walk."""

    root: str
    direction: Direction
    nodes: list[ImpactedNode]
    edges: list[Edge]
    truncated: bool
    root_kind: str = ""
    extra_writers: list[Edge] = field(default_factory=list)  # run roots: the run's job -> outputs
    partial_reason: str | None = None  # set when the time budget ran out before the walk ended
    aliases: list[str] = field(default_factory=list)  # the root's other names

    @property
    def partial(self) -> bool:
        return self.partial_reason is not None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"root": self.root}
        if self.aliases:
            out["aliases"] = self.aliases
        out.update(
            direction=self.direction,
            nodes=[n.as_dict() for n in self.nodes],
            edges=[e.as_dict() for e in self.edges],
            truncated=self.truncated,
        )
        dropped = [n.id for n in self.nodes if n.lifecycle == "DROP"]
        if dropped:
            out["dropped"] = dropped
        out.update(partial_fields(self.partial_reason))
        return out


def partial_fields(reason: str | None) -> dict[str, Any]:
    """How an answer says it is partial: `partial` always, `partialReason` when it is."""
    return {"partial": True, "partialReason": reason} if reason else {"partial": False}


@dataclass(frozen=True, slots=True)
class WalkOptions:
    depth: int = 50  # hops; every edge counts one
    limit: int = 10_000  # impacted-node cap; hitting it sets `truncated`
    columns: bool = True  # walk column lineage too (dataset, job and run roots)
    direct_only: bool = False  # follow only DIRECT column lineage
    budget: Budget | None = None  # out of time: the walk answers what it has, flagged partial


@dataclass(slots=True)
class NodeRecord:
    id: str
    kind: str
    props: dict[str, Any]
    first_seen: str | None
    last_seen: str | None
    last_run: str | None


class GraphStore(Protocol):
    """A lineage graph. Writes are idempotent deltas; reads are directed walks."""

    async def open(self) -> None:
        """Connect and prepare (schema, indexes, loading); call once before use."""
        ...

    async def close(self) -> None: ...

    async def apply(self, deltas: Sequence[GraphDelta], through: int) -> None:
        """Apply deltas (idempotent, order-insensitive) and record that the event log is projected
        through sequence number `through`."""
        ...

    async def projected_through(self) -> int:
        """The highest event-log sequence number whose delta is in the graph (0 when empty)."""
        ...

    async def projected_from(self) -> str | None:
        """The identity of the event log the graph is projected from (None until recorded)."""
        ...

    async def set_projected_from(self, log: str) -> None:
        """Record which event log the graph is projected from (cleared by `clear`)."""
        ...

    async def clear(self) -> None:
        """Remove every node and edge (used by replay)."""
        ...

    async def nodes(self, ids: Sequence[str]) -> dict[str, NodeRecord]:
        """The records of those ids that exist."""
        ...

    async def jobs_of(self, runs: Sequence[str]) -> dict[str, str]:
        """The job each of `runs` (run node ids) is bound to, for the runs the graph holds: one
        lookup for the whole list (the ingest path's check that a runId keeps its job)."""
        ...

    async def walk(self, root: str, direction: Direction, options: WalkOptions) -> Closure:
        """Downstream (blast radius) or upstream (root cause) closure of `root`.

        When `options.budget` runs out the walk stops and answers what it found, with
        `partial_reason` set. Raises NotFound when `root` is not in the graph."""
        ...

    async def neighbourhood(self, ids: Sequence[str]) -> list[Edge]:
        """Every edge that touches one of `ids` (both directions)."""
        ...

    async def counts(self) -> dict[str, int]:
        """Node counts by kind and edge counts by kind."""
        ...

    async def dump(self) -> dict[str, Any]:
        """A canonical, comparable image of the whole graph (tests of replay and idempotency)."""
        ...
