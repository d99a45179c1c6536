"""What applying a batch of deltas writes to Neo4j, decided in Python (pure).

The deltas are first folded into a scratch MemoryGraph — the embedded store's own merge code, so
both stores merge alike. Each record is then combined with the stored one by the merge rule
(graph/merge.py: per-property stamps, earliest first_seen, latest stamp and its run); only what
changes is written.
A node that the batch only implies (an edge endpoint, a dataset named by column facts) is written
only if it does not exist yet, as the embedded store creates it only when absent. Columns,
HAS_COLUMN and DERIVES are materialized from column-fact versions the database has not seen.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ripple.graph.codes import EDGE_CODES, NODE_KINDS
from ripple.graph.columns import DST_FIELD, SRC_COLUMN, SRC_DATASET, TYPE, Version
from ripple.graph.delta import GraphDelta
from ripple.graph.memory import MemoryGraph
from ripple.graph.merge import Record, combine, touch
from ripple.model import EdgeKind, NodeKind, field_of_part, field_part


@dataclass(frozen=True, slots=True)
class Batch:
    graph: MemoryGraph  # the deltas folded together; never changed after fold()
    explicit: frozenset[str]  # nodes some delta upserts (the rest are only implied)

    def nodes(self) -> Iterator[tuple[str, NodeKind, Record | None]]:
        g = self.graph
        for idx, node_id in enumerate(g.ids):
            yield node_id, NODE_KINDS[g.kinds[idx]], g.records[idx]

    def edges(self) -> Iterator[tuple[str, EdgeKind, str, str, Record]]:
        """Edges asserted with a record (not those materialized from column facts)."""
        g = self.graph
        for key, record in g.edges.items():
            if record is None:
                continue
            kind, variant = EDGE_CODES[key & 15]
            yield g.ids[key >> 40], kind, g.ids[(key >> 4) & ((1 << 36) - 1)], variant, record

    def versions(self) -> Iterator[tuple[str, str, Version]]:
        g = self.graph
        for ds, versions in g.columns.items():
            for vkey, version in versions.items():
                yield g.ids[ds], vkey, version


def fold(deltas: Sequence[GraphDelta]) -> Batch:
    graph = MemoryGraph()
    explicit: set[str] = set()
    for delta in deltas:
        graph.apply(delta)
        explicit.update(node.id for node in delta.nodes)
    return Batch(graph, frozenset(explicit))


def merged(stored: Record | None, batch: Record, *, explicit: bool) -> Record | None:
    """The record to write for a node or edge, or None when the stored one stands."""
    if stored is None:
        return batch
    if not explicit:
        return None
    result = combine(stored, batch)
    return None if result == stored else result


def merged_version(stored: Version, batch: Version) -> Version | None:
    """A version's seen-stamps after the batch re-asserted it, or None when unchanged."""
    result = [stored[0], stored[1], stored[2], stored[3]]
    touch(result, batch[0], batch[1], batch[2])
    return None if result[:3] == stored[:3] else result


def version_key(dataset: str, vkey: str) -> str:
    return f"{dataset}|{vkey}"


@dataclass(slots=True)
class Materialized:
    """Columns (key -> (dataset, name)) and DERIVES edges (src, dst, type) to MERGE."""

    columns: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    derives: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, dataset: str, vkey: str, payload: tuple[tuple[object, ...], ...]) -> None:
        prefix = column_prefix(dataset)
        if vkey[0] == "s":
            for row in payload:
                name = str(row[0])
                self.columns[prefix + field_part(name)] = (dataset, name)
            return
        for entry in payload:
            src_ds, src = str(entry[SRC_DATASET]), str(entry[SRC_COLUMN])
            self.columns[src] = (src_ds, field_of_part(src[len(column_prefix(src_ds)) :]))
            name = str(entry[DST_FIELD] or "")
            dst = prefix + field_part(name)
            self.columns[dst] = (dataset, name)
            variant = "DIRECT" if entry[TYPE] == "DIRECT" else "INDIRECT"  # as MemoryGraph does
            self.derives.add((src, dst, variant))


def column_prefix(dataset: str) -> str:
    """A column id is its dataset's id plus ':<field>', with 'datasetField' for 'dataset'."""
    return f"datasetField:{dataset[len('dataset:') :]}:"
