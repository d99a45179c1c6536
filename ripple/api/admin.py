"""Administration over HTTP (role admin): retracting poisoned events.

POST /api/v1/admin/retractions   {"runId", "reason"} or {"seq", "reason"} → 200 with the tombstone
GET  /api/v1/admin/retractions   every tombstone in the event log, oldest first
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ripple.api.auth import require
from ripple.api.backfills import parse_body, read_json
from ripple.api.deps import runtime as _runtime
from ripple.identity import Identity, Role

router = APIRouter()
Admin = Annotated[Identity, Depends(require(Role.ADMIN))]


class RetractionBody(BaseModel):
    """What to retract — every event of a run, or one log record — and why."""

    # unknown fields are mistakes (an `actor` above all: the actor is the caller's token)
    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: uuid.UUID | None = Field(None, alias="runId", description="retract the run's events")
    seq: Annotated[int, Field(ge=1, strict=True)] | None = Field(None, description="or one record")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2_000, strict=True)]

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.run_id is None) == (self.seq is None):
            raise ValueError("give exactly one of 'runId' and 'seq'")
        return self


@router.post("/api/v1/admin/retractions")
async def post_retraction(request: Request, caller: Admin) -> dict[str, Any]:
    """Retract; the caller's token name is the audit actor. Retracting again answers the same
    tombstone."""
    body = parse_body(RetractionBody, await read_json(request, _BODY_LIMIT))
    retraction = await _runtime(request).retract(
        caller.actor, body.reason, run_id=body.run_id, seq=body.seq
    )
    return retraction.as_dict()


_BODY_LIMIT = 64 * 1024


@router.get("/api/v1/admin/retractions")
async def list_retractions(request: Request, _: Admin) -> dict[str, Any]:
    found = await _runtime(request).ingestor.retractions()
    return {"retractions": [r.as_dict() for r in found]}
