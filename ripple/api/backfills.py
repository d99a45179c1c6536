"""Backfill plans and quarantine over HTTP (thin: validate, call one service function, map).

POST   /api/v1/backfills          plan; dryRun (default true) → 200 with the plan,
                                  dryRun false → persisted, 201 with id, hash and the plan
GET    /api/v1/backfills          saved plans, newest first
GET    /api/v1/backfills/{id}     the plan, its units' states and its audit trail
POST   /api/v1/backfills/{id}/run     run (or resume) it through Airflow → 202
POST   /api/v1/backfills/{id}/cancel  stop launching its units → 202
GET    /api/v1/quarantine         quarantined datasets
POST   /api/v1/quarantine         {"datasetId", "reason"?} → 201
DELETE /api/v1/quarantine?datasetId=…   → 204
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from ripple.api.body import JSONBytes, read_body
from ripple.remediation import service
from ripple.remediation.executor import ExecutorOptions
from ripple.remediation.planner import InvalidPlanRequest
from ripple.runtime import Runtime

router = APIRouter()
_BODY_LIMIT = 1024 * 1024


def _runtime(request: Request) -> Runtime:
    value: Runtime = request.app.state.runtime
    return value


def _actor(request: Request, given: str | None) -> str:
    client = request.client.host if request.client is not None else "unknown"
    return given or f"http:{client}"


async def _json(request: Request) -> Any:
    body = await read_body(request, _BODY_LIMIT)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidPlanRequest("$", f"the body is not JSON ({exc})") from None


@router.post("/api/v1/backfills")
async def post_backfill(request: Request) -> Response:
    plan_request, dry_run, actor = service.request_from_json(await _json(request))
    rt = _runtime(request)
    plan, stored = await service.plan_and_store(
        rt.store, rt.remediation, plan_request, actor=_actor(request, actor), save=not dry_run
    )
    if stored is None:
        return JSONBytes({"dryRun": True, "plan": plan.as_dict()})
    body = {"dryRun": False, **stored.summary(), "plan": plan.as_dict()}
    return JSONBytes(body, status_code=201, headers={"Location": f"/api/v1/backfills/{stored.id}"})


@router.get("/api/v1/backfills")
async def list_backfills(
    request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    plans = await _runtime(request).remediation.list_plans(limit)
    return {"backfills": [p.summary() for p in plans]}


@router.get("/api/v1/backfills/{plan_id}")
async def get_backfill(request: Request, plan_id: str) -> dict[str, Any]:
    state = _runtime(request).remediation
    stored = await state.get_plan(plan_id)
    units = await state.units(plan_id)
    audit = await state.audit_for(plan_id)
    return {
        **stored.summary(),
        "plan": stored.plan,
        "unitStates": [u.as_dict() for u in units],
        "audit": [a.as_dict() for a in audit],
    }


@router.post("/api/v1/backfills/{plan_id}/run", status_code=202)
async def run_backfill(request: Request, plan_id: str) -> dict[str, Any]:
    """Start (or resume) the executor for a saved plan in this server; 202 while it runs."""
    rt = _runtime(request)
    stored = await rt.remediation.get_plan(plan_id)  # 404 for an unknown plan
    rt.start_backfill(plan_id, ExecutorOptions(actor=_actor(request, None)))
    return {"id": plan_id, "status": stored.status, "executing": True}


@router.post("/api/v1/backfills/{plan_id}/cancel", status_code=202)
async def cancel_backfill(request: Request, plan_id: str) -> dict[str, Any]:
    status = await service.cancel(_runtime(request).remediation, plan_id, _actor(request, None))
    return {"id": plan_id, "status": status}


@router.get("/api/v1/quarantine")
async def list_quarantine(request: Request) -> dict[str, Any]:
    entries = await _runtime(request).remediation.quarantined()
    return {"quarantined": [e.as_dict() for e in entries]}


@router.post("/api/v1/quarantine", status_code=201)
async def post_quarantine(request: Request) -> dict[str, Any]:
    body = await _json(request)
    if not isinstance(body, dict):
        raise InvalidPlanRequest("$", "the body must be a JSON object")
    dataset_id, reason, actor = body.get("datasetId"), body.get("reason"), body.get("actor")
    if not isinstance(dataset_id, str) or not dataset_id:
        raise InvalidPlanRequest("datasetId", "required: the id of the dataset to quarantine")
    for name, value in (("reason", reason), ("actor", actor)):
        if value is not None and not isinstance(value, str):
            raise InvalidPlanRequest(name, "must be a string")
    rt = _runtime(request)
    entry = await service.quarantine(
        rt.store, rt.remediation, dataset_id, _actor(request, actor), reason
    )
    return entry.as_dict()


@router.delete("/api/v1/quarantine", status_code=204)
async def delete_quarantine(
    request: Request,
    dataset_id: Annotated[str, Query(alias="datasetId", min_length=1)],
) -> Response:
    await service.release(_runtime(request).remediation, dataset_id, _actor(request, None))
    return Response(status_code=204)
