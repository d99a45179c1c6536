"""`ripple sync marquez` takes over a Marquez: after syncing Marquez's food_delivery seed, Ripple
answers exactly as after ingesting the same events directly; an interrupted sync (the process
killed, or Marquez failing mid-way) resumes with nothing lost and nothing doubled; dataset and
field tags and descriptions arrive on the datasets; a Marquez that is down gives a clear error
after bounded retries.

These run against tests/marquez_service.py's stand-in for Marquez, not a real one: the Marquez
server is not published on Maven Central (`io.github.marquezproject:marquez-api` resolves to "Could
not find artifact" for every version; see that module's docstring for the commands and errors).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from ripple.api import marquez as marquez_shapes
from ripple.clients.marquez import MarquezClient
from ripple.config import Settings
from ripple.graph import queries
from ripple.graph.store import GraphStore, WalkOptions
from ripple.ingest.marquez_sync import EPOCH, Cursor, cursor_key, event_pages
from ripple.runtime import Runtime, open_runtime
from tests.conftest import food_delivery_events
from tests.integration.server import free_port
from tests.integration.test_cross_store import answer, canonical_lineage
from tests.marquez_service import FakeMarquez

RECORD_PROPS = ("tags", "description", "field_tags", "field_descriptions")
QUICK_RETRIES = ["--retries", "3", "--retry-wait", "0.05"]


@pytest.fixture
def events(fixtures_dir: Path) -> list[dict[str, Any]]:
    return food_delivery_events(fixtures_dir)


@pytest.fixture
def marquez(events: list[dict[str, Any]]) -> Iterator[FakeMarquez]:
    """A Marquez holding the food_delivery seed, posted through its ingest API."""
    fake = FakeMarquez()
    url = fake.start()
    try:
        with httpx.Client(base_url=url) as client:
            for event in events:
                assert client.post("/api/v1/lineage", json=event).status_code == 201
        yield fake
    finally:
        fake.stop()


def sync_command(data_dir: Path, url: str, *extra: str) -> list[str]:
    ripple = Path(sys.executable).parent / "ripple"
    return [str(ripple), "sync", "marquez", "--url", url, "--data-dir", str(data_dir), *extra]


def run_sync(data_dir: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sync_command(data_dir, url, *extra),
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        check=False,
    )


def _env() -> dict[str, str]:
    """The sync writes its own data directory: no log or graph configured elsewhere."""
    drop = {"RIPPLE_DATABASE_URL", "RIPPLE_NEO4J_URI", "RIPPLE_DATA_DIR"}
    return {k: v for k, v in os.environ.items() if k not in drop} | {"COLUMNS": "200"}


async def _open(data_dir: Path) -> Runtime:
    settings = Settings(data_dir=data_dir, database_url=None, neo4j_uri=None)
    return await open_runtime(settings, read_only=True)


async def _dump(data_dir: Path) -> dict[str, Any]:
    runtime = await _open(data_dir)
    try:
        return await runtime.store.dump()
    finally:
        await runtime.close()


async def answers(store: GraphStore) -> dict[str, Any]:
    """Every question Ripple answers, for every dataset and job."""
    dump = await store.dump()
    ids = sorted(i for i in dump["nodes"] if i.startswith(("dataset:", "job:")))
    result: dict[str, Any] = {}
    for node_id in ids:
        result[node_id] = (
            answer(await queries.impact(store, node_id, WalkOptions())),
            answer(await queries.impact(store, node_id, WalkOptions(direct_only=True))),
            answer(await queries.upstream(store, node_id, WalkOptions())),
            (await queries.order(store, node_id, WalkOptions())).as_dict(),
            canonical_lineage(await marquez_shapes.lineage(store, node_id, 20)),
        )
    return result


def without_record_props(dump: dict[str, Any]) -> dict[str, Any]:
    for node_id, node in dump["nodes"].items():
        for key in RECORD_PROPS if node_id.startswith("dataset:") else ():
            node["props"].pop(key, None)
    return dump


async def assert_same_as_direct(data_dir: Path, events: list[dict[str, Any]]) -> None:
    direct = await open_runtime(in_memory=True)
    synced = await _open(data_dir)
    try:
        outcomes = await direct.ingestor.ingest(events)
        assert all(o.accepted for o in outcomes)
        expected, got = await answers(direct.store), await answers(synced.store)
        assert len(expected) == 26  # 13 datasets, 13 jobs
        assert got.keys() == expected.keys()
        for node_id, value in expected.items():
            assert got[node_id] == value, node_id
        # Beyond the answers: the same graph, down to every stamp, apart from what records add.
        assert without_record_props(await synced.store.dump()) == await direct.store.dump()
    finally:
        await direct.close()
        await synced.close()


def logged(data_dir: Path) -> list[bytes]:
    with sqlite3.connect(data_dir / "events.db") as db:
        return [row[0] for row in db.execute("SELECT body FROM events ORDER BY seq")]


def meta(data_dir: Path, key: str) -> str | None:
    with sqlite3.connect(data_dir / "events.db") as db:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def kinds(bodies: list[bytes]) -> tuple[int, int]:
    records = sum(body.startswith(b'{"rippleRecord":') for body in bodies)
    return len(bodies) - records, records


async def test_sync_answers_as_direct_ingest(
    tmp_path: Path, marquez: FakeMarquez, events: list[dict[str, Any]]
) -> None:
    # Page size 5: the 13 START events share one instant, so paging must cope with ties.
    done = run_sync(tmp_path / "data", marquez.url, "--page-size", "5")
    assert done.returncode == 0, done.stderr
    assert "26 events accepted" in done.stderr and "0 rejected" in done.stderr
    assert "13 datasets read, 13 with new tags or descriptions recorded" in done.stderr
    await assert_same_as_direct(tmp_path / "data", events)
    assert kinds(logged(tmp_path / "data")) == (26, 13)
    synced = await _dump(tmp_path / "data")
    replay = [str(Path(sys.executable).parent / "ripple"), "replay", "--data-dir"]
    subprocess.run([*replay, str(tmp_path / "data")], check=True, capture_output=True, env=_env())
    assert await _dump(tmp_path / "data") == synced  # the log alone rebuilds events and records

    again = run_sync(tmp_path / "data", marquez.url, "--page-size", "5")
    assert again.returncode == 0, again.stderr
    assert "0 events accepted" in again.stderr and "0 with new tags" in again.stderr
    assert kinds(logged(tmp_path / "data")) == (26, 13)  # a rerun adds nothing

    marquez.store({**events[-1], "eventTime": "2024-01-02T00:00:00Z"})  # a new event arrives
    later = run_sync(tmp_path / "data", marquez.url + "/api/v1/", "--page-size", "5")
    assert later.returncode == 0, later.stderr
    assert "1 events accepted" in later.stderr
    assert kinds(logged(tmp_path / "data")) == (27, 13)


async def test_killed_mid_sync_resumes_without_loss(
    tmp_path: Path, marquez: FakeMarquez, events: list[dict[str, Any]]
) -> None:
    data_dir = tmp_path / "data"
    # Listings: the total, a first page of one instant read whole (a count, then the window),
    # one more page; the sixth hangs.
    marquez.stall_after = 5
    stderr = tmp_path / "sync.err"
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            sync_command(data_dir, marquez.url, "--page-size", "4"),
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=_env(),
        )
    try:
        deadline = time.monotonic() + 60
        while not marquez.stalled.wait(0.1):
            assert process.poll() is None, f"the sync ended early: {stderr.read_text()}"
            assert time.monotonic() < deadline, "the sync never reached its sixth listing"
        time.sleep(0.3)  # that listing is held: the pages before are committed, cursor saved
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    partial = logged(data_dir)
    assert 0 < len(partial) < len(events)
    assert meta(data_dir, cursor_key(marquez.url)) is not None

    marquez.stall_after = None
    marquez.release.set()
    done = run_sync(data_dir, marquez.url, "--page-size", "4")
    assert done.returncode == 0, done.stderr
    assert f"{len(events) - len(partial)} events accepted" in done.stderr
    assert kinds(logged(data_dir)) == (26, 13)  # nothing lost, nothing doubled
    await assert_same_as_direct(data_dir, events)


async def test_marquez_failing_mid_sync_then_rerun(
    tmp_path: Path, marquez: FakeMarquez, events: list[dict[str, Any]]
) -> None:
    data_dir = tmp_path / "data"
    marquez.fail_after = 5  # the total, the first instant (count, window), a page; then 503s
    failed = run_sync(data_dir, marquez.url, "--page-size", "3", *QUICK_RETRIES)
    assert failed.returncode == 1
    assert "did not answer GET /api/v1/events/lineage after 3 attempts" in failed.stderr
    assert "HTTP 503" in failed.stderr
    committed = len(logged(data_dir))
    assert 0 < committed < len(events)

    marquez.fail_after = None
    done = run_sync(data_dir, marquez.url, "--page-size", "3")
    assert done.returncode == 0, done.stderr
    assert f"{len(events) - committed} events accepted" in done.stderr
    assert kinds(logged(data_dir)) == (26, 13)
    await assert_same_as_direct(data_dir, events)


async def test_tags_and_descriptions_arrive_on_datasets(
    tmp_path: Path, marquez: FakeMarquez
) -> None:
    ns = "food_delivery"
    with httpx.Client(base_url=marquez.url + "/api/v1") as client:
        for tag in ("PII", "GOLD"):
            assert client.put(f"/tags/{tag}", json={"description": tag}).status_code == 200
        assert client.post(f"/namespaces/{ns}/datasets/public.customers/tags/GOLD").is_success
        path = f"/namespaces/{ns}/datasets/public.customers/fields/email/tags/PII"
        assert client.post(path).is_success
    data_dir = tmp_path / "data"
    done = run_sync(data_dir, marquez.url)
    assert done.returncode == 0, done.stderr

    runtime = await _open(data_dir)
    try:
        nodes = await runtime.store.nodes(
            [f"dataset:{ns}:public.customers", f"dataset:{ns}:public.orders_7_days"]
        )
    finally:
        await runtime.close()
    customers = nodes[f"dataset:{ns}:public.customers"].props
    assert customers["tags"] == ["GOLD"]
    assert customers["field_tags"] == {"email": ["PII"]}
    assert customers["description"] == "A table for customers."
    assert customers["field_descriptions"]["email"] == "The email address of the customer."
    orders = nodes[f"dataset:{ns}:public.orders_7_days"].props
    assert orders["tags"] == [] and orders["field_tags"] == {}

    with httpx.Client(base_url=marquez.url + "/api/v1") as client:
        assert client.post(f"/namespaces/{ns}/datasets/public.orders_7_days/tags/PII").is_success
    again = run_sync(data_dir, marquez.url)
    assert again.returncode == 0, again.stderr
    assert "1 with new tags or descriptions recorded" in again.stderr  # only what changed
    runtime = await _open(data_dir)
    try:
        orders = (await queries.node(runtime.store, f"dataset:{ns}:public.orders_7_days")).props
    finally:
        await runtime.close()
    assert orders["tags"] == ["PII"]


def test_marquez_down_is_a_clear_error_after_bounded_retries(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    done = run_sync(tmp_path / "data", url, *QUICK_RETRIES)
    assert done.returncode == 1
    assert f"Marquez at {url} did not answer GET /api/v1/events/lineage after 3 attempts" in (
        " ".join(done.stderr.split())
    )
    assert "ConnectError" in done.stderr and "is it running" in done.stderr
    assert time.monotonic() - started < 30
    assert "Traceback" not in done.stderr


def test_not_marquez_is_named_without_retrying(tmp_path: Path, marquez: FakeMarquez) -> None:
    done = run_sync(tmp_path / "data", marquez.url + "/nothing-here", *QUICK_RETRIES)
    assert done.returncode == 1
    assert "answered 404" in done.stderr and "--url" in done.stderr
    assert marquez.listings == 0


def test_cursor_is_kept_per_marquez(tmp_path: Path, marquez: FakeMarquez) -> None:
    done = run_sync(tmp_path / "data", marquez.url)
    assert done.returncode == 0, done.stderr
    cursor = orjson.loads(meta(tmp_path / "data", cursor_key(marquez.url)) or "null")
    assert cursor["time"] == "2024-01-01T00:10:00.000000Z"  # the seed's last instant
    assert len(cursor["seen"]) == 2  # its two events


@pytest.mark.parametrize("seed", range(6))
async def test_paging_yields_every_event_once_whatever_the_ties(seed: int) -> None:
    """Many events on few instants, listed in a new tie order per request, any page size."""
    rng = random.Random(seed)
    fake = FakeMarquez(seed)
    url = fake.start()
    try:
        instants = [f"2024-01-01T00:00:{s:02d}.{rng.choice([0, 5]):06d}Z" for s in range(4)]
        sent = []
        for i in range(rng.randint(1, 40)):
            event = {
                "eventType": "COMPLETE",
                "eventTime": rng.choice(instants),
                "run": {"runId": f"00000000-0000-4000-8000-{i:012d}"},
                "job": {"namespace": "ns", "name": f"job{i}"},
            }
            fake.store(event)
            sent.append(event["run"]["runId"])
        page_size = rng.randint(1, 7)
        seen: list[str] = []
        cursor = Cursor(EPOCH)
        async with MarquezClient(url) as client:
            for half in range(2):  # the second pass resumes from the saved cursor
                pages = event_pages(client, Cursor.loads(cursor.dumps()), page_size)
                async for batch, after in pages:
                    seen.extend(e["run"]["runId"] for e in batch)
                    cursor = after  # what a sync saves once the batch is committed
                    if half == 0 and rng.random() < 0.5:
                        break
                await pages.aclose()
        assert sorted(seen) == sorted(sent)
    finally:
        fake.stop()
