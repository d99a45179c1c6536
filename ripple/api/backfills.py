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

from typing import Annotated, Any, TypeVar

import orjson
import pydantic
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ripple.api.auth import require
from ripple.api.body import JSONBytes, json_request, read_body
from ripple.api.deps import runtime as _runtime
from ripple.api.deps import settings as _settings
from ripple.errors import Forbidden
from ripple.identity import Identity, Role
from ripple.remediation import service
from ripple.remediation.executor import ExecutorOptions
from ripple.remediation.planner import InvalidPlanRequest, PlanOptions

router = APIRouter()
Reader = Annotated[Identity, Depends(require(Role.READ))]
Operator = Annotated[Identity, Depends(require(Role.OPERATE))]

NonEmpty = Annotated[str, StringConstraints(min_length=1)]
Count = Annotated[int, Field(ge=1)]


class _Body(BaseModel):
    # strict: a number is not a string, "yes" is not a boolean; unknown fields are mistakes
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PlanOptionsBody(_Body):
    include_dags: list[NonEmpty] = Field(default_factory=list, alias="includeDags")
    exclude_dags: list[NonEmpty] = Field(default_factory=list, alias="excludeDags")
    include_tasks: list[NonEmpty] = Field(default_factory=list, alias="includeTasks")
    exclude_tasks: list[NonEmpty] = Field(default_factory=list, alias="excludeTasks")
    max_tasks: Count | None = Field(None, alias="maxTasks")
    max_parallel: Count | None = Field(None, alias="maxParallel")
    truncate: bool = False


class PlanBody(_Body):
    """`POST /api/v1/backfills`: what to plan from, for which dates, and whether to save it."""

    roots: list[NonEmpty] = Field(min_length=1, description="dataset, column, job or run ids")
    dates: list[NonEmpty] = Field(default_factory=list, description="logical dates, ISO 8601")
    start: str | None = Field(None, alias="from", description="first date of a range")
    end: str | None = Field(None, alias="to", description="last date of a range (inclusive)")
    options: PlanOptionsBody = Field(default_factory=lambda: PlanOptionsBody())
    dry_run: bool = Field(True, alias="dryRun", description="false: save the plan")
    depth: Annotated[int, Field(ge=1, le=100)] = 100

    def plan_request(self, default_max_tasks: int | None = None) -> service.PlanRequest:
        """The service's request, capped at `default_max_tasks` units unless it sets maxTasks;
        InvalidPlanRequest for dates that do not parse or agree."""
        o = self.options
        options = PlanOptions(
            tuple(o.include_dags),
            tuple(o.exclude_dags),
            tuple(o.include_tasks),
            tuple(o.exclude_tasks),
            o.max_tasks,
            o.max_parallel,
            o.truncate,
            default_max_tasks,
        )
        dates = service.parse_dates(self.dates, self.start, self.end)
        return service.PlanRequest(tuple(self.roots), dates, options, depth=self.depth)


class QuarantineBody(_Body):
    """`POST /api/v1/quarantine`."""

    dataset_id: NonEmpty = Field(alias="datasetId", description="the dataset to quarantine")
    reason: str | None = None


M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M], doc: Any) -> M:
    """`doc` as `model`, or InvalidPlanRequest naming the first bad field (a 400)."""
    try:
        return model.model_validate(doc)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(part) for part in first["loc"] if not isinstance(part, int)) or "$"
        reason = first["msg"]
        if first["type"] == "extra_forbidden":
            reason = "unknown field"
        elif first["type"] != "missing":
            reason += f" (got {first.get('input')!r})"
        raise InvalidPlanRequest(path, reason) from None


_BODY_LIMIT = 1024 * 1024


async def read_json(request: Request, limit: int = _BODY_LIMIT) -> Any:
    """The body as JSON (gunzipped, at most `limit` bytes); a 400 when it is not JSON."""
    body = await read_body(request, limit)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidPlanRequest("$", f"the body is not JSON ({exc})") from None


@router.post(
    "/api/v1/backfills", openapi_extra=json_request(PlanBody.model_json_schema(by_alias=True))
)
async def post_backfill(request: Request, caller: Reader) -> Response:
    """A dry run needs `read`; saving the plan (`dryRun: false`) needs `operate`."""
    asked = parse_body(PlanBody, await read_json(request))
    if not asked.dry_run and not caller.role.allows(Role.OPERATE):
        raise Forbidden(
            f"Saving a plan (dryRun: false) needs the role 'operate' (or above); the token "
            f"'{caller.name}' has '{caller.role.value}'"
        )
    rt = _runtime(request)
    plan_request = asked.plan_request(_settings(request).default_max_tasks)
    plan, stored = await service.plan_and_store(
        rt.store, rt.remediation, plan_request, actor=caller.actor, save=not asked.dry_run
    )
    if stored is None:
        return JSONBytes({"dryRun": True, "plan": plan.as_dict()})
    body = {"dryRun": False, **stored.summary(), "plan": plan.as_dict()}
    return JSONBytes(body, status_code=201, headers={"Location": f"/api/v1/backfills/{stored.id}"})


@router.get("/api/v1/backfills")
async def list_backfills(
    request: Request, _: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    plans = await _runtime(request).remediation.list_plans(limit)
    return {"backfills": [p.summary() for p in plans]}


@router.get("/api/v1/backfills/{plan_id}")
async def get_backfill(request: Request, plan_id: str, _: Reader) -> dict[str, Any]:
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
async def run_backfill(request: Request, plan_id: str, caller: Operator) -> dict[str, Any]:
    """Start (or resume) the executor for a saved plan in this server; 202 while it runs."""
    rt = _runtime(request)
    stored = await rt.remediation.get_plan(plan_id)  # 404 for an unknown plan
    rt.start_backfill(plan_id, ExecutorOptions(actor=caller.actor))
    return {"id": plan_id, "status": stored.status, "executing": True}


@router.post("/api/v1/backfills/{plan_id}/cancel", status_code=202)
async def cancel_backfill(request: Request, plan_id: str, caller: Operator) -> dict[str, Any]:
    status = await service.cancel(_runtime(request).remediation, plan_id, caller.actor)
    return {"id": plan_id, "status": status}


@router.get("/api/v1/quarantine")
async def list_quarantine(request: Request, _: Reader) -> dict[str, Any]:
    entries = await _runtime(request).remediation.quarantined()
    return {"quarantined": [e.as_dict() for e in entries]}


@router.post(
    "/api/v1/quarantine",
    status_code=201,
    openapi_extra=json_request(QuarantineBody.model_json_schema(by_alias=True)),
)
async def post_quarantine(request: Request, caller: Operator) -> dict[str, Any]:
    body = parse_body(QuarantineBody, await read_json(request))
    rt = _runtime(request)
    entry = await service.quarantine(
        rt.store, rt.remediation, body.dataset_id, caller.actor, body.reason
    )
    return entry.as_dict()


@router.delete("/api/v1/quarantine", status_code=204)
async def delete_quarantine(
    request: Request,
    dataset_id: Annotated[str, Query(alias="datasetId", min_length=1)],
    caller: Operator,
) -> Response:
    runtime = _runtime(request)
    await service.release(runtime.remediation, dataset_id, caller.actor, runtime.store)
    return Response(status_code=204)
