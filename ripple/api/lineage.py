"""Posting OpenLineage events: Marquez's `POST /api/v1/lineage`, and Ripple's batch route.

POST /api/v1/lineage         one event → 201 once it is durable in the event log
POST /api/v1/lineage/batch   a JSON array or NDJSON → 200 with each event's outcome (bounded)
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request, Response

from ripple.api.auth import require
from ripple.api.body import CHUNK_ITEMS, prepare_items, read_body, split_many
from ripple.api.deps import runtime, settings
from ripple.identity import Role
from ripple.ingest.pipeline import Prepared, read_event

router = APIRouter(dependencies=[Depends(require(Role.INGEST))])


@router.post("/api/v1/lineage", status_code=201)
async def post_lineage(request: Request) -> Response:
    body = await read_body(request, settings(request).max_body_bytes)
    ingestor = runtime(request).ingestor
    delta = read_event(body, ingestor.memo)  # 400 / 422 before anything else
    committer = runtime(request).committer
    assert committer is not None  # started with the app
    outcome = await committer.submit(Prepared(body, delta))
    if outcome.error is not None:
        raise outcome.error
    return Response(status_code=201)


@router.post("/api/v1/lineage/batch")
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
        prepared += await to_thread.run_sync(prepare_items, chunk, ingestor.memo)
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
