"""Directed walks over the in-memory graph: blast radius and root cause (pure).

Breadth-first from the root, following the edges graph/rules.py allows per node kind, so each
node gets its minimal distance and one shortest path; a node cap marks the answer truncated, and
a spent time budget (checked every `CHECK_EVERY` nodes) ends the walk with what it found, marked
partial.

A walk may run in a worker thread while ingest grows the same graph (graph/embedded.py). The
graph only grows — a node's slots are appended before any edge names it, adjacency lists are
appended to, never rewritten — so a walk reads it without a lock: it takes the nodes that were
whole when it began (`_visible`), and any edge among them it meets.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from ripple.errors import NotFound
from ripple.graph import rules
from ripple.graph.codes import EDGE_CODES, EDGE_NAMES, HAS_COLUMN, INDIRECT, KIND_VALUES, NODE_KINDS
from ripple.graph.store import Closure, Direction, Edge, ImpactedNode, WalkOptions
from ripple.model import EdgeKind, NodeKind

CHECK_EVERY = 256  # nodes expanded between looks at the clock (a look costs ~50 ns)


class Adjacency(Protocol):
    """What a walk reads of the in-memory graph (graph/memory.py's MemoryGraph): dense node
    numbers, their ids and kind codes, and adjacency entries `(other << 4) | edge_code`."""

    index: dict[str, int]
    ids: list[str]
    kinds: bytearray
    out: list[list[int]]
    inc: list[list[int]]

    def kind(self, idx: int) -> NodeKind: ...

    def prop(self, idx: int, key: str) -> Any: ...

    def state(self, idx: int) -> str | None: ...


def closure(graph: Adjacency, root: str, direction: Direction, options: WalkOptions) -> Closure:
    """Breadth-first closure from `root`: minimal distances, one shortest path each, capped."""
    direction = Direction(direction)  # the answer carries the enum, whatever a caller passed
    visible = _visible(graph)
    r = graph.index.get(root)
    if r is None or r >= visible:
        raise NotFound(f"Node {root!r} not found — was it ingested under another namespace?")
    root_kind = graph.kind(r)
    table = _follow_table(direction, options, root_kind)
    dist, parent, edges, truncated, crossed_indirect, out_of_time = _bfs(
        graph, r, table, options, visible
    )
    direct: set[int] | None = None
    if crossed_indirect and not options.direct_only:
        strict = replace(options, direct_only=True)
        found = _bfs(graph, r, _follow_table(direction, strict, root_kind), strict, visible)
        direct = set(found[0])
        out_of_time |= found[5]
    downstream = direction is Direction.DOWNSTREAM
    ids, kinds = graph.ids, graph.kinds
    # dist is in breadth-first order, so a parent's path is built before its children's.
    paths: dict[int, list[str]] = {r: [ids[r]]}
    nodes: list[ImpactedNode] = []
    for idx, d in dist.items():
        if idx == r:
            continue
        path = paths[idx] = [*paths[parent[idx]], ids[idx]]
        nodes.append(
            ImpactedNode(
                ids[idx],
                KIND_VALUES[kinds[idx]],
                d,
                path,
                "DIRECT" if direct is None or idx in direct else "INDIRECT",
                None if downstream else graph.state(idx),
            )
        )
    result_edges = [Edge(ids[src], ids[dst], *EDGE_NAMES[code]) for src, dst, code in edges]
    if root_kind is NodeKind.COLUMN:
        truncated |= _add_column_datasets(graph, nodes, result_edges, r, downstream, options)
    closure = Closure(root, direction, nodes, result_edges, truncated, root_kind.value)
    if out_of_time and options.budget is not None:
        closure.partial_reason = options.budget.reason
    if root_kind is NodeKind.RUN and downstream:
        job = graph.prop(r, "job")
        if isinstance(job, str):
            closure.extra_writers = [
                Edge(job, e.dst, EdgeKind.WRITES.value)
                for e in result_edges
                if e.kind == EdgeKind.PRODUCED.value
            ]
    return closure


def _bfs(
    graph: Adjacency,
    r: int,
    table: tuple[list[frozenset[int]], list[frozenset[int]], frozenset[int], frozenset[int]],
    options: WalkOptions,
    visible: int,
) -> tuple[dict[int, int], dict[int, int], list[tuple[int, int, int]], bool, bool, bool]:
    """Distances, parents, edges met, whether the cap cut, whether an INDIRECT edge was
    crossed, and whether the budget ran out (the walk then stops where it is)."""
    out_rules, in_rules, root_out, root_in = table
    kinds, out_adj, in_adj = graph.kinds, graph.out, graph.inc
    dist: dict[int, int] = {r: 0}
    parent: dict[int, int] = {}
    edges: list[tuple[int, int, int]] = []
    truncated = False
    crossed_indirect = False
    limit = options.limit
    budget = options.budget
    countdown = CHECK_EVERY
    frontier = [r]
    for depth in range(1, options.depth + 1):
        nxt: list[int] = []
        for u in frontier:
            if budget is not None:
                countdown -= 1
                if not countdown:
                    if budget.is_exhausted():
                        return dist, parent, edges, truncated, crossed_indirect, True
                    countdown = CHECK_EVERY
            k = kinds[u]
            follow_out = root_out if u == r else out_rules[k]
            follow_in = root_in if u == r else in_rules[k]
            for adjacency, follow, outgoing in (
                (out_adj[u], follow_out, True),
                (in_adj[u], follow_in, False),
            ):
                if not follow:
                    continue
                for entry in adjacency:
                    code = entry & 15
                    if code not in follow:
                        continue
                    v = entry >> 4
                    if v not in dist:
                        if v >= visible:  # added while this walk runs: not part of its graph
                            continue
                        if len(dist) > limit:
                            truncated = True
                            continue
                        dist[v] = depth
                        parent[v] = u
                        nxt.append(v)
                    if code == INDIRECT:
                        crossed_indirect = True
                    # recorded as stored: in the direction data flows
                    edges.append((u, v, code) if outgoing else (v, u, code))
        if not nxt:
            break
        frontier = nxt
    return dist, parent, edges, truncated, crossed_indirect, False


def _visible(graph: Adjacency) -> int:
    """How many nodes are whole: each node's slots are appended one list at a time, so a node
    being added by a concurrent ingest is in some lists and not yet in others."""
    return min(len(graph.ids), len(graph.kinds), len(graph.out), len(graph.inc))


def _add_column_datasets(
    graph: Adjacency,
    nodes: list[ImpactedNode],
    edges: list[Edge],
    r: int,
    downstream: bool,
    options: WalkOptions,
) -> bool:
    """A column walk impacts (or implicates) the dataset of every column it reaches, one
    HAS_COLUMN hop beyond the column, within the same depth and cap; True if the cap cut."""
    best: dict[str, ImpactedNode] = {}
    links: dict[str, list[Edge]] = {}
    owner = next((e >> 4 for e in graph.inc[r] if e & 15 == HAS_COLUMN), None)
    own = None if owner is None else graph.ids[owner]
    for node in nodes:
        if node.kind != NodeKind.COLUMN.value:
            continue
        idx = graph.index[node.id]
        for entry in graph.inc[idx]:
            if entry & 15 != HAS_COLUMN:
                continue
            ds = graph.ids[entry >> 4]
            links.setdefault(ds, []).append(Edge(ds, node.id, EdgeKind.HAS_COLUMN.value))
            if ds == own:
                continue
            seen = best.get(ds)
            if node.distance + 1 > options.depth:
                continue
            # Among equally near columns a DIRECT one decides, so the answer does not depend on
            # the order edges were stored in (which differs between stores).
            if (
                seen is None
                or node.distance + 1 < seen.distance
                or (
                    node.distance + 1 == seen.distance
                    and node.dependence == "DIRECT"
                    and seen.dependence != "DIRECT"
                )
            ):
                state = None if downstream else graph.state(entry >> 4)
                best[ds] = ImpactedNode(
                    ds,
                    NodeKind.DATASET.value,
                    node.distance + 1,
                    [*node.path, ds],
                    node.dependence,
                    state,
                )
    room = max(0, options.limit - len(nodes))
    ranked = sorted(best.values(), key=lambda n: (n.distance, n.id))
    nodes.extend(ranked[:room])
    for kept in ranked[:room]:
        edges.extend(links[kept.id])
    return len(ranked) > room


_TABLES: dict[tuple[Direction, WalkOptions, NodeKind], Any] = {}


def _follow_table(
    direction: Direction, options: WalkOptions, root_kind: NodeKind
) -> tuple[list[frozenset[int]], list[frozenset[int]], frozenset[int], frozenset[int]]:
    """Edge codes to follow out of / into each node kind, from the shared walk rules."""
    cache_key = (direction, WalkOptions(0, 0, options.columns, options.direct_only), root_kind)
    cached = _TABLES.get(cache_key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]

    def codes(kind: NodeKind, is_root: bool) -> tuple[frozenset[int], frozenset[int]]:
        out: set[int] = set()
        inc: set[int] = set()
        for edge_kind, outgoing in rules.steps(
            kind, direction, options, is_root=is_root, root_kind=root_kind
        ):
            for code, (k, variant) in enumerate(EDGE_CODES):
                if k is edge_kind and not (options.direct_only and variant == "INDIRECT"):
                    (out if outgoing else inc).add(code)
        return frozenset(out), frozenset(inc)

    per_kind = [codes(kind, False) for kind in NODE_KINDS]
    root_out, root_in = codes(root_kind, True)
    table = ([p[0] for p in per_kind], [p[1] for p in per_kind], root_out, root_in)
    _TABLES[cache_key] = table
    return table
