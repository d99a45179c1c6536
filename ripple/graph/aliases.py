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

from ripple.graph.codes import ALIAS, COLUMN, HAS_COLUMN, ID_PREFIX, column_prefix
from ripple.model import NodeKind, Prop

LIFECYCLE: Final = Prop.FACET + "lifecycleStateChange"
# How much longer a column id's prefix is than its dataset's id (codes.column_prefix).
_COLUMN_ID_EXTRA = len(column_prefix(ID_PREFIX[NodeKind.DATASET])) - len(
    ID_PREFIX[NodeKind.DATASET]
)
GONE: Final = frozenset({"DROP", "TRUNCATE"})  # lifecycle states an answer points out


class Linked(Protocol):
    """What alias groups read of the in-memory graph (graph/memory.py's MemoryGraph)."""

    index: dict[str, int]
    ids: list[str]
    kinds: bytearray
    out: list[list[int]]
    inc: list[list[int]]
    aliased: set[int]  # nodes with an ALIAS_OF edge, either way


class Groups:
    """The alias groups one walk meets, each worked out once: `of(idx)` is the group of a
    dataset or column, canonical member first and then the others by id (so the order does not
    depend on the order edges arrived in), or None when it has no alias. Only nodes below
    `visible` count (see graph/walk.py)."""

    __slots__ = ("graph", "known", "visible")

    def __init__(self, graph: Linked, visible: int) -> None:
        self.graph = graph
        self.visible = visible
        self.known: dict[int, list[int] | None] = {}

    def of(self, idx: int) -> list[int] | None:
        known = self.known
        if idx in known:
            return known[idx]
        graph = self.graph
        if graph.kinds[idx] == COLUMN:
            members = self._columns(idx)
        elif idx in graph.aliased:
            members = self._datasets(idx)
        else:
            members = None
        if members is None or len(members) == 1:
            known[idx] = None
            return None
        for member in members:
            known[member] = members
        return members

    def _datasets(self, idx: int) -> list[int]:
        members = _linked(self.graph, idx, self.visible)
        first = canonical(self.graph, members)
        ids = self.graph.ids
        return [first, *sorted((m for m in members if m != first), key=ids.__getitem__)]

    def _columns(self, idx: int) -> list[int] | None:
        """A column, the same-named columns of its dataset's aliases (the canonical dataset's
        first), and any column joined to it by an ALIAS_OF edge of its own (a Neo4j scratch
        graph carries those)."""
        graph = self.graph
        ds = owner(graph, idx)
        if ds is not None and ds in graph.aliased:
            datasets = self.of(ds)
            if datasets is not None:
                self._name_columns(datasets)
        grouped = self.known.get(idx)
        found = dict.fromkeys(grouped or (idx,))
        if idx in graph.aliased:
            found.update(dict.fromkeys(_linked(graph, idx, self.visible)))
            ids = graph.ids
            if grouped is None:  # no dataset group to order by: the smallest id first
                return sorted(found, key=ids.__getitem__)
            extra = sorted((m for m in found if m not in grouped), key=ids.__getitem__)
            return [*grouped, *extra]
        return list(found)

    def _name_columns(self, datasets: list[int]) -> None:
        """Group every column of an alias group's datasets by field name, in one pass (a
        column's id is its dataset's id, re-prefixed, plus ':' and the field)."""
        graph = self.graph
        ids, out, visible, known = graph.ids, graph.out, self.visible, self.known
        by_field: dict[str, list[int]] = {}
        for ds in datasets:
            cut = len(ids[ds]) + _COLUMN_ID_EXTRA
            for entry in out[ds]:
                if entry & 15 == HAS_COLUMN:
                    column = entry >> 4
                    if column < visible:
                        by_field.setdefault(ids[column][cut:], []).append(column)
        for members in by_field.values():
            group = members if len(members) > 1 else None
            for member in members:
                known[member] = group


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


def canonical(graph: Linked, members: list[int]) -> int:
    """The dataset whose id a group answers under (see the module's rule)."""
    if len(members) == 1:
        return members[0]
    inside = set(members)
    sinks = [
        m for m in members if not any(e & 15 == ALIAS and (e >> 4) in inside for e in graph.out[m])
    ]
    return min(sinks or members, key=graph.ids.__getitem__)


def lifecycle_state(props: Mapping[str, Any] | None) -> str | None:
    """A dataset's latest lifecycle state (CREATE, DROP, TRUNCATE, RENAME, …), if an event
    said one (the lifecycleStateChange facet, kept as a property)."""
    facet = None if props is None else props.get(LIFECYCLE)
    if not isinstance(facet, dict):
        return None
    state = facet.get("lifecycleStateChange")
    return state.upper() if isinstance(state, str) and state else None
