"""Backfill records: what a backfill plan touched, linked into the graph (see ingest/records.py).

When the executor ends a plan it appends one record naming the plan, its final status, the jobs
its units reran and the datasets those jobs write; the projection stamps them with
`last_backfill` / `last_backfill_status` / `last_backfill_at`, so "was this table backfilled, by
which plan?" is one node lookup, and the plan's audit trail (GET /api/v1/backfills/{id}) is one
hop from any node it touched.
"""

from __future__ import annotations

from typing import Any

from ripple.graph.delta import GraphDelta, NodeUpsert
from ripple.ingest.records import Projector
from ripple.model import NodeKind

KIND = "ripple.backfill"


def project_backfill(doc: dict[str, Any]) -> GraphDelta:
    delta = GraphDelta(f"{doc['time']}|0", None)
    props = {
        "last_backfill": doc["plan_id"],
        "last_backfill_status": doc["status"],
        "last_backfill_at": doc["time"],
    }
    for job in doc.get("jobs") or []:
        delta.nodes.append(NodeUpsert(str(job), NodeKind.JOB, dict(props)))
    for dataset in doc.get("datasets") or []:
        delta.nodes.append(NodeUpsert(str(dataset), NodeKind.DATASET, dict(props)))
    return delta


PROJECTORS: dict[str, Projector] = {KIND: project_backfill}
