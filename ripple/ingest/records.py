"""Ripple's own log records: metadata synced from Airflow or Marquez, kept in the event log.

The durability rule covers synced metadata too: a sync appends records to the same log as the
OpenLineage events, and the graph is a projection of that log, so `ripple replay` rebuilds the
Airflow DAGs and Marquez tags exactly as it rebuilds lineage. A record is a JSON object whose first
key is `rippleRecord` (its kind); the log tells records from events by that prefix, and the ingest
API refuses events that start with it, so an outside producer cannot forge one.

Each kind has a projector: a pure function from the decoded record to a GraphDelta; the
registry of kinds is the pipeline's (ingest/pipeline.py), so this module imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from ripple.graph.delta import GraphDelta

KEY = "rippleRecord"
PREFIX = b'{"' + KEY.encode() + b'":'

Projector = Callable[[dict[str, Any]], GraphDelta]


def encode(kind: str, payload: dict[str, Any]) -> bytes:
    """The log body of one record (its kind first, so `is_record` sees it)."""
    return orjson.dumps({KEY: kind, **payload})


def is_record(body: bytes) -> bool:
    return body.startswith(PREFIX)
