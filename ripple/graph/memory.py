"""An in-memory lineage graph: compact adjacency for fast walks, records merged per property.

Pure code: no I/O. Nodes are dense integers; adjacency lists hold `(other << 4) | edge_code`.
Each dataset, job and run node and their edges keep `first_seen`, the stamp and run of the latest
assertion, and each property with the stamp that set it, so applying deltas is idempotent and
commutative. Columns and their edges are materialized from content-addressed column facts and their
records derived from those (see graph/columns.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from sys import intern
from typing import Any

from ripple.graph import columns
from ripple.graph.codes import (
    ALIAS,
    COLUMN,
    DIRECT,
    EDGE_CODE,
    EDGE_CODE_OF_NAMES,
    EDGE_CODES,
    EDGE_NAMES,
    HAS_COLUMN,
    ID_PREFIX,
    INDIRECT,
    LINEAGE_TAG,
    NODE_CODE,
    NODE_CODE_OF_PREFIX,
    NODE_KINDS,
    SCHEMA_TAG,
    column_prefix,
    kind_of_id,
)
from ripple.graph.columns import Version
from ripple.graph.delta import ColumnFacts, GraphDelta
from ripple.graph.merge import Record, merge, time_of, touch
from ripple.graph.native import NATIVE
from ripple.graph.store import Closure, Direction, Edge, NodeRecord, WalkOptions
from ripple.graph.walk import closure
from ripple.model import (
    DIRECT_TYPE,
    ID_SEPARATOR,
    EdgeKind,
    NodeKind,
    Prop,
    field_of_part,
    field_part,
)

# A record (graph/merge.py): [first_seen, last_stamp, last_run, props | None, stamps | None]
_EMPTY: Record = [None, None, None, None, None]  # placeholder until apply() fills the slot
_ALIAS_OF = EdgeKind.ALIAS_OF
# How much longer a column id's prefix is than its dataset's id (codes.column_prefix).
_COLUMN_ID_EXTRA = len(column_prefix(ID_PREFIX[NodeKind.DATASET])) - len(
    ID_PREFIX[NodeKind.DATASET]
)


class MemoryGraph:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.ids: list[str] = []
        self.kinds = bytearray()
        self.records: list[Record | None] = []  # None for columns (derived)
        self.out: list[list[int]] = []
        self.inc: list[list[int]] = []
        self.edges: dict[int, Record | None] = {}  # None: derived from column versions
        self.columns: dict[int, dict[str, Version]] = {}  # dataset -> its column-fact versions
        self.aliased: set[int] = set()  # nodes with an ALIAS_OF edge, either way (graph/aliases.py)
        self.through = 0
        self.log: str | None = None  # identity of the event log `through` counts in

    # -- writes -------------------------------------------------------------------------------

    def apply(self, delta: GraphDelta) -> None:
        """Merge one delta (the hot path of ingest: kept flat on purpose, and run in C when
        ripple/_native.c was built; tests/unit/test_native.py checks that both agree)."""
        if NATIVE is not None:
            NATIVE.apply(
                self.index,
                self.ids,
                self.kinds,
                self.records,
                self.out,
                self.inc,
                self.edges,
                self.columns,
                delta,
            )
            self._note_aliases(delta)
            return
        stamp, run = delta.stamp, delta.run
        time = time_of(stamp)
        index, records = self.index, self.records
        for node in delta.nodes:
            idx = index.get(node.id)
            props = node.props
            if idx is None:
                idx = self._new_node(node.id, NODE_CODE[node.kind])
                records[idx] = [time, stamp, run, dict(props), dict.fromkeys(props, stamp)]
            else:
                record = records[idx]
                if record is None:  # a column first known from column facts
                    records[idx] = record = [time, stamp, run, {}, {}]
                touch(record, time, stamp, run)
                if props:
                    merge(record, props, stamp)
        edges, out, inc = self.edges, self.out, self.inc
        for edge in delta.edges:
            src = index.get(edge.src)
            if src is None:
                src = self._new_node(edge.src, NODE_CODE[kind_of_id(edge.src)])
                records[src] = [time, stamp, run, {}, {}]
            dst = index.get(edge.dst)
            if dst is None:
                dst = self._new_node(edge.dst, NODE_CODE[kind_of_id(edge.dst)])
                records[dst] = [time, stamp, run, {}, {}]
            code = EDGE_CODE[(edge.kind, edge.variant)]
            key = (src << 40) | (dst << 4) | code
            found = edges.get(key)
            if found is None:
                props = edge.props
                edges[key] = [
                    time,
                    stamp,
                    run,
                    dict(props) if props else None,
                    dict.fromkeys(props, stamp) if props else None,
                ]
                out[src].append((dst << 4) | code)
                inc[dst].append((src << 4) | code)
            else:
                touch(found, time, stamp, run)
                if edge.props:
                    merge(found, edge.props, stamp)
        for facts in delta.columns:
            self._apply_columns(facts, time, stamp, run)
        self._note_aliases(delta)

    def _note_aliases(self, delta: GraphDelta) -> None:
        for edge in delta.edges:
            if edge.kind == _ALIAS_OF:
                self.aliased.update((self.index[edge.src], self.index[edge.dst]))

    def _apply_columns(self, facts: ColumnFacts, time: str, stamp: str, run: str | None) -> None:
        """Record a schema / lineage version; materialize columns and edges for new content."""
        ds_id = facts.dataset
        ds = self.index.get(ds_id)
        if ds is None:
            ds = self._new_node(ds_id, NODE_CODE[NodeKind.DATASET])
            self.records[ds] = [time, stamp, run, {}, {}]
        versions = self.columns.get(ds)
        if versions is None:
            versions = self.columns[ds] = {}
        schema = facts.schema
        prefix = column_prefix(ds_id)
        index = self.index
        if schema is not None:
            key = SCHEMA_TAG + schema.digest
            found = versions.get(key)
            if found is not None:
                touch(found, time, stamp, run)
            else:
                versions[key] = [time, stamp, run, schema.fields]
                for name, _, _ in schema.fields:
                    column_id = prefix + field_part(name)
                    if column_id not in index:
                        self._new_column(ds, column_id)
        if facts.lineage_digest is not None:
            key = LINEAGE_TAG + facts.lineage_digest
            found = versions.get(key)
            if found is not None:
                touch(found, time, stamp, run)
            else:
                # The payload keeps the graph's own id strings and interned names rather than
                # the event's copies: millions fewer strings in memory, and in the snapshot one
                # reference each instead of a copy (it opens about twice as fast).
                payload = []
                edges, out, inc, ids = self.edges, self.out, self.inc, self.ids
                for entry in facts.lineage:
                    src_ds_id, src_id, dst_field, kind, subtype, description, masking = entry
                    src_ds = index[src_ds_id]
                    src = index.get(src_id)
                    if src is None:  # projection keeps only datasets the event names
                        src = self._new_column(src_ds, src_id)
                    dst_id = prefix + field_part(dst_field or "")
                    dst = index.get(dst_id)
                    if dst is None:
                        dst = self._new_column(ds, dst_id)
                    code = DIRECT if kind == DIRECT_TYPE else INDIRECT
                    edge = (src << 40) | (dst << 4) | code
                    if edge not in edges:
                        edges[edge] = None
                        out[src].append((dst << 4) | code)
                        inc[dst].append((src << 4) | code)
                    payload.append(
                        (
                            ids[src_ds],
                            ids[src],
                            intern(dst_field) if dst_field is not None else None,
                            intern(kind),
                            intern(subtype) if subtype is not None else None,
                            description,
                            masking,
                        )
                    )
                versions[key] = [time, stamp, run, tuple(payload)]

    def _new_column(self, ds: int, column_id: str) -> int:
        """A new column node of dataset `ds`, with its HAS_COLUMN edge."""
        idx = len(self.ids)
        self.index[column_id] = idx
        self.ids.append(column_id)
        self.kinds.append(COLUMN)
        self.records.append(None)
        self.out.append([])
        self.inc.append([(ds << 4) | HAS_COLUMN])
        self.out[ds].append((idx << 4) | HAS_COLUMN)
        self.edges[(ds << 40) | (idx << 4) | HAS_COLUMN] = None
        return idx

    def _new_node(self, node_id: str, code: int) -> int:
        idx = len(self.ids)
        self.index[node_id] = idx
        self.ids.append(node_id)
        self.kinds.append(code)
        self.records.append(_EMPTY)
        self.out.append([])
        self.inc.append([])
        return idx

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    # -- loading a subgraph held elsewhere (a store answering from what it read back) ----------

    def add_node(self, node_id: str, kind: NodeKind, record: Record | None = None) -> int:
        """Add a node as stored (a column's record is derived, so pass none); a node already
        present keeps its place and takes `record` if given."""
        idx = self.index.get(node_id)
        if idx is None:
            idx = self._new_node(node_id, NODE_CODE[kind])
            self.records[idx] = record
        elif record is not None:
            self.records[idx] = record
        return idx

    def add_edge(
        self,
        src: str,
        kind: EdgeKind,
        dst: str,
        variant: str = "",
        record: Record | None = None,
    ) -> None:
        """Add an edge between two added nodes as stored (`record` None: derived from column
        versions); adding it again changes nothing."""
        s, d = self.index[src], self.index[dst]
        code = EDGE_CODE[(kind, variant)]
        key = (s << 40) | (d << 4) | code
        if key not in self.edges:
            self.edges[key] = record
            self.out[s].append((d << 4) | code)
            self.inc[d].append((s << 4) | code)
            if code == ALIAS:
                self.aliased.update((s, d))

    def add_stored_nodes(self, node_ids: Iterable[str]) -> None:
        """`add_node` without a record for many ids, each of the kind its prefix names."""
        for node_id in node_ids:
            if node_id not in self.index:
                prefix = node_id.split(ID_SEPARATOR, 1)[0]
                idx = self._new_node(node_id, NODE_CODE_OF_PREFIX[prefix])
                self.records[idx] = None

    def add_stored_edges(self, rows: Iterable[Sequence[Any]]) -> None:
        """`add_edge` for many `(src, kind, variant or None, dst)` rows of names, as stores read
        them back; the fast path of loading a large walk."""
        index, edges, out, inc = self.index, self.edges, self.out, self.inc
        for src, kind, variant, dst in rows:
            s, d = index[src], index[dst]
            code = EDGE_CODE_OF_NAMES[(kind, variant or "")]
            key = (s << 40) | (d << 4) | code
            if key not in edges:
                edges[key] = None
                out[s].append((d << 4) | code)
                inc[d].append((s << 4) | code)
                if code == ALIAS:
                    self.aliased.update((s, d))

    def add_versions(self, dataset: str, versions: dict[str, Version]) -> None:
        """Give an added dataset its column-fact versions (see graph/columns.py)."""
        self.columns.setdefault(self.index[dataset], {}).update(versions)

    # -- reads --------------------------------------------------------------------------------

    def kind(self, idx: int) -> NodeKind:
        return NODE_KINDS[self.kinds[idx]]

    def record(self, node_id: str) -> NodeRecord | None:
        idx = self.index.get(node_id)
        if idx is None:
            return None
        if self.kinds[idx] == COLUMN:
            seen, props = self._column_seen(idx)
            owner = self._owner(idx)
            if owner is not None:
                props["dataset"] = self.ids[owner]
                props["name"] = self._field(idx, owner)
            return NodeRecord(
                node_id, NodeKind.COLUMN.value, props, seen.first, _time(seen.last), seen.run
            )
        first, last, run, values, _ = self.records[idx] or _EMPTY
        out = dict(values or {})
        versions = self.columns.get(idx)
        if versions:
            current = columns.current_schema(versions)
            if current is not None:
                out["schema_version"], out["fields"] = current
            out["versions"] = columns.schema_history(versions)
        return NodeRecord(node_id, self.kind(idx).value, out, first, _time(last), run)

    def _owner(self, column: int) -> int | None:
        return next((e >> 4 for e in self.inc[column] if e & 15 == HAS_COLUMN), None)

    def _field(self, column: int, owner: int) -> str:
        # datasetField:<ns>:<name>:<field> is dataset:<ns>:<name> plus ':<field>' (model.py)
        return field_of_part(self.ids[column][len(self.ids[owner]) + _COLUMN_ID_EXTRA :])

    def _column_seen(self, idx: int) -> tuple[columns.Seen, dict[str, Any]]:
        owner = self._owner(idx)
        if owner is None:
            return columns.Seen(), {}
        column_id = self.ids[idx]
        cited: dict[int, columns.Version] = {}
        for entry in self.out[idx]:
            if entry & 15 in (DIRECT, INDIRECT):
                dst_owner = self._owner(entry >> 4)
                for key, version in self.columns.get(dst_owner, {}).items():  # type: ignore[arg-type]
                    if not columns.is_schema(key) and columns.cites(version, column_id):
                        cited[id(version)] = version
        own = self.columns.get(owner, {})
        return columns.column_record(self._field(idx, owner), own, cited.values())

    def _derived_edge(self, src: int, dst: int, code: int) -> tuple[columns.Seen, dict[str, Any]]:
        """The record of a HAS_COLUMN or DERIVES edge, from column-fact versions."""
        if code == HAS_COLUMN:
            return self._column_seen(dst)[0], {}
        owner = self._owner(dst)
        if owner is None:
            return columns.Seen(), {}
        _, variant = EDGE_CODES[code]
        return columns.derives_record(
            self.columns.get(owner, {}), self.ids[src], self._field(dst, owner), variant
        )

    def prop(self, idx: int, key: str) -> Any:
        record = self.records[idx]
        props = None if record is None else record[3]
        return None if props is None else props.get(key)

    def state(self, idx: int) -> str | None:
        """Last run state: a run's own; a job's or dataset's latest run; a column's dataset's."""
        kind = self.kinds[idx]
        if kind == COLUMN:
            for entry in self.inc[idx]:
                if entry & 15 == HAS_COLUMN:
                    return self.state(entry >> 4)
            return None
        if self.kind(idx) is NodeKind.RUN:
            state = self.prop(idx, Prop.STATE)
            return state if isinstance(state, str) else None
        # A dataset's or job's health is the current state of the run that last touched it.
        run = self.index.get(str(self.prop(idx, Prop.LAST_RUN)))
        # (a run an ingest is adding while a walk reads, in another thread, has no record yet)
        if run is not None and run < len(self.records):
            state = self.prop(run, Prop.STATE)
            if isinstance(state, str):
                return state
        value = self.prop(idx, Prop.LAST_RUN_STATE)
        return value if isinstance(value, str) else None

    def walk(self, root: str, direction: Direction, options: WalkOptions) -> Closure:
        """Breadth-first closure from `root` (see graph/walk.py)."""
        return closure(self, root, direction, options)

    def neighbourhood(self, ids: Iterable[str]) -> list[Edge]:
        found: dict[int, Edge] = {}
        for node_id in ids:
            idx = self.index.get(node_id)
            if idx is None:
                continue
            for entry in self.out[idx]:
                dst, code = entry >> 4, entry & 15
                found[(idx << 40) | (dst << 4) | code] = Edge(
                    node_id, self.ids[dst], *EDGE_NAMES[code]
                )
            for entry in self.inc[idx]:
                src, code = entry >> 4, entry & 15
                found[(src << 40) | (idx << 4) | code] = Edge(
                    self.ids[src], node_id, *EDGE_NAMES[code]
                )
        return list(found.values())

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {kind.value: 0 for kind in NODE_KINDS}
        for code in self.kinds:
            counts[NODE_KINDS[code].value] += 1
        for key in self.edges:
            kind, _ = EDGE_CODES[key & 15]
            counts[kind.value] = counts.get(kind.value, 0) + 1
        return counts

    def dump(self) -> dict[str, Any]:
        """Every node and edge with all it carries, keyed by public ids (order-independent)."""
        nodes = {}
        for node_id in self.ids:
            record = self.record(node_id)
            assert record is not None
            nodes[node_id] = {
                "kind": record.kind,
                "props": record.props,
                "first_seen": record.first_seen,
                "last_seen": record.last_seen,
                "last_run": record.last_run,
            }
        edges = {}
        for key, stored in self.edges.items():
            code, src, dst = key & 15, key >> 40, (key >> 4) & ((1 << 36) - 1)
            if stored is None:
                seen, props = self._derived_edge(src, dst, code)
                first, last, run = seen.first, seen.last, seen.run
            else:
                first, last, run, props = stored[0], stored[1], stored[2], stored[3]
            kind, variant = EDGE_CODES[code]
            name = (
                f"{self.ids[src]} -{kind.value}{':' + variant if variant else ''}-> {self.ids[dst]}"
            )
            edges[name] = {
                "props": props or {},
                "first_seen": first,
                "last_seen": _time(last),
                "last_run": run,
            }
        return {"nodes": nodes, "edges": edges}

    def jobs_of(self, runs: Iterable[str]) -> dict[str, str]:
        """The job (node id) each known run is bound to (its `job` property)."""
        found: dict[str, str] = {}
        index, records = self.index, self.records
        for run in runs:
            idx = index.get(run)
            record = None if idx is None else records[idx]
            if record is not None and record[3]:
                job = record[3].get(Prop.JOB)
                if isinstance(job, str):
                    found[run] = job
        return found

    def records_of(self, ids: Sequence[str]) -> dict[str, NodeRecord]:
        found = {}
        for node_id in ids:
            record = self.record(node_id)
            if record is not None:
                found[node_id] = record
        return found


def _time(stamp: str | None) -> str | None:
    return None if stamp is None else time_of(stamp)
