"""One contract for every EventLog: SQLite (embedded) and PostgreSQL (a real server).

Order, exact bytes, durability across reopen, unique increasing sequence numbers when two log
instances (as two API processes would) append at once, and StoreUnavailable when the log
cannot be reached."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ripple.errors import StoreUnavailable
from ripple.ingest.eventlog import EventLog, SqliteEventLog, log_identity
from ripple.ingest.pg_eventlog import PostgresEventLog
from tests.postgres_service import SERVICE, reset_events

NewLog = Callable[[], EventLog]


@pytest.fixture(params=["sqlite", "postgres"])
def new_log(request: pytest.FixtureRequest, tmp_path: Path) -> NewLog:
    """Makes (unopened) log instances that all share one log: one file or one database."""
    if request.param == "sqlite":
        return lambda: SqliteEventLog(tmp_path / "events.db")
    url = SERVICE.url()
    reset_events(url)
    return lambda: PostgresEventLog(url)


@pytest.fixture
async def log(new_log: NewLog) -> AsyncIterator[EventLog]:
    opened = new_log()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


BODIES = [b'{"a": 1}', b'{ "b" :2 }', '{"ü": "\u00e9"}'.encode(), b"{}"]


async def test_append_returns_increasing_seqs_and_read_returns_them_in_order(
    log: EventLog,
) -> None:
    assert await log.last_seq() == 0
    assert await log.append([]) == []
    first = await log.append(BODIES[:3])
    second = await log.append(BODIES[3:])
    seqs = first + second
    assert seqs == sorted(set(seqs))
    assert await log.read(0, 100) == list(zip(seqs, BODIES, strict=True))
    assert await log.read(seqs[1], 2) == [(seqs[2], BODIES[2]), (seqs[3], BODIES[3])]
    assert await log.read(seqs[-1], 10) == []
    assert await log.last_seq() == seqs[-1]


async def test_appended_events_survive_a_reopen(new_log: NewLog) -> None:
    log = new_log()
    await log.open()
    seqs = await log.append(BODIES)
    await log.close()
    again = new_log()
    await again.open()
    try:
        assert await again.read(0, 100) == list(zip(seqs, BODIES, strict=True))
        assert await again.append([b"{}"]) > seqs
    finally:
        await again.close()


async def test_two_instances_appending_at_once_get_unique_increasing_seqs(
    new_log: NewLog,
) -> None:
    logs = [new_log(), new_log()]
    for log in logs:
        await log.open()
    try:

        async def writer(log: EventLog, name: int) -> list[list[int]]:
            batches = []
            for i in range(40):
                bodies = [f'{{"w": {name}, "i": {i}, "k": {k}}}'.encode() for k in range(i % 5 + 1)]
                batches.append(await log.append(bodies))
            return batches

        results = await asyncio.gather(writer(logs[0], 0), writer(logs[1], 1))
        every = [seq for batches in results for batch in batches for seq in batch]
        assert len(every) == len(set(every))
        for batches in results:
            mine = [seq for batch in batches for seq in batch]
            assert mine == sorted(mine)  # each writer sees its own appends in order
        logged = await logs[0].read(0, 10_000)
        assert [seq for seq, _ in logged] == sorted(every)
    finally:
        for log in logs:
            await log.close()


def _unreachable(kind: str, tmp_path: Path) -> EventLog:
    if kind == "sqlite":
        (tmp_path / "a-file").write_text("")
        return SqliteEventLog(tmp_path / "a-file" / "events.db")
    return PostgresEventLog("postgresql://postgres@127.0.0.1:1/ripple", timeout=2)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_an_unreachable_log_raises_store_unavailable_on_open(
    kind: str, tmp_path: Path
) -> None:
    log = _unreachable(kind, tmp_path)  # constructing does no I/O
    with pytest.raises(StoreUnavailable) as caught:
        await log.open()
    assert "check" in str(caught.value)
    await log.close()


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres:secret@127.0.0.1:1/ripple", "postgresql://127.0.0.1:1/x?sslmode=nope"],
)
async def test_a_bad_database_url_raises_store_unavailable_without_the_password(url: str) -> None:
    log = PostgresEventLog(url, timeout=2)
    with pytest.raises(StoreUnavailable) as caught:
        await log.open()
    assert "RIPPLE_DATABASE_URL" in str(caught.value)
    assert "secret" not in str(caught.value)


async def test_meta_values_are_kept_beside_the_log_and_survive_a_reopen(new_log: NewLog) -> None:
    key = f"sync.test.{uuid.uuid4()}"  # one database may serve several test sessions
    log = new_log()
    await log.open()
    try:
        assert await log.get_meta(key) is None
        await log.set_meta(key, "cursor-1")
        await log.set_meta(key, "cursor-2")
    finally:
        await log.close()
    reopened = new_log()
    await reopened.open()
    try:
        assert await reopened.get_meta(key) == "cursor-2"
        assert await reopened.last_seq() == 0  # meta values are not events
    finally:
        await reopened.close()


async def test_a_log_names_itself_once_and_keeps_the_name(new_log: NewLog) -> None:
    """Two instances opening one log at once agree on its identity, and a reopen keeps it."""
    first, second = new_log(), new_log()
    await asyncio.gather(first.open(), second.open())
    try:
        names = {await log_identity(first), await log_identity(second)}
    finally:
        await first.close()
        await second.close()
    reopened = new_log()
    await reopened.open()
    try:
        assert names == {await log_identity(reopened)}
    finally:
        await reopened.close()
