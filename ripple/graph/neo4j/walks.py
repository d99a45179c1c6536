"""Walks on Neo4j: a pruned breadth-first closure in Cypher, finished by the shared walk code.

The closure statements (cypher.CLOSURE) return each reachable node with its minimal distance,
cut to the `limit + 1` nearest. The relationships among those nodes (plus column owners and run
states where the answer needs them) are loaded into a scratch MemoryGraph, and graph/walk.py runs
on it — so paths, dependence, truncation and the column-root dataset rule are computed by the very
code the embedded store uses. That is exact because the scratch graph holds every node the walk
can reach within depth (or, when cut, every node nearer than the farthest one kept) with all
the relationships among them, and nothing that could be reached beyond them.

Which edges a walk follows comes from graph/rules.py as legs: one var-length closure whose
relationship types are the steps of every node kind it can reach (exact, because every type joins
fixed labels), and a first hop for the steps only a root takes (a run root's PRODUCED / READ, a
dataset root's own columns walked upstream), fetched before its closure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from ripple.graph import rules
from ripple.graph.memory import MemoryGraph
from ripple.graph.neo4j import cypher
from ripple.graph.neo4j.records import record_of
from ripple.graph.store import Direction, WalkOptions
from ripple.model import EdgeKind, NodeKind


@dataclass(frozen=True, slots=True)
class Branch:
    shape: LiteralString | None  # a cypher.SHAPES key; None: the first hop only
    first_hop: LiteralString | None = None  # a relationship out of the root, taken first


def branches(kind: NodeKind, direction: Direction, options: WalkOptions) -> tuple[Branch, ...]:
    """The closure statements a walk from a root of `kind` runs: one per leg of graph/rules.py."""
    return tuple(
        Branch(
            _shape(leg.steps, direction, options),
            None if leg.first is None else _first_hop(leg.first),
        )
        for leg in rules.legs(kind, direction, options)
    )


# A step against the closure pattern's arrow needs a relationship pointing the other way.
_MIRRORS: dict[EdgeKind, LiteralString] = {EdgeKind.IMPLEMENTS: cypher.MIRROR}
_FIRST_HOPS: dict[EdgeKind, LiteralString] = {EdgeKind(kind): kind for kind in cypher.FIRST_HOP}


def _shape(
    steps: frozenset[rules.Step], direction: Direction, options: WalkOptions
) -> LiteralString | None:
    """The cypher.SHAPES key whose var-length pattern takes exactly `steps`."""
    if not steps:
        return None
    downstream = direction == Direction.DOWNSTREAM
    types = frozenset(
        edge.value if outgoing == downstream else _MIRRORS[edge] for edge, outgoing in steps
    )
    direct = options.direct_only and any(edge is EdgeKind.DERIVES for edge, _ in steps)
    return cypher.SHAPE_OF[(Direction(direction), types, direct)]


def _first_hop(step: rules.Step) -> LiteralString:
    edge, outgoing = step
    if not outgoing:
        raise LookupError(f"no first-hop statement follows {edge} backwards (cypher.FIRST_HOP)")
    return _FIRST_HOPS[edge]


def bound_for(depth: int) -> LiteralString:
    """The smallest var-length bound that covers `depth` hops."""
    for bound in cypher.BOUNDS:
        if bound and int(bound) >= depth:
            return bound
    return ""


def reach_of(options: WalkOptions, aliases: bool) -> tuple[int, int]:
    """How deep the closure statements look and how many nodes they keep.

    Cypher counts each alias crossed as a hop, and the shared walk counts none (a group is one
    node), so on a graph with aliases the statements look twice as deep and keep twice as many,
    and the shared walk on the scratch graph cuts the answer to the real depth and cap. That is
    exact up to the cap; an answer the cap cut may keep other nodes at its farthest distance
    than the embedded store keeps."""
    if not aliases or options.depth == 0:
        return options.depth, options.limit + 1
    return 2 * options.depth + 2, 2 * (options.limit + 1)


async def load_walk(
    tx: AsyncManagedTransaction,
    root: str,
    kind: NodeKind,
    direction: Direction,
    options: WalkOptions,
    *,
    aliases: bool = False,
) -> MemoryGraph | None:
    """The scratch graph a walk from `root` runs on; None when `root` is not in the database.

    With `aliases`, the root's alias group starts the walk with it (graph/aliases.py)."""
    label = cypher.LABELS[kind.value]
    depth_all, cap = reach_of(options, aliases)
    if (
        direction == Direction.DOWNSTREAM
        and label in cypher.WALK_ROOT_LABELS
        and options.depth >= 1
    ):
        return await _load_downstream(tx, root, kind, label, depth_all, cap, options)
    located = await _rows(tx, cypher.LOCATE[label], keys=[root])
    if not located:
        return None
    _, root_eid, root_props = located[0]
    members = [(root, root_eid)]
    if aliases and kind in (NodeKind.DATASET, NodeKind.COLUMN):
        for _, _, others in await _rows(tx, cypher.ALIAS_GROUP[label], keys=[root]):
            members.extend((key, eid) for key, eid in others if key is not None and key != root)
    found: dict[str, tuple[str, int]] = {}  # node id -> (element id, distance)
    hops: list[tuple[str, EdgeKind, str]] = []  # first-hop edges (root member, kind, other end)

    def reach(key: str, eid: str, distance: int) -> None:
        seen = found.get(key)
        if seen is None or distance < seen[1]:
            found[key] = (eid, distance)

    for key, eid in members[1:]:
        reach(key, eid, 0)
    for branch in branches(kind, direction, options):
        starts, offset = [eid for _, eid in members], 0
        if branch.first_hop is not None:
            starts = []
            for member, member_eid in members:
                rows = await _rows(tx, cypher.FIRST_HOP[branch.first_hop], root=member_eid)
                for key, eid in rows:
                    reach(key, eid, 1)
                    hops.append((member, EdgeKind(branch.first_hop), key))
                starts.extend(eid for _, eid in rows)
            offset = 1
        depth = depth_all - offset
        if branch.shape is None or not starts or depth < 1:
            continue
        query = cypher.CLOSURE[(branch.shape, bound_for(depth))]
        rows = await _rows(tx, query, starts=starts, depth=depth, cap=cap)
        for key, eid, distance in rows:
            reach(key, eid, distance + offset)
    found.pop(root, None)
    kept = sorted(found.items(), key=lambda item: item[1][1])[:cap]

    graph = MemoryGraph()
    graph.add_node(root, kind, _props_record(root_props))
    graph.add_stored_nodes(key for key, _ in kept)
    eids = [root_eid, *(eid for _, (eid, _) in kept)]
    for member, edge_kind, other in hops:
        if member in graph.index and other in graph.index:
            graph.add_edge(member, edge_kind, other)
    graph.add_stored_edges(await _rows(tx, cypher.EDGES_AMONG[direction], eids=eids))

    owners_needed = kind is NodeKind.COLUMN or direction == Direction.UPSTREAM
    if owners_needed:
        columns = [eid for key, (eid, _) in kept if key.startswith("datasetField:")]
        if kind is NodeKind.COLUMN:
            columns.append(root_eid)
        owners: list[str] = []
        for column, dataset, eid in await _rows(tx, cypher.OWNERS, eids=columns):
            if dataset not in graph.index:
                eids.append(eid)
            owners.append(eid)
            graph.add_node(dataset, NodeKind.DATASET)
            graph.add_edge(dataset, EdgeKind.HAS_COLUMN, column)
        if aliases and owners:  # the owners' alias groups name their columns (aliases.py)
            await _load_groups(tx, graph, owners)
    if direction == Direction.UPSTREAM:
        await _load_states(tx, graph, eids)
    return graph


async def _load_downstream(
    tx: AsyncManagedTransaction,
    root: str,
    kind: NodeKind,
    label: LiteralString,
    depth: int,
    cap: int,
    options: WalkOptions,
) -> MemoryGraph | None:
    """The common case in one statement (cypher.WALK_DOWN): a single closure branch, no first
    hop, no column owners or states to add."""
    (branch,) = branches(kind, Direction.DOWNSTREAM, options)
    assert branch.shape is not None and branch.first_hop is None
    query = cypher.WALK_DOWN[(label, branch.shape, bound_for(depth))]
    # One more than the walk keeps, in case the root comes back round a cycle.
    params = {"root": root, "depth": depth, "cap": cap + 1}
    record = await (await tx.run(query, params)).single()
    if record is None:
        return None
    graph = MemoryGraph()
    graph.add_node(root, kind, _props_record(record["props"]))
    reached = [key for key in record["reached"] if key != root]
    graph.add_stored_nodes(reached[:cap])
    index = graph.index
    graph.add_stored_edges(e for e in record["edges"] if e[0] in index and e[3] in index)
    return graph


async def _load_groups(tx: AsyncManagedTransaction, graph: MemoryGraph, eids: list[str]) -> None:
    """The whole alias group of each of these datasets, with the ALIAS_OF edges among them."""
    members = set(eids)
    for key, eid in await _rows(tx, cypher.ALIAS_GROUP_OF, eids=eids):
        graph.add_node(key, NodeKind.DATASET)
        members.add(eid)
    graph.add_stored_edges(await _rows(tx, cypher.ALIASES_AMONG, eids=sorted(members)))


async def _load_states(tx: AsyncManagedTransaction, graph: MemoryGraph, eids: list[str]) -> None:
    """The properties a node's state is read from: its own, and its last run's."""
    runs: set[str] = set()
    for key, props in await _rows(tx, cypher.PROPS, eids=eids):
        record = _props_record(props)
        graph.add_node(key, _kind_of(key), record)
        last_run = record[3].get("last_run") if record[3] else None
        if isinstance(last_run, str) and last_run not in graph.index:
            runs.add(last_run)
    for key, props in await _rows(tx, cypher.RUN_PROPS, keys=sorted(runs)):
        graph.add_node(key, NodeKind.RUN, _props_record(props))


def _props_record(props: str | None) -> list[Any]:
    return record_of(None, None, None, props, None)


def _kind_of(node_id: str) -> NodeKind:
    return NodeKind(node_id.split(":", 1)[0])


async def _rows(tx: AsyncManagedTransaction, query: LiteralString, **params: Any) -> list[Any]:
    """The `rows` list a statement returns as its one record (none for a statement that only
    writes)."""
    result = await tx.run(query, params)
    record = await result.single()
    return [] if record is None else list(record["rows"])
