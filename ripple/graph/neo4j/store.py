"""Neo4jStore: the GraphStore protocol on Neo4j 5.26+, through the official async driver.

Every statement runs in a managed transaction (`execute_read` / `execute_write`, which retry
transient failures) on the configured database; driver errors become StoreUnavailable in one
place, `_boundary`. Storage layout: records.py; write planning: batch.py; walks: walks.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, LiteralString, TypeVar

from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction, unit_of_work
from neo4j.exceptions import ConstraintError, DriverError, Neo4jError

from ripple import heap
from ripple.errors import InvalidNodeId, NotFound, StoreUnavailable
from ripple.graph.columns import Version
from ripple.graph.delta import GraphDelta
from ripple.graph.memory import MemoryGraph
from ripple.graph.merge import Record
from ripple.graph.neo4j import cypher
from ripple.graph.neo4j.batch import (
    Batch,
    Materialized,
    fold,
    merged,
    merged_version,
    version_key,
)
from ripple.graph.neo4j.records import dumps, record_of, record_row, version_of
from ripple.graph.neo4j.walks import load_walk
from ripple.graph.store import Closure, Direction, Edge, NodeRecord, WalkOptions
from ripple.model import EdgeKind, NodeKind, kind_of

T = TypeVar("T")
ALIASES_CHECK_EVERY = 2.0  # seconds between looks for a first alias another process added
CONFLICT_ATTEMPTS = 5  # a batch re-run after losing a create race to a concurrent writer
Work = Callable[[AsyncManagedTransaction], Awaitable[T]]


class Neo4jStore:
    """GraphStore on a Neo4j database. No I/O until `open()`."""

    def __init__(
        self,
        uri: str,
        *,
        auth: tuple[str, str] | None = None,
        database: str = "neo4j",
        batch_size: int = 2_000,
    ) -> None:
        self._uri = uri
        self._auth = auth
        self._database = database
        self._batch_size = batch_size
        self._driver: AsyncDriver | None = None
        # Whether the graph holds an alias (walks then reach further: walks.load_walk). Once
        # seen it stays true until clear(); until then it is looked up at most every few
        # seconds, since another process may add the first one.
        self._aliases = False
        self._aliases_checked = -1e9

    # -- lifecycle ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, check the server answers, and apply the schema (idempotent)."""
        driver = AsyncGraphDatabase.driver(
            self._uri, auth=self._auth, notifications_min_severity="OFF"
        )
        self._driver = driver
        try:
            async with self._boundary():
                await driver.verify_connectivity()
            for statement in cypher.SCHEMA:
                await self._write(_statement(statement))
            version = await self._write(_single(cypher.SCHEMA_NODE, version=cypher.SCHEMA_VERSION))
            while isinstance(version, int) and version < cypher.SCHEMA_VERSION:
                version += 1
                if version in cypher.REBUILT_AT:
                    await self.clear()  # the ingest pipeline then replays the whole log
                for statement in cypher.MIGRATIONS.get(version, ()):
                    await self._write(_statement(statement))
                await self._write(_statement(cypher.SET_SCHEMA_VERSION, version=version))
        except BaseException:
            await self.close()
            raise
        if version != cypher.SCHEMA_VERSION:
            await self.close()
            raise StoreUnavailable(
                f"Neo4j database {self._database!r} at {self._uri} has Ripple schema version "
                f"{version}, newer than this Ripple's {cypher.SCHEMA_VERSION} — upgrade Ripple "
                "or point it at another database"
            )

    async def close(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            await driver.close()

    # -- writes -------------------------------------------------------------------------------

    async def apply(self, deltas: Sequence[GraphDelta], through: int) -> None:
        for start in range(0, len(deltas), self._batch_size):
            batch = fold(deltas[start : start + self._batch_size])
            await self._write(_applying(batch), attempts=CONFLICT_ATTEMPTS)
            self._aliases |= bool(batch.graph.aliased)
        await self._write(_statement(cypher.SET_THROUGH, through=through))

    async def projected_through(self) -> int:
        through = await self._read(_single(cypher.THROUGH))
        return int(through or 0)

    async def projected_from(self) -> str | None:
        log = await self._read(_single(cypher.PROJECTED_FROM))
        return None if log is None else str(log)

    async def set_projected_from(self, log: str) -> None:
        await self._write(_statement(cypher.SET_PROJECTED_FROM, log=log))

    async def clear(self) -> None:
        """Delete every node and relationship but the schema node (in batches)."""
        driver = self._require_driver()
        async with self._boundary(), driver.session(database=self._database) as session:
            result = await session.run(cypher.CLEAR)
            await result.consume()
        self._aliases, self._aliases_checked = False, -1e9

    # -- reads --------------------------------------------------------------------------------

    async def nodes(self, ids: Sequence[str]) -> dict[str, NodeRecord]:
        graph = await self._read(lambda tx: _load_records(tx, ids))
        return graph.records_of(ids)

    async def jobs_of(self, runs: Sequence[str]) -> dict[str, str]:
        if not runs:
            return {}
        rows = await self._read(lambda tx: _rows(tx, cypher.JOBS_OF, keys=list(runs)))
        return {str(run): str(job) for run, job in rows if job is not None}

    async def walk(self, root: str, direction: Direction, options: WalkOptions) -> Closure:
        """The closure of `root`. With a budget, Neo4j runs the statements with the time left
        as their transaction timeout; stopped by it, the answer is partial (nothing read back
        but the root) and says so — the shared walk then gets what remains of the budget."""
        try:
            kind = kind_of(root)
        except InvalidNodeId:
            kind = None
        budget = options.budget
        aliases = await self._has_aliases()
        # Loading and walking a large closure allocates hundreds of thousands of short-lived
        # acyclic objects: no cyclic collections meanwhile, as the embedded store walks.
        with heap.collector_paused():
            graph = None
            if kind is not None:
                timeout = None if budget is None else budget.remaining()
                try:
                    if timeout == 0:
                        raise _TimedOut
                    graph = await self._read(
                        lambda tx: load_walk(tx, root, kind, direction, options, aliases=aliases),
                        limit=timeout,
                    )
                except _TimedOut:
                    assert budget is not None
                    reason = f"{budget.reason} (Neo4j stopped the query)"
                    return Closure(
                        root, Direction(direction), [], [], False, kind.value, [], reason
                    )
            if graph is None:
                raise NotFound(
                    f"Node {root!r} not found — was it ingested under another namespace?"
                )
            # The scratch graph is this walk's alone: walked in a worker thread, off the loop.
            return await asyncio.to_thread(graph.walk, root, direction, options)

    async def _has_aliases(self) -> bool:
        now = time.monotonic()
        if not self._aliases and now - self._aliases_checked > ALIASES_CHECK_EVERY:
            self._aliases_checked = now
            self._aliases = bool(await self._read(_single(cypher.HAS_ALIASES)))
        return self._aliases

    async def neighbourhood(self, ids: Sequence[str]) -> list[Edge]:
        async def work(tx: AsyncManagedTransaction) -> list[Edge]:
            eids = [eid for _, (eid, _) in (await _locate(tx, ids)).items()]
            found: dict[tuple[str, str, str, str], Edge] = {}
            for src, kind, variant, dst in await _rows(tx, cypher.NEIGHBOURHOOD, eids=eids):
                if kind not in cypher.REL_TYPES:  # a mirror or SAME_COLUMN: not in the model
                    continue
                found.setdefault(
                    (src, kind, dst, variant or ""), Edge(src, dst, kind, variant or "")
                )
            return list(found.values())

        return await self._read(work)

    async def counts(self) -> dict[str, int]:
        async def work(tx: AsyncManagedTransaction) -> dict[str, int]:
            counts: dict[str, int] = {}
            for name, query in cypher.COUNTS:
                n = await _single(query)(tx)
                if name in cypher.LABELS or n:
                    counts[name] = int(n)
            return counts

        return await self._read(work)

    async def dump(self) -> dict[str, Any]:
        return (await self._read(_load_all)).dump()

    # -- plumbing -----------------------------------------------------------------------------

    def _require_driver(self) -> AsyncDriver:
        if self._driver is None:
            raise StoreUnavailable(f"Neo4jStore for {self._uri} is not open — call open() first")
        return self._driver

    async def _read(self, work: Work[T], *, limit: float | None = None) -> T:
        """Run `work` in a read transaction; with a time `limit` (seconds) as its transaction
        timeout, Neo4j stops it then and `_TimedOut` is raised."""
        driver = self._require_driver()
        if limit is not None:
            # 0 would mean "no timeout" to Neo4j; a millisecond is its smallest
            work = unit_of_work(timeout=max(limit, 0.001))(work)
        async with self._boundary(), driver.session(database=self._database) as session:
            return await session.execute_read(work)

    async def _write(self, work: Work[T], *, attempts: int = 1) -> T:
        """Run `work` in a write transaction (the driver retries transient errors itself). With
        `attempts` > 1, work that lost a create race to a concurrent writer (a uniqueness
        constraint failed; the transaction rolled back whole) is run again: it then reads the
        winner's node as existing."""
        driver = self._require_driver()
        async with self._boundary():
            for attempt in range(1, attempts + 1):
                try:
                    async with driver.session(database=self._database) as session:
                        return await session.execute_write(work)
                except ConstraintError:
                    if attempt == attempts:
                        raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    @asynccontextmanager
    async def _boundary(self) -> AsyncIterator[None]:
        """The one place driver exceptions become Ripple's."""
        try:
            yield
        except Neo4jError as exc:
            if exc.code is not None and "TransactionTimedOut" in exc.code:
                raise _TimedOut from exc  # a transaction timeout we set: the walk answers partial
            raise StoreUnavailable(
                f"Neo4j at {self._uri} (database {self._database!r}) failed: {exc} — is it "
                "running and reachable? (locally: scripts/neo4j start)"
            ) from exc
        except (DriverError, OSError) as exc:
            raise StoreUnavailable(
                f"Neo4j at {self._uri} (database {self._database!r}) failed: {exc} — is it "
                "running and reachable? (locally: scripts/neo4j start)"
            ) from exc


class _TimedOut(Exception):  # internal: never leaves this module
    """Neo4j stopped a transaction at the timeout a budget gave it."""


# -- transaction functions (each may be retried by the driver, so none mutates shared state) --


def _applying(batch: Batch) -> Work[None]:
    async def work(tx: AsyncManagedTransaction) -> None:
        await _apply(tx, batch)

    return work


@dataclass(slots=True)
class _Written:
    """What one batch transaction knows about the nodes it touches."""

    eids: dict[str, str] = field(default_factory=dict)  # key -> element id, for every node touched
    created: set[str] = field(default_factory=set)  # keys created by this transaction

    def is_new(self, *keys: str) -> bool:
        """Whether a relationship between `keys` cannot exist yet (an endpoint was just created)."""
        return any(key in self.created for key in keys)


async def _apply(tx: AsyncManagedTransaction, batch: Batch) -> None:
    written = _Written()
    await _apply_records(tx, batch, written)
    columns = Materialized()
    endpoints = {end for src, _, dst, _, _ in batch.edges() for end in (src, dst)}
    for node_id, kind, _ in batch.nodes():
        if kind is NodeKind.COLUMN and (node_id in batch.explicit or node_id in endpoints):
            columns.columns.setdefault(node_id, (None, None))  # a column with no facts
    await _apply_versions(tx, batch, columns)
    await _apply_columns(tx, columns, written)
    await _apply_edges(tx, batch, written)
    # Aliased datasets' same-named columns: for the datasets that gained columns or aliases.
    linked = {dataset for dataset, _ in columns.columns.values() if dataset is not None}
    linked.update(batch.graph.ids[i] for i in batch.graph.aliased)
    keys = sorted(key for key in linked if kind_of(key) is NodeKind.DATASET)
    if keys:
        await _rows(tx, cypher.LINK_COLUMNS, keys=keys)


async def _apply_records(tx: AsyncManagedTransaction, batch: Batch, written: _Written) -> None:
    """Datasets, jobs, runs, DAGs and tasks: read the stored records, create or update."""
    stored_nodes: dict[str, Record] = {}
    by_label: dict[LiteralString, list[str]] = {}
    for node_id, kind, _ in batch.nodes():
        if kind is not NodeKind.COLUMN:
            by_label.setdefault(cypher.LABELS[kind.value], []).append(node_id)
    for label, keys in sorted(by_label.items()):
        for key, eid, *stored in await _rows(tx, cypher.LOCK_RECORDS[label], keys=sorted(keys)):
            written.eids[key] = eid
            stored_nodes[key] = record_of(*stored)
    creates: dict[LiteralString, list[dict[str, Any]]] = {}
    updates: list[dict[str, Any]] = []
    for node_id, kind, record in batch.nodes():
        if kind is NodeKind.COLUMN:
            continue
        assert record is not None
        stored = stored_nodes.get(node_id)
        write = merged(stored, record, explicit=node_id in batch.explicit)
        if write is None:
            continue
        row = record_row(node_id, write)
        if stored is None:
            creates.setdefault(cypher.LABELS[kind.value], []).append(row)
        else:
            row["eid"] = written.eids[node_id]
            updates.append(row)
    for label, rows in creates.items():
        for key, eid in await _rows(tx, cypher.CREATE_RECORDS[label], rows=rows):
            written.eids[key] = eid
            written.created.add(key)
    if updates:
        await _rows(tx, cypher.UPDATE_RECORDS, rows=updates)


async def _apply_versions(tx: AsyncManagedTransaction, batch: Batch, columns: Materialized) -> None:
    """Column-fact versions: new ones are created and materialized; known ones re-stamped."""
    versions = {version_key(ds, vkey): (ds, vkey, v) for ds, vkey, v in batch.versions()}
    if not versions:
        return
    stored = {
        key: (eid, [first, last, run])
        for key, eid, first, last, run in await _rows(tx, cypher.READ_VERSIONS, keys=list(versions))
    }
    creates, updates = [], []
    for key, (ds, vkey, version) in versions.items():
        found = stored.get(key)
        if found is None:
            columns.add(ds, vkey, version[3])
            creates.append(
                {"key": key, "dataset": ds, "version": vkey, "payload": dumps(version[3])}
                | _stamps(version)
            )
            continue
        eid, seen = found
        write = merged_version([*seen, version[3]], version)
        if write is not None:
            updates.append({"eid": eid} | _stamps(write))
    if creates:
        await _rows(tx, cypher.CREATE_VERSIONS, rows=creates)
    if updates:
        await _rows(tx, cypher.UPDATE_VERSIONS, rows=updates)


def _stamps(version: Version) -> dict[str, Any]:
    first, last, run = version[0], version[1], version[2]
    return {"first_seen": first, "last_seen": last.split("|", 1)[0], "last_stamp": last, "run": run}


async def _apply_columns(
    tx: AsyncManagedTransaction, columns: Materialized, written: _Written
) -> None:
    """Columns (with HAS_COLUMN from their dataset) and DERIVES materialized by new versions."""
    if not columns.columns:
        return
    eids = written.eids
    for key, eid in await _rows(tx, cypher.READ_COLUMNS, keys=list(columns.columns)):
        eids[key] = eid
    owners = {d for d, _ in columns.columns.values() if d is not None and d not in eids}
    if owners:  # datasets only column facts name, outside the batch's nodes
        for key, eid, _ in await _rows(tx, cypher.LOCATE["Dataset"], keys=sorted(owners)):
            eids[key] = eid
    creates, attaches = [], []
    for key, (dataset, name) in columns.columns.items():
        owner = None if dataset is None else eids.get(dataset)
        if key not in eids:
            creates.append({"key": key, "dataset": dataset, "name": name, "owner": owner})
        elif owner is not None:
            attaches.append({"owner": owner, "column": eids[key]})
    if creates:
        for key, eid in await _rows(tx, cypher.CREATE_COLUMNS, rows=creates):
            eids[key] = eid
            written.created.add(key)
    if attaches:
        await _rows(tx, cypher.ATTACH_COLUMNS, rows=attaches)
    new: list[dict[str, Any]] = []
    merge: list[dict[str, Any]] = []
    for src, dst, variant in sorted(columns.derives):
        row = {"src": eids[src], "dst": eids[dst], "type": variant}
        (new if written.is_new(src, dst) else merge).append(row)
    if new:
        await _rows(tx, cypher.CREATE_DERIVES, rows=new)
    if merge:
        await _rows(tx, cypher.MERGE_DERIVES, rows=merge)


async def _apply_edges(tx: AsyncManagedTransaction, batch: Batch, written: _Written) -> None:
    """Asserted relationships: created when an endpoint is new, else merged with the stored one."""
    eids = written.eids
    by_kind: dict[EdgeKind, list[tuple[str, str, str, Record]]] = {}
    for src, kind, dst, variant, record in batch.edges():
        by_kind.setdefault(kind, []).append((src, dst, variant, record))
    for kind, edges in by_kind.items():
        new: list[tuple[str, str, str, Record]] = []
        old: list[tuple[str, str, str, Record]] = []
        for edge in edges:
            (new if written.is_new(edge[0], edge[1]) else old).append(edge)
        probe = [
            {"i": i, "src": eids[src], "dst": eids[dst], "variant": variant}
            for i, (src, dst, variant, _) in enumerate(old)
        ]
        stored = {}
        if probe:
            stored = {
                i: record_of(*rest)
                for i, *rest in await _rows(tx, cypher.READ_EDGES[kind.value], rows=probe)
            }
        merges = []
        for i, (src, dst, variant, record) in enumerate(old):
            write = merged(stored.get(i), record, explicit=True)
            if write is not None:
                merges.append(_edge_row(eids, src, dst, variant, write))
        creates = [_edge_row(eids, src, dst, variant, record) for src, dst, variant, record in new]
        if creates:
            await _rows(tx, cypher.CREATE_EDGES[kind.value], rows=creates)
        if merges:
            await _rows(tx, cypher.MERGE_EDGES[kind.value], rows=merges)


def _edge_row(
    eids: dict[str, str], src: str, dst: str, variant: str, record: Record
) -> dict[str, Any]:
    row = record_row("", record)
    row.update(src=eids[src], dst=eids[dst], variant=variant)
    return row


async def _locate(tx: AsyncManagedTransaction, ids: Sequence[str]) -> dict[str, tuple[str, Any]]:
    """Element id and properties JSON of each of `ids` that exists."""
    by_label: dict[LiteralString, list[str]] = {}
    for node_id in ids:
        try:
            label = cypher.LABELS[kind_of(node_id).value]
        except InvalidNodeId:
            continue
        by_label.setdefault(label, []).append(node_id)
    found: dict[str, tuple[str, Any]] = {}
    for label, keys in by_label.items():
        for key, eid, props in await _rows(tx, cypher.LOCATE[label], keys=keys):
            found[key] = (eid, props)
    return found


async def _load_records(tx: AsyncManagedTransaction, ids: Sequence[str]) -> MemoryGraph:
    """A scratch graph holding what the records of `ids` are made of."""
    graph = MemoryGraph()
    by_label: dict[LiteralString, list[str]] = {}
    column_ids: list[str] = []
    for node_id in dict.fromkeys(ids):
        try:
            kind = kind_of(node_id)
        except InvalidNodeId:
            continue
        if kind is NodeKind.COLUMN:
            column_ids.append(node_id)
        else:
            by_label.setdefault(cypher.LABELS[kind.value], []).append(node_id)
    datasets: list[str] = []
    for label, keys in by_label.items():
        for key, _, *stored in await _rows(tx, cypher.READ_RECORDS[label], keys=keys):
            kind = kind_of(key)
            graph.add_node(key, kind, record_of(*stored))
            if kind is NodeKind.DATASET:
                datasets.append(key)
    if column_ids:
        for key, owner in await _rows(tx, cypher.COLUMN_CONTEXT, keys=column_ids):
            graph.add_node(key, NodeKind.COLUMN)
            if owner is not None:
                graph.add_node(owner, NodeKind.DATASET)
                graph.add_edge(owner, EdgeKind.HAS_COLUMN, key)
                datasets.append(owner)
        for src, variant, dst, owner in await _rows(tx, cypher.COLUMN_TARGETS, keys=column_ids):
            graph.add_node(dst, NodeKind.COLUMN)
            graph.add_edge(src, EdgeKind.DERIVES, dst, variant or "")
            if owner is not None:
                graph.add_node(owner, NodeKind.DATASET)
                graph.add_edge(owner, EdgeKind.HAS_COLUMN, dst)
                datasets.append(owner)
    await _load_versions(tx, graph, cypher.VERSIONS_OF, datasets=sorted(set(datasets)))
    return graph


async def _load_all(tx: AsyncManagedTransaction) -> MemoryGraph:
    graph = MemoryGraph()
    for key, first, last, run, props, stamps in await _values(tx, cypher.ALL_NODES):
        kind = kind_of(key)
        record = None if kind is NodeKind.COLUMN else record_of(first, last, run, props, stamps)
        graph.add_node(key, kind, record)
    for src, kind, variant, dst, first, last, run, props, stamps in await _values(
        tx, cypher.ALL_EDGES
    ):
        if kind not in cypher.REL_TYPES:
            continue
        record = None if last is None else record_of(first, last, run, props, stamps)
        graph.add_edge(src, EdgeKind(kind), dst, variant or "", record)
    await _load_versions(tx, graph, cypher.ALL_VERSIONS)
    return graph


async def _load_versions(
    tx: AsyncManagedTransaction, graph: MemoryGraph, query: LiteralString, **params: Any
) -> None:
    by_dataset: dict[str, dict[str, Any]] = {}
    for dataset, vkey, first, last, run, payload in await _rows(tx, query, **params):
        by_dataset.setdefault(dataset, {})[vkey] = version_of(first, last, run, payload)
    for dataset, versions in by_dataset.items():
        graph.add_node(dataset, NodeKind.DATASET)
        graph.add_versions(dataset, versions)


def _statement(query: LiteralString, **params: Any) -> Work[None]:
    async def work(tx: AsyncManagedTransaction) -> None:
        await (await tx.run(query, params)).consume()

    return work


def _single(query: LiteralString, **params: Any) -> Work[Any]:
    """The first column of the single row a statement returns (None without a row)."""

    async def work(tx: AsyncManagedTransaction) -> Any:
        record = await (await tx.run(query, params)).single()
        return None if record is None else record[0]

    return work


async def _rows(tx: AsyncManagedTransaction, query: LiteralString, **params: Any) -> list[Any]:
    """The `rows` list a statement returns as its one record (none for a statement that only
    writes)."""
    result = await tx.run(query, params)
    record = await result.single()
    return [] if record is None else list(record["rows"])


async def _values(tx: AsyncManagedTransaction, query: LiteralString, **params: Any) -> list[Any]:
    """Every row of a statement that streams them (the whole-graph reads)."""
    result = await tx.run(query, params)
    return await result.values()
