"""The embedded store's snapshot file: what is saved is what opens, and a damaged file costs only
time (it is removed, and the graph is rebuilt from the event log)."""

from __future__ import annotations

import marshal
import multiprocessing
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ripple.config import Settings
from ripple.errors import StoreUnavailable
from ripple.graph.delta import GraphDelta
from ripple.graph.embedded import EmbeddedStore
from ripple.ingest.pipeline import prepare
from ripple.runtime import open_runtime
from tests.integration.server import RippleServer
from tests.unit.builders import column_lineage, dataset, field_ref, run_event


def _events(prefix: str = "") -> list[dict[str, object]]:
    """A chain t0 → t1 → … → t5, each table's `id` derived from the previous one's."""
    return [
        run_event(
            f"{prefix}job_{i}",
            [dataset(f"{prefix}t{i}", ["id"])],
            [
                dataset(
                    f"{prefix}t{i + 1}",
                    ["id"],
                    lineage=column_lineage({"id": [field_ref(f"{prefix}t{i}", "id")]}),
                )
            ],
        )
        for i in range(5)
    ]


async def _ingest(data_dir: Path) -> dict[str, object]:
    runtime = await open_runtime(Settings(data_dir=data_dir))
    try:
        outcomes = await runtime.ingestor.ingest(_events())
        assert all(o.accepted for o in outcomes)
        return await runtime.store.dump()
    finally:
        await runtime.close()  # writes the snapshot


async def test_a_saved_snapshot_opens_to_the_same_graph(tmp_path: Path) -> None:
    expected = await _ingest(tmp_path)
    store = EmbeddedStore(tmp_path / "graph.snapshot", save_on_close=False)
    await store.open()
    assert await store.dump() == expected
    assert await store.projected_through() == len(_events())


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: marshal.dumps([1, 2, 3]), id="not-a-snapshot"),
        pytest.param(lambda data: b"\x00garbage" * 10, id="garbage"),
    ],
)
async def test_a_damaged_snapshot_is_removed_and_the_graph_rebuilt_from_the_log(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    expected = await _ingest(tmp_path)
    snapshot = tmp_path / "graph.snapshot"
    snapshot.write_bytes(damage(snapshot.read_bytes()))

    with pytest.raises(StoreUnavailable, match=r"unreadable.*removed.*start again"):
        await open_runtime(Settings(data_dir=tmp_path), read_only=True)
    assert not snapshot.exists()

    runtime = await open_runtime(Settings(data_dir=tmp_path), read_only=True)
    try:
        assert await runtime.store.dump() == expected  # caught up from the log alone
    finally:
        await runtime.close()


async def test_serve_says_when_the_graph_is_open(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    await _ingest(data_dir)  # a snapshot to open
    server = RippleServer(data_dir)
    server.start()
    try:
        log = server.log_path.read_text()
        opening = log.index(f"Ripple opening its graph (data in {data_dir})")
        ready = log.index(f"Ripple listening on {server.url} (graph opened in ")
        assert opening < ready
    finally:
        server.stop()


def _save_repeatedly(snapshot: str, chains: int, times: int) -> None:
    """In a child process: a graph of `chains` event chains, saved to `snapshot` again and again."""
    store = EmbeddedStore(Path(snapshot))
    for deltas in (_deltas(chain) for chain in range(chains)):
        store.graph.through += len(deltas)
        for delta in deltas:
            store.graph.apply(delta)
    for _ in range(times):
        store.save()


def _deltas(chain: int) -> list[GraphDelta]:
    deltas = []
    for event in _events(prefix=f"c{chain}_"):
        prepared = prepare(event)
        assert prepared.delta is not None
        deltas.append(prepared.delta)
    return deltas


def test_two_processes_saving_at_once_leave_a_whole_snapshot(tmp_path: Path) -> None:
    """A server and `ripple ingest` on one data directory may save at the same moment."""
    snapshot = tmp_path / "graph.snapshot"
    context = multiprocessing.get_context("spawn")
    savers = [
        context.Process(target=_save_repeatedly, args=(str(snapshot), chains, 40))
        for chains in (300, 301)
    ]
    for saver in savers:
        saver.start()
    for saver in savers:
        saver.join(timeout=120)
        assert saver.exitcode == 0

    image = marshal.loads(snapshot.read_bytes())  # a torn file does not decode
    assert image["through"] in (300 * len(_events()), 301 * len(_events()))
    assert not list(tmp_path.glob("*.tmp"))


def test_a_save_removes_temporary_files_that_dead_processes_left(tmp_path: Path) -> None:
    snapshot = tmp_path / "graph.snapshot"
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "60"])
    try:
        abandoned = tmp_path / f"graph.snapshot.{dead.pid}.tmp"
        in_progress = tmp_path / f"graph.snapshot.{live.pid}.tmp"
        abandoned.write_bytes(b"half a snapshot")
        in_progress.write_bytes(b"being written")

        EmbeddedStore(snapshot).save()

        assert not abandoned.exists()
        assert in_progress.exists()
        assert snapshot.exists()
    finally:
        live.kill()
        live.wait()
