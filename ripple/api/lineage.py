"""Posting OpenLineage events: Marquez's `POST /api/v1/lineage`, and Ripple's batch route.

POST /api/v1/lineage         one event → 201 once it is durable in the event log
POST /api/v1/lineage/batch   a JSON array or NDJSON → 200 with each event's outcome
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ripple.api.auth import require
from ripple.api.body import RUN_EVENT, JSONBytes, json_request, read_body, split_many
from ripple.api.deps import runtime, settings
from ripple.errors import InvalidEvent, MalformedInput
from ripple.identity import Role
from ripple.ingest.pipeline import Outcome, Prepared, read_event

router = APIRouter(dependencies=[Depends(require(Role.INGEST))])


@router.post("/api/v1/lineage", status_code=201, openapi_extra=json_request(dict(RUN_EVENT)))
async def post_lineage(request: Request) -> JSONBytes:
    """201 once the event is durable, with `{}` — or `{"warnings": [...]}` naming facets of the
    wrong shape that were left out of the graph (the event and its lineage are kept). Marquez
    answers an empty 201; producers read only the status."""
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
        return JSONBytes({"warnings": [w.as_dict() for w in outcome.warnings]}, status_code=201)
    return JSONBytes({}, status_code=201)


@router.post(
    "/api/v1/lineage/batch",
    openapi_extra=json_request({"type": "array", "items": RUN_EVENT}, ndjson=True),
)
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
