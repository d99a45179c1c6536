"""Posting OpenLineage events: Marquez's `POST /api/v1/lineage`, and Ripple's batch route.

POST /api/v1/lineage         one event → 201 once it is durable in the event log
POST /api/v1/lineage/batch   a JSON array or NDJSON → 200 with each event's outcome (bounded)
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request

from ripple.api.auth import require
from ripple.api.body import (
    CHUNK_ITEMS,
    RUN_EVENT,
    JSONBytes,
    json_request,
    prepare_items,
    read_body,
    split_many,
)
from ripple.api.deps import runtime, settings
from ripple.identity import Role
from ripple.ingest.pipeline import Prepared, read_event

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
    """Every good event of the batch kept; the answer lists each accepted one and the first
    `max_rejections_reported` rejections (index, line, error), then only counts the rest."""
    config = settings(request)
    body = await read_body(request, config.max_body_bytes)
    items = await to_thread.run_sync(split_many, body, config.max_batch_items)
    del body
    ingestor = runtime(request).ingestor
    prepared: list[Prepared] = []
    for start in range(0, len(items), CHUNK_ITEMS):  # off the event loop, a chunk at a time
        chunk = items[start : start + CHUNK_ITEMS]
        prepared += await to_thread.run_sync(prepare_items, chunk, ingestor.memo, ingestor.limits)
    outcomes = await ingestor.commit(prepared)
    results: list[dict[str, Any]] = []
    accepted = omitted = 0
    for index, (item, outcome) in enumerate(zip(items, outcomes, strict=True)):
        if outcome.accepted:
            accepted += 1
            results.append(outcome.as_dict(index))
        elif len(results) - accepted < config.max_rejections_reported:
            results.append({**outcome.as_dict(index), "line": item.line})
        else:
            omitted += 1
    return {
        "accepted": accepted,
        "rejected": len(items) - accepted,
        "results": results,
        "truncated": omitted > 0,
        "omitted": omitted,
    }
