"""The embedded store: the in-memory graph, saved to a snapshot file in the data directory.

The event log is the durable record; the snapshot only makes start-up fast. It is written
atomically (temporary file, fsync, rename) with the log sequence it covers, and on start-up the
ingest pipeline replays whatever the log holds past it — so a crash loses nothing.

Walks run in a worker thread, so a large one never holds up the event loop (other requests'
acknowledgements); ingest keeps applying on the loop meanwhile, which is safe because the graph
only grows and a walk reads only the nodes that were whole when it began (see graph/walk.py).
Other reads are short and run on the loop, where no write can interleave with them.
"""

from __future__ import annotations

import asyncio
import marshal
import mmap
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ripple import heap
from ripple.errors import StoreUnavailable
from ripple.graph.delta import GraphDelta
from ripple.graph.memory import MemoryGraph
from ripple.graph.store import Closure, Direction, Edge, NodeRecord, WalkOptions

# A snapshot of another format is ignored: the graph is rebuilt from the event log. 3: node ids
# became injective (model.py); an older snapshot may hold two (namespace, name) pairs as one node.
# 4: datasets' other names became ALIAS_OF edges (ingest/aliases.py), which only a replay adds.
_FORMAT = 4


class EmbeddedStore:
    """GraphStore over MemoryGraph; `snapshot=None` keeps it purely in memory."""

    def __init__(
        self,
        snapshot: Path | None = None,
        snapshot_every: int = 200_000,
        *,
        save_on_close: bool = True,
    ) -> None:
        self._snapshot = snapshot
        self._save_on_close = save_on_close
        self._snapshot_every = snapshot_every
        self._since_snapshot = 0
        self.graph = MemoryGraph()

    async def open(self) -> None:
        if self._snapshot is None or not self._snapshot.exists():
            return
        # Millions of containers appear here: with the collector running it would rescan them
        # as they come, and once more in a full collection right after; settled (frozen) before
        # it resumes, it never scans them.
        with heap.collector_paused():
            try:
                image = _load(self._snapshot)
            except (OSError, EOFError, ValueError, TypeError) as exc:
                # The log can always rebuild the graph; a damaged snapshot is only slower.
                self._snapshot.unlink(missing_ok=True)
                self.graph = MemoryGraph()
                raise StoreUnavailable(
                    f"Graph snapshot {self._snapshot} is unreadable ({exc}); it was removed and "
                    "the graph will be rebuilt from the event log — start again"
                ) from exc
            if image.get("format") == _FORMAT:
                _restore(self.graph, image)
            del image
            heap.settle()

    async def close(self) -> None:
        if self._save_on_close:
            self.save()

    def save(self) -> None:
        if self._snapshot is None:
            return
        self._snapshot.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(self._snapshot)
        # Named for this process: a server and `ripple ingest` on one data directory may save at
        # the same moment, and must not write into one file. Whichever renames last wins; both
        # snapshots are whole, and start-up catches up from the log past the one it finds.
        tmp = _temporary(self._snapshot, os.getpid())
        with tmp.open("wb") as fh:
            marshal.dump(_image(self.graph), fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self._snapshot)
        self._since_snapshot = 0

    async def apply(self, deltas: Sequence[GraphDelta], through: int) -> None:
        for delta in deltas:
            self.graph.apply(delta)
        self.graph.through = max(self.graph.through, through)
        heap.settle()  # keeps collections short as the graph grows (see ripple/heap.py)
        self._since_snapshot += len(deltas)
        if self._save_on_close and self._since_snapshot >= self._snapshot_every:
            self.save()
            heap.compact()  # a long-running process pauses here anyway: reclaim frozen garbage

    async def projected_through(self) -> int:
        return self.graph.through

    async def projected_from(self) -> str | None:
        return self.graph.log

    async def set_projected_from(self, log: str) -> None:
        self.graph.log = log

    async def clear(self) -> None:
        # A new graph rather than emptying this one: a walk still running in its thread keeps
        # reading the graph it began on.
        self.graph = MemoryGraph()
        if self._snapshot is not None:
            self._snapshot.unlink(missing_ok=True)

    async def nodes(self, ids: Sequence[str]) -> dict[str, NodeRecord]:
        return self.graph.records_of(ids)

    async def jobs_of(self, runs: Sequence[str]) -> dict[str, str]:
        return self.graph.jobs_of(runs)

    async def walk(self, root: str, direction: Direction, options: WalkOptions) -> Closure:
        return await asyncio.to_thread(_walk, self.graph, root, direction, options)

    async def neighbourhood(self, ids: Sequence[str]) -> list[Edge]:
        return self.graph.neighbourhood(ids)

    async def counts(self) -> dict[str, int]:
        return self.graph.counts()

    async def dump(self) -> dict[str, Any]:
        return self.graph.dump()


def _walk(graph: MemoryGraph, root: str, direction: Direction, options: WalkOptions) -> Closure:
    with heap.collector_paused():
        return graph.walk(root, direction, options)


def _load(path: Path) -> dict[str, Any]:
    """Read a snapshot, mapped and decoded from memory in one call: `marshal.load(file)` would
    call the file's `readinto` once per object, millions of times (with the collector running
    as well, a 150 MB snapshot took 10 s to open; now 1 s)."""
    with path.open("rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            raise EOFError("the file is empty")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            image: Any = marshal.loads(mapped)  # noqa: S302 — our own file, written by save()
    if not isinstance(image, dict):
        raise TypeError(f"a snapshot holds a dict, not {type(image).__name__}")
    return image


def _image(graph: MemoryGraph) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "through": graph.through,
        "log": graph.log,
        "ids": graph.ids,
        "kinds": bytes(graph.kinds),
        "records": graph.records,
        "out": graph.out,
        "inc": graph.inc,
        "edges": graph.edges,
        "columns": graph.columns,
        "aliased": sorted(graph.aliased),
    }


def _restore(graph: MemoryGraph, image: dict[str, Any]) -> None:
    graph.through = image["through"]
    graph.log = image.get("log")  # absent from snapshots written before logs had identities
    graph.ids = image["ids"]
    graph.index = {node_id: i for i, node_id in enumerate(graph.ids)}
    graph.kinds = bytearray(image["kinds"])
    graph.records = image["records"]
    graph.out = image["out"]
    graph.inc = image["inc"]
    graph.edges = image["edges"]
    graph.columns = image["columns"]
    graph.aliased = set(image["aliased"])


def _temporary(snapshot: Path, pid: int) -> Path:
    return snapshot.with_name(f"{snapshot.name}.{pid}.tmp")


def _remove_abandoned(snapshot: Path) -> None:
    """Delete temporary snapshots left by processes that died while saving (each can be
    hundreds of megabytes); those of live processes are still being written."""
    for path in snapshot.parent.glob(f"{snapshot.name}.*.tmp"):
        pid = path.name[len(snapshot.name) + 1 : -len(".tmp")]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
