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
from ripple.graph.aliases import Groups, owner
from ripple.graph.codes import (
    COLUMN,
    EDGE_CODES,
    EDGE_NAMES,
    HAS_COLUMN,
    INDIRECT,
    KIND_VALUES,
    NODE_KINDS,
)
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
    aliased: set[int]

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
    # The root's other names are the root too: the walk starts from all of them at once, from
    # the canonical one first, so every name of the root gives the same answer.
    groups = Groups(graph, visible) if graph.aliased else None
    roots = (groups.of(r) if groups is not None else None) or [r]
    r = roots[0]
    table = _follow_table(direction, options, root_kind)
    dist, parent, edges, truncated, crossed_indirect, out_of_time = _bfs(
        graph, roots, table, options, visible, groups
    )
    direct: set[int] | None = None
    if crossed_indirect and not options.direct_only:
        strict = replace(options, direct_only=True)
        strict_table = _follow_table(direction, strict, root_kind)
        found = _bfs(graph, roots, strict_table, strict, visible, groups)
        direct = set(found[0])
        out_of_time |= found[5]
    downstream = direction is Direction.DOWNSTREAM
    if groups is None:
        nodes, result_edges = _answer(graph, roots, dist, parent, edges, direct, downstream)
    else:
        nodes, result_edges = _grouped_answer(
            graph, groups, roots, dist, parent, edges, direct, downstream
        )
    root = graph.ids[r]
    if root_kind is NodeKind.COLUMN:
        truncated |= _add_column_datasets(
            graph, nodes, result_edges, roots, downstream, options, groups
        )
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
    if groups is not None:
        closure.aliases = [graph.ids[m] for m in roots[1:]]
    return closure


def _answer(
    graph: Adjacency,
    roots: list[int],
    dist: dict[int, int],
    parent: dict[int, int],
    edges: list[tuple[int, int, int]],
    direct: set[int] | None,
    downstream: bool,
) -> tuple[list[ImpactedNode], list[Edge]]:
    """The impacted nodes, each with one shortest path, and the edges met."""
    ids, kinds = graph.ids, graph.kinds
    # dist is in breadth-first order, so a parent's path is built before its children's.
    paths: dict[int, list[str]] = {m: [ids[m]] for m in roots}
    root_set = set(roots)
    nodes: list[ImpactedNode] = []
    for idx, d in dist.items():
        if idx in root_set:
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
    return nodes, [Edge(ids[src], ids[dst], *EDGE_NAMES[code]) for src, dst, code in edges]


def _grouped_answer(
    graph: Adjacency,
    groups: Groups,
    roots: list[int],
    dist: dict[int, int],
    parent: dict[int, int],
    edges: list[tuple[int, int, int]],
    direct: set[int] | None,
    downstream: bool,
) -> tuple[list[ImpactedNode], list[Edge]]:
    """`_answer` with each alias group once, under its canonical id (graph/aliases.py): the
    group's members share one distance (the walk reached them together), paths and edges name
    the group, and the node lists its other names."""
    ids, kinds, known = graph.ids, graph.kinds, groups.known
    name = {idx: ids[g[0]] for idx, g in known.items() if g is not None}
    root_name = ids[roots[0]]
    paths: dict[int, list[str]] = {m: [root_name] for m in roots}
    root_set = set(roots)
    kept: dict[int, ImpactedNode] = {}
    nodes: list[ImpactedNode] = []
    for idx, d in dist.items():
        if idx in root_set:
            continue
        members = known.get(idx)
        dependence = "DIRECT" if direct is None or idx in direct else "INDIRECT"
        state = None if downstream else graph.state(idx)
        if members is None:  # most nodes: as `_answer` does
            path = paths[idx] = [*paths[parent[idx]], ids[idx]]
            nodes.append(
                ImpactedNode(ids[idx], KIND_VALUES[kinds[idx]], d, path, dependence, state)
            )
            continue
        node_id = ids[members[0]]
        above = paths[parent[idx]]
        path = paths[idx] = above if above[-1] == node_id else [*above, node_id]
        seen = kept.get(members[0])
        if seen is not None:  # another name of a group already answered
            if dependence == "DIRECT":
                seen.dependence = dependence
            if seen.state is None:
                seen.state = state
            continue
        node = ImpactedNode(node_id, KIND_VALUES[kinds[idx]], d, path, dependence, state)
        node.aliases = [ids[m] for m in members[1:]]
        kept[members[0]] = node
        nodes.append(node)
    out: list[Edge] = []
    append, get, names = out.append, name.get, EDGE_NAMES
    met: set[tuple[str, str, int]] = set()
    for src, dst, code in edges:
        a, b = get(src), get(dst)
        if a is None and b is None:  # no alias at either end: met once, as stored
            append(Edge(ids[src], ids[dst], *names[code]))
            continue
        a, b = a or ids[src], b or ids[dst]
        if a != b and (a, b, code) not in met:  # an edge of several names, named once
            met.add((a, b, code))
            append(Edge(a, b, *names[code]))
    return nodes, out


def _bfs(
    graph: Adjacency,
    roots: list[int],
    table: tuple[list[frozenset[int]], list[frozenset[int]], frozenset[int], frozenset[int]],
    options: WalkOptions,
    visible: int,
    groups: Groups | None = None,
) -> tuple[dict[int, int], dict[int, int], list[tuple[int, int, int]], bool, bool, bool]:
    """Distances, parents, edges met, whether the cap cut, whether an INDIRECT edge was
    crossed, and whether the budget ran out (the walk then stops where it is).

    `roots` is the root and its aliases. A node reached brings its alias group along at the
    same distance (graph/aliases.py): the group is one node, so its other members neither
    lengthen a path nor count against the cap."""
    out_rules, in_rules, root_out, root_in = table
    kinds, out_adj, in_adj = graph.kinds, graph.out, graph.inc
    r = roots[0]
    root_set = frozenset(roots)
    dist: dict[int, int] = dict.fromkeys(roots, 0)
    parent: dict[int, int] = {m: r for m in roots[1:]}
    edges: list[tuple[int, int, int]] = []
    truncated = False
    crossed_indirect = False
    limit = options.limit + len(roots) - 1
    group_of = None if groups is None else groups.of
    aliased = None if groups is None else graph.aliased
    budget = options.budget
    countdown = CHECK_EVERY
    frontier = list(roots)
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
            at_root = u in root_set
            follow_out = root_out if at_root else out_rules[k]
            follow_in = root_in if at_root else in_rules[k]
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
                        if aliased is None:
                            grouped = False
                        elif v in aliased:
                            grouped = True
                        elif kinds[v] == COLUMN:  # a column of an aliased dataset?
                            own = in_adj[v]
                            grouped = bool(own) and (
                                own[0] & 15 != HAS_COLUMN or (own[0] >> 4) in aliased
                            )
                        else:
                            grouped = False
                        members = group_of(v) if grouped else None  # type: ignore[misc]
                        if members is not None:
                            for m in members:
                                if m not in dist:
                                    dist[m] = depth
                                    parent[m] = v
                                    nxt.append(m)
                                    limit += 1
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
    roots: list[int],
    downstream: bool,
    options: WalkOptions,
    groups: Groups | None = None,
) -> bool:
    """A column walk impacts (or implicates) the dataset of every column it reaches, one
    HAS_COLUMN hop beyond the column, within the same depth and cap; True if the cap cut.
    A dataset with aliases is named, once, by its group's canonical id."""
    ids = graph.ids

    def group_of(dataset: int) -> list[int]:
        members = None if groups is None else groups.of(dataset)
        return [dataset] if members is None else members

    best: dict[str, ImpactedNode] = {}
    links: dict[str, list[Edge]] = {}
    own = {ids[group_of(o)[0]] for o in (owner(graph, m) for m in roots) if o is not None}
    for node in nodes:
        if node.kind != NodeKind.COLUMN.value:
            continue
        idx = graph.index[node.id]
        for entry in graph.inc[idx]:
            if entry & 15 != HAS_COLUMN:
                continue
            members = group_of(entry >> 4)
            ds = ids[members[0]]
            links.setdefault(ds, []).append(Edge(ds, node.id, EdgeKind.HAS_COLUMN.value))
            if ds in own:
                continue
            seen = best.get(ds)
            if node.distance + 1 > options.depth:
                continue
            state = None if downstream else graph.state(entry >> 4)
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
                best[ds] = ImpactedNode(
                    ds,
                    NodeKind.DATASET.value,
                    node.distance + 1,
                    [*node.path, ds],
                    node.dependence,
                    state if state is not None or seen is None else seen.state,
                    [ids[m] for m in members[1:]],
                )
            elif seen.state is None:  # another name of the dataset knows its state
                seen.state = state
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
