"""Ripple's own log records: metadata synced from Airflow or Marquez, kept in the event log.

The durability rule covers synced metadata too: a sync appends records to the same log as the
OpenLineage events, and the graph is a projection of that log, so `ripple replay` rebuilds the
Airflow DAGs and Marquez tags exactly as it rebuilds lineage. A record is a JSON object whose first
key is `rippleRecord` (its kind); the log tells records from events by that prefix, and the ingest
API refuses events that start with it, so an outside producer cannot forge one.

Each kind has a projector: a pure function from the decoded record to a GraphDelta.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ripple.errors import InvalidEvent
from ripple.graph.delta import GraphDelta

KEY = "rippleRecord"
PREFIX = b'{"' + KEY.encode() + b'":'

Projector = Callable[[dict[str, Any]], GraphDelta]


def encode(kind: str, payload: dict[str, Any]) -> bytes:
    """The log body of one record (its kind first, so `is_record` sees it)."""
    return orjson.dumps({KEY: kind, **payload})


def is_record(body: bytes) -> bool:
    return body.startswith(PREFIX)


def project_record(body: bytes) -> GraphDelta:
    """The graph delta of one logged record; InvalidEvent if its kind is unknown or it is bad."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent("$", None, f"not JSON: {exc}") from exc
    kind = doc.get(KEY)
    projector = _projectors().get(kind) if isinstance(kind, str) else None
    if projector is None:
        raise InvalidEvent(f"$.{KEY}", kind, "not a record kind this version of Ripple knows")
    try:
        return projector(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidEvent("$", kind, f"malformed {kind} record: {exc!r}") from exc


def _projectors() -> dict[str, Projector]:
    # Imported here: the sync modules import this one to encode their records.
    from ripple.ingest.airflow_records import PROJECTORS as AIRFLOW
    from ripple.ingest.backfill_records import PROJECTORS as BACKFILL
    from ripple.ingest.marquez_records import PROJECTORS as MARQUEZ

    return {**AIRFLOW, **MARQUEZ, **BACKFILL}
