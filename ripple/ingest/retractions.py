"""Retractions: tombstones in the event log that take accepted events out of the graph.

The log is append-only and the graph is its projection, so a poisoned event is not deleted: an
admin appends a `ripple.retraction` record (see ingest/records.py) naming the log sequence numbers
it retracts, who asked, why and when, and the graph is rebuilt from the log without them. Every
later rebuild (`ripple replay`, catch-up after a crash, a process following a shared log) skips
them too, because it reads the same tombstones. The record itself asserts nothing in the graph.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from ripple.errors import Conflict, NotFound
from ripple.graph.delta import GraphDelta
from ripple.ingest import records
from ripple.ingest.eventlog import EventLog

KIND = "ripple.retraction"
# How every tombstone's body begins (records.encode writes the kind first, without spaces).
NEEDLE = records.PREFIX + orjson.dumps(KIND)


@dataclass(frozen=True, slots=True)
class Retraction:
    """One tombstone: `id` is its own log sequence number, `seqs` the events it retracts."""

    id: int
    seqs: tuple[int, ...]
    run_id: str | None
    actor: str
    reason: str
    at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "retracted": list(self.seqs),
            "runId": self.run_id,
            "actor": self.actor,
            "reason": self.reason,
            "at": self.at,
        }


def encode(seqs: list[int], run_id: str | None, actor: str, reason: str, at: str) -> bytes:
    """The log body of a tombstone."""
    payload = {"seqs": seqs, "runId": run_id, "actor": actor, "reason": reason, "at": at}
    return records.encode(KIND, payload)


def is_retraction(body: bytes) -> bool:
    return body.startswith(NEEDLE)


def decode(seq: int, body: bytes) -> Retraction:
    """The tombstone logged as `seq`."""
    doc = orjson.loads(body)
    return Retraction(
        seq,
        tuple(int(s) for s in doc["seqs"]),
        doc.get("runId"),
        str(doc["actor"]),
        str(doc["reason"]),
        str(doc["at"]),
    )


def retracted_by(body: bytes) -> set[int]:
    """The sequence numbers a tombstone's body retracts."""
    return {int(s) for s in orjson.loads(body)["seqs"]}


async def logged(log: EventLog) -> list[Retraction]:
    """Every tombstone in `log`, oldest first."""
    return [decode(seq, body) for seq, body in await log.find(NEEDLE) if is_retraction(body)]


async def events_of_run(log: EventLog, run_id: uuid.UUID) -> list[int]:
    """The sequence numbers of the logged events of run `run_id` (its own events, not those
    naming it as a parent)."""
    found: dict[int, bytes] = {}
    for text in {str(run_id), str(run_id).upper()}:  # as producers write it
        found.update(await log.find(text.encode()))
    seqs = []
    for seq, body in sorted(found.items()):
        if records.is_record(body):
            continue
        try:
            claimed = orjson.loads(body)["run"]["runId"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        if isinstance(claimed, str) and claimed.lower() == str(run_id):
            seqs.append(seq)
    return seqs


async def targets(log: EventLog, run_id: uuid.UUID | None, seq: int | None) -> list[int]:
    """What a retraction of run `run_id` (or of the record `seq`) takes out: NotFound for a run
    with no event or a seq beyond the log, Conflict for a record that is not an event."""
    if run_id is not None:
        seqs = await events_of_run(log, run_id)
        if not seqs:
            raise NotFound(
                f"No event of run {run_id} is in the event log — check the runId "
                "(GET /api/v1/nodes?nodeId=run:<runId> shows a run the graph holds)"
            )
        return seqs
    if seq is None:
        raise ValueError("a retraction names a run or a log record")
    rows = await log.read(seq - 1, 1)
    if not rows or rows[0][0] != seq:
        raise NotFound(f"No record {seq} in the event log (its last is {await log.last_seq()})")
    if records.is_record(rows[0][1]):
        raise Conflict(
            f"Log record {seq} is one of Ripple's own records, not an OpenLineage event — "
            "only events can be retracted"
        )
    return [seq]


def project_retraction(doc: dict[str, Any]) -> GraphDelta:
    """Nothing by itself: the graph loses the retracted events when it is rebuilt without them."""
    return GraphDelta(f"{doc['at']}|0", None)


PROJECTORS: dict[str, records.Projector] = {KIND: project_retraction}
