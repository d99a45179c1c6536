"""Neo4jStore: the GraphStore protocol on Neo4j 5.26+, through the official async driver.

Every statement runs in a managed transaction (`execute_read` / `execute_write`, which retry
transient failures) on the configured database; driver errors become StoreUnavailable in one
place, `_boundary`. Storage layout: records.py; write planning: batch.py; walks: walks.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, LiteralString, TypeVar

from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction
from neo4j.exceptions import DriverError, Neo4jError

from ripple.errors import InvalidNodeId, NotFound, StoreUnavailable
from ripple.graph.delta import GraphDelta
from ripple.graph.memory import MemoryGraph, Record
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
            await self._write(_applying(batch))
        await self._write(_statement(cypher.SET_THROUGH, through=through))

    async def projected_through(self) -> int:
        through = await self._read(_single(cypher.THROUGH))
        return int(through or 0)

    async def clear(self) -> None:
        """Delete every node and relationship but the schema node (in batches)."""
        driver = self._require_driver()
        async with self._boundary(), driver.session(database=self._database) as session:
            result = await session.run(cypher.CLEAR)
            await result.consume()

    # -- reads --------------------------------------------------------------------------------

    async def nodes(self, ids: Sequence[str]) -> dict[str, NodeRecord]:
        graph = await self._read(lambda tx: _load_records(tx, ids))
        return graph.records_of(ids)

    async def walk(self, root: str, direction: Direction, options: WalkOptions) -> Closure:
        try:
            kind = kind_of(root)
        except InvalidNodeId:
            kind = None
        graph = None
        if kind is not None:
            graph = await self._read(lambda tx: load_walk(tx, root, kind, direction, options))
        if graph is None:
            raise NotFound(f"Node {root!r} not found — was it ingested under another namespace?")
        return graph.walk(root, direction, options)

    async def neighbourhood(self, ids: Sequence[str]) -> list[Edge]:
        async def work(tx: AsyncManagedTransaction) -> list[Edge]:
            eids = [eid for _, (eid, _) in (await _locate(tx, ids)).items()]
            found: dict[tuple[str, str, str, str], Edge] = {}
            for src, kind, variant, dst in await _values(tx, cypher.NEIGHBOURHOOD, eids=eids):
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

    async def _read(self, work: Work[T]) -> T:
        driver = self._require_driver()
        async with self._boundary(), driver.session(database=self._database) as session:
            return await session.execute_read(work)

    async def _write(self, work: Work[T]) -> T:
        driver = self._require_driver()
        async with self._boundary(), driver.session(database=self._database) as session:
            return await session.execute_write(work)

    @asynccontextmanager
    async def _boundary(self) -> AsyncIterator[None]:
        """The one place driver exceptions become Ripple's."""
        try:
            yield
        except (Neo4jError, DriverError, OSError) as exc:
            raise StoreUnavailable(
                f"Neo4j at {self._uri} (database {self._database!r}) failed: {exc} — is it "
                "running and reachable? (locally: scripts/neo4j start)"
            ) from exc


# -- transaction functions (each may be retried by the driver, so none mutates shared state) --


def _applying(batch: Batch) -> Work[None]:
    async def work(tx: AsyncManagedTransaction) -> None:
        await _apply(tx, batch)

    return work


async def _apply(tx: AsyncManagedTransaction, batch: Batch) -> None:
    eids: dict[str, str] = {}
    stored_nodes: dict[str, Record] = {}
    by_label: dict[LiteralString, list[str]] = {}
    columns = Materialized()
    for node_id, kind, _ in batch.nodes():
        if kind is NodeKind.COLUMN:
            continue
        by_label.setdefault(cypher.LABELS[kind.value], []).append(node_id)
    for label, keys in by_label.items():
        for key, eid, *stored in await _values(tx, cypher.READ_RECORDS[label], keys=keys):
            eids[key] = eid
            stored_nodes[key] = record_of(*stored)
    writes: dict[LiteralString, list[dict[str, Any]]] = {}
    endpoints = {end for src, _, dst, _, _ in batch.edges() for end in (src, dst)}
    for node_id, kind, record in batch.nodes():
        if kind is NodeKind.COLUMN:
            if node_id in batch.explicit or node_id in endpoints:
                columns.columns.setdefault(node_id, (None, None))  # a column with no facts
            continue
        assert record is not None
        write = merged(stored_nodes.get(node_id), record, explicit=node_id in batch.explicit)
        if write is not None:
            writes.setdefault(cypher.LABELS[kind.value], []).append(record_row(node_id, write))
    for label, rows in writes.items():
        for key, eid in await _values(tx, cypher.WRITE_RECORDS[label], rows=rows):
            eids[key] = eid

    await _apply_versions(tx, batch, columns)
    if columns.columns:
        rows = [{"key": k, "dataset": d, "name": n} for k, (d, n) in columns.columns.items()]
        for key, eid in await _values(tx, cypher.MERGE_COLUMNS, rows=rows):
            eids[key] = eid
    if columns.derives:
        rows = [{"src": s, "dst": d, "type": t} for s, d, t in sorted(columns.derives)]
        await _values(tx, cypher.MERGE_DERIVES, rows=rows)
    await _apply_edges(tx, batch, eids)


async def _apply_versions(tx: AsyncManagedTransaction, batch: Batch, columns: Materialized) -> None:
    versions = {version_key(ds, vkey): (ds, vkey, v) for ds, vkey, v in batch.versions()}
    if not versions:
        return
    stored = {
        key: [first, last, run]
        for key, first, last, run in await _values(tx, cypher.READ_VERSIONS, keys=list(versions))
    }
    rows = []
    for key, (ds, vkey, version) in versions.items():
        seen = stored.get(key)
        if seen is None:
            columns.add(ds, vkey, version[3])
            write: list[Any] | None = version
        else:
            write = merged_version([*seen, version[3]], version)
        if write is not None:
            rows.append(
                {
                    "key": key,
                    "dataset": ds,
                    "version": vkey,
                    "payload": dumps(version[3]),
                    "first_seen": write[0],
                    "last_seen": write[1].split("|", 1)[0],
                    "last_stamp": write[1],
                    "run": write[2],
                }
            )
    if rows:
        await _values(tx, cypher.WRITE_VERSIONS, rows=rows)


async def _apply_edges(tx: AsyncManagedTransaction, batch: Batch, eids: dict[str, str]) -> None:
    by_kind: dict[EdgeKind, list[tuple[str, str, str, Record]]] = {}
    for src, kind, dst, variant, record in batch.edges():
        by_kind.setdefault(kind, []).append((src, dst, variant, record))
    for kind, edges in by_kind.items():
        probe = [
            {"i": i, "src": eids[src], "dst": eids[dst], "variant": variant}
            for i, (src, dst, variant, _) in enumerate(edges)
        ]
        stored = {
            i: record_of(*rest)
            for i, *rest in await _values(tx, cypher.READ_EDGES[kind.value], rows=probe)
        }
        rows = []
        for i, (src, dst, variant, record) in enumerate(edges):
            write = merged(stored.get(i), record, explicit=True)
            if write is not None:
                row = record_row("", write)
                row.update(src=eids[src], dst=eids[dst], variant=variant)
                rows.append(row)
        if rows:
            await _values(tx, cypher.WRITE_EDGES[kind.value], rows=rows)


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
        for key, eid, props in await _values(tx, cypher.LOCATE[label], keys=keys):
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
        for key, _, *stored in await _values(tx, cypher.READ_RECORDS[label], keys=keys):
            kind = kind_of(key)
            graph.add_node(key, kind, record_of(*stored))
            if kind is NodeKind.DATASET:
                datasets.append(key)
    if column_ids:
        for key, owner in await _values(tx, cypher.COLUMN_CONTEXT, keys=column_ids):
            graph.add_node(key, NodeKind.COLUMN)
            if owner is not None:
                graph.add_node(owner, NodeKind.DATASET)
                graph.add_edge(owner, EdgeKind.HAS_COLUMN, key)
                datasets.append(owner)
        for src, variant, dst, owner in await _values(tx, cypher.COLUMN_TARGETS, keys=column_ids):
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
    for dataset, vkey, first, last, run, payload in await _values(tx, query, **params):
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


async def _values(tx: AsyncManagedTransaction, query: LiteralString, **params: Any) -> list[Any]:
    result = await tx.run(query, params)
    return await result.values()
