"""Alias groups: the datasets ALIAS_OF edges join, answered as one node (pure; no I/O).

ingest/aliases.py adds the edges (symlinks, renames, naming variants). A walk enters a group
through any member and reaches every member at the same distance; its answer shows the group
once, under the group's canonical id, with the other members as `aliases`. The columns of a
group's datasets that share a field name are one column the same way.

The canonical member is the one the ALIAS_OF edges lead to: an edge points from a name to the
name to prefer (a location to its table name, an old name to the new one, a producer's spelling
to the normalised one), so the canonical member is the group's member with no ALIAS_OF edge out
to another member. When several are (two table names declared for one location) or none is (a
cycle), the smallest id among them wins. The rule depends only on the edges, never on arrival
order; an answer's id changes only when a new edge gives the group a new preferred name — a
dataset known by its location becomes known by its table name once a symlink says so — and
every earlier id keeps answering, listed among the aliases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Protocol

from ripple.graph.codes import ALIAS, COLUMN, HAS_COLUMN, column_prefix
from ripple.model import Prop

LIFECYCLE: Final = Prop.FACET + "lifecycleStateChange"
GONE: Final = frozenset({"DROP", "TRUNCATE"})  # lifecycle states an answer points out


class Linked(Protocol):
    """What alias groups read of the in-memory graph (graph/memory.py's MemoryGraph)."""

    index: dict[str, int]
    ids: list[str]
    kinds: bytearray
    out: list[list[int]]
    inc: list[list[int]]
    aliased: set[int]  # nodes with an ALIAS_OF edge, either way


def group(graph: Linked, idx: int, visible: int) -> list[int]:
    """The members of the alias group of dataset or column `idx`, among the first `visible`
    nodes: its canonical member first, then the others by id (an order that does not depend on
    the order the edges arrived in)."""
    members = (_column_group if graph.kinds[idx] == COLUMN else _linked)(graph, idx, visible)
    if len(members) == 1:
        return members
    ids = graph.ids
    first = canonical(graph, members)
    return [first, *sorted((m for m in members if m != first), key=ids.__getitem__)]


def _linked(graph: Linked, idx: int, visible: int) -> list[int]:
    found = {idx: None}
    todo = [idx]
    out, inc = graph.out, graph.inc
    while todo:
        u = todo.pop()
        for adjacency in (out[u], inc[u]):
            for entry in adjacency:
                if entry & 15 == ALIAS:
                    v = entry >> 4
                    if v not in found and v < visible:
                        found[v] = None
                        todo.append(v)
    return list(found)


def owner(graph: Linked, column: int) -> int | None:
    """The dataset of a column (its HAS_COLUMN edge, which the in-memory graph keeps first)."""
    inc = graph.inc[column]
    if inc and inc[0] & 15 == HAS_COLUMN:
        return inc[0] >> 4
    return next((e >> 4 for e in inc if e & 15 == HAS_COLUMN), None)


def is_aliased(graph: Linked, idx: int) -> bool:
    """Whether `idx` belongs to a group of more than itself (cheap: no walk)."""
    aliased = graph.aliased
    if idx in aliased:
        return True
    if graph.kinds[idx] != COLUMN:
        return False
    ds = owner(graph, idx)
    return ds is not None and ds in aliased


def _column_group(graph: Linked, idx: int, visible: int) -> list[int]:
    """A column, the same-named columns of its dataset's aliases, and any column joined to it
    by an ALIAS_OF edge of its own (a Neo4j scratch graph carries those)."""
    found = {m: None for m in _linked(graph, idx, visible)}
    ds = owner(graph, idx)
    if ds is not None and ds in graph.aliased:
        ids, index = graph.ids, graph.index
        field = ids[idx][len(column_prefix(ids[ds])) :]
        for member in _linked(graph, ds, visible):
            if member != ds:
                other = index.get(column_prefix(ids[member]) + field)
                if other is not None and other < visible:
                    found.setdefault(other, None)
    return list(found)


def canonical(graph: Linked, members: list[int]) -> int:
    """The member whose id a group answers under (see the module's rule)."""
    if len(members) == 1:
        return members[0]
    ids = graph.ids
    if graph.kinds[members[0]] == COLUMN:
        owners = {m: owner(graph, m) for m in members}
        datasets = [o for o in owners.values() if o is not None]
        if datasets:
            best = canonical(graph, list(dict.fromkeys(datasets)))
            chosen = [m for m, o in owners.items() if o == best]
            if chosen:
                return min(chosen, key=ids.__getitem__)
        return min(members, key=ids.__getitem__)
    inside = set(members)
    sinks = [
        m for m in members if not any(e & 15 == ALIAS and (e >> 4) in inside for e in graph.out[m])
    ]
    return min(sinks or members, key=ids.__getitem__)


def lifecycle_state(props: Mapping[str, Any] | None) -> str | None:
    """A dataset's latest lifecycle state (CREATE, DROP, TRUNCATE, RENAME, …), if an event
    said one (the lifecycleStateChange facet, kept as a property)."""
    facet = None if props is None else props.get(LIFECYCLE)
    if not isinstance(facet, dict):
        return None
    state = facet.get("lifecycleStateChange")
    return state.upper() if isinstance(state, str) and state else None
