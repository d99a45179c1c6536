"""Posting OpenLineage events: Marquez's `POST /api/v1/lineage`, and Ripple's batch route.

POST /api/v1/lineage         one event → 201 once it is durable in the event log
POST /api/v1/lineage/batch   a JSON array or NDJSON → 200 with each event's outcome
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from ripple.api.auth import require
from ripple.api.body import read_body, split_many
from ripple.api.deps import runtime, settings
from ripple.errors import InvalidEvent, MalformedInput
from ripple.identity import Role
from ripple.ingest.pipeline import Outcome, Prepared, read_event

router = APIRouter(dependencies=[Depends(require(Role.INGEST))])


@router.post("/api/v1/lineage", status_code=201)
async def post_lineage(request: Request) -> Response:
    """201 once the event is durable: an empty body, as Marquez answers, unless facets of the
    wrong shape were left out of the graph, which `{"warnings": [...]}` names."""
    body = await read_body(request, settings(request).max_body_bytes)
    ingestor = runtime(request).ingestor
    # 400 / 422 before anything else
    delta, warnings = read_event(body, ingestor.memo, ingestor.limits)
    committer = runtime(request).committer
    assert committer is not None  # started with the app
    outcome = await committer.submit(Prepared(body, delta, None, warnings))
    if outcome.error is not None:
        raise outcome.error
    if outcome.warnings:
        content = orjson.dumps({"warnings": [w.as_dict() for w in outcome.warnings]})
        return Response(content, status_code=201, media_type="application/json")
    return Response(status_code=201)


@router.post("/api/v1/lineage/batch")
async def post_batch(request: Request) -> dict[str, Any]:
    items = split_many(await read_body(request, settings(request).max_body_bytes))
    ingestor = runtime(request).ingestor
    valid = [(i, body) for i, body in enumerate(items) if not isinstance(body, MalformedInput)]
    outcomes = await ingestor.ingest_bodies([body for _, body in valid])
    results: list[dict[str, Any]] = [{} for _ in items]
    for (i, _), outcome in zip(valid, outcomes, strict=True):
        results[i] = outcome.as_dict(i)
    for i, item in enumerate(items):
        if isinstance(item, MalformedInput):
            rejected = Outcome(error=InvalidEvent("$", None, str(item)))
            results[i] = rejected.as_dict(i)
    accepted = sum(1 for r in results if r["status"] == "accepted")
    return {"accepted": accepted, "rejected": len(results) - accepted, "results": results}
