"""The embedded store's snapshot file: what is saved is what opens, and a damaged file costs only
time (it is removed, and the graph is rebuilt from the event log)."""

from __future__ import annotations

import marshal
from collections.abc import Callable
from pathlib import Path

import pytest

from ripple.config import Settings
from ripple.errors import StoreUnavailable
from ripple.graph.embedded import EmbeddedStore
from ripple.runtime import open_runtime
from tests.integration.server import RippleServer
from tests.unit.builders import column_lineage, dataset, field_ref, run_event


def _events() -> list[dict[str, object]]:
    """A chain t0 → t1 → … → t5, each table's `id` derived from the previous one's."""
    return [
        run_event(
            f"job_{i}",
            [dataset(f"t{i}", ["id"])],
            [
                dataset(
                    f"t{i + 1}", ["id"], lineage=column_lineage({"id": [field_ref(f"t{i}", "id")]})
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
