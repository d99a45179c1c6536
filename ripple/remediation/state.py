"""What the backfill state store keeps and answers: plans with their content hash, their units'
states, an append-only audit trail and quarantined datasets — the values and the
`RemediationState` protocol the planner's callers and the executor use, and the plan and unit
states (`PlanStatus`, `UnitStatus`: StrEnums, stored as their strings). The SQL behind it, the
same for both databases, is in `sql_state.py` (SQLite) and `pg_state.py` (PostgreSQL); both live
in the event log's database.

A plan's content hash is the sha256 of its canonical JSON (`canonical_json`). Every state change
is a compare-and-set from expected states, recorded in the audit log in the same transaction, so
an executor that resumes after a crash reads where each unit stands and never launches a unit
twice: only one caller can move it from `ready` to `running`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import orjson

from ripple.identity import Role, TokenRecord


class PlanStatus(StrEnum):
    """Where a stored plan stands. Stored and shown as these strings (a StrEnum equals them)."""

    PLANNED = "planned"
    RUNNING = "running"
    PAUSED = "paused"  # the circuit to Airflow is open, or its credentials were refused
    CANCELLING = "cancelling"  # no more launches; running units are followed to their end
    CANCELLED = "cancelled"
    SUCCEEDED = "succeeded"
    PARTIALLY_FAILED = "partially_failed"
    FAILED = "failed"


class UnitStatus(StrEnum):
    """Where one unit of a plan stands (the `state` of its row)."""

    PENDING = "pending"  # a parent has not succeeded yet
    READY = "ready"
    LAUNCHING = "launching"  # the executor is asking Airflow to (re)run it; resolved on resume
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # downstream of a failed unit: not run
    HELD = "held"  # reads a quarantined dataset (or is below one that does): never run
    CANCELLED = "cancelled"


TERMINAL_UNIT_STATES = frozenset(
    {UnitStatus.SUCCEEDED, UnitStatus.FAILED, UnitStatus.SKIPPED, UnitStatus.CANCELLED}
)
END_PLAN_STATES = frozenset(
    {PlanStatus.SUCCEEDED, PlanStatus.PARTIALLY_FAILED, PlanStatus.FAILED, PlanStatus.CANCELLED}
)

Clock = Callable[[], datetime]


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace: equal content, equal bytes."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def content_hash(plan: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(plan)).hexdigest()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class StoredPlan:
    id: str
    created_at: str
    created_by: str
    content_hash: str
    status: PlanStatus
    status_reason: str | None
    updated_at: str
    unit_count: int
    request: dict[str, Any]
    plan: dict[str, Any] | None  # None in listings

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "createdAt": self.created_at,
            "createdBy": self.created_by,
            "hash": self.content_hash,
            "status": self.status,
            "statusReason": self.status_reason,
            "updatedAt": self.updated_at,
            "unitCount": self.unit_count,
            "roots": self.request.get("roots", []),
        }


@dataclass(slots=True)
class UnitState:
    plan_id: str
    unit_id: str
    position: int
    dag_id: str
    task_id: str
    logical_date: str
    action: str
    airflow_run_id: str | None
    state: UnitStatus
    attempts: int
    try_number: int | None
    reason: str | None
    started_at: str | None
    finished_at: str | None
    updated_at: str
    layer: int = 0
    parents: list[str] = field(default_factory=list)  # in-plan units that must succeed first

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit_id,
            "dagId": self.dag_id,
            "taskId": self.task_id,
            "logicalDate": self.logical_date,
            "action": self.action,
            "airflowRunId": self.airflow_run_id,
            "state": self.state,
            "attempts": self.attempts,
            "tryNumber": self.try_number,
            "reason": self.reason,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "updatedAt": self.updated_at,
            "layer": self.layer,
            "parents": self.parents,
        }


@dataclass(slots=True)
class Transition:
    """The outcome of a compare-and-set: `applied`, and the unit as it stands afterwards."""

    applied: bool
    unit: UnitState


@dataclass(slots=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    plan_id: str | None
    unit_id: str | None
    action: str
    request: Any
    response: Any
    from_state: str | None
    to_state: str | None
    detail: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "planId": self.plan_id,
            "unit": self.unit_id,
            "action": self.action,
            "request": self.request,
            "response": self.response,
            "fromState": self.from_state,
            "toState": self.to_state,
            "detail": self.detail,
        }


@dataclass(slots=True)
class QuarantineEntry:
    dataset_id: str
    reason: str | None
    actor: str
    since: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "datasetId": self.dataset_id,
            "reason": self.reason,
            "actor": self.actor,
            "since": self.since,
        }


class RemediationState(Protocol):
    """Plans, unit states, audit and quarantine; every method is one transaction."""

    async def open(self) -> None:
        """Connect and create the tables if missing."""
        ...

    async def close(self) -> None: ...

    async def create_plan(
        self, plan: dict[str, Any], request: dict[str, Any], actor: str
    ) -> StoredPlan:
        """Persist a plan (its `as_dict()`) and one unit row per unit: `held` units held, units
        without parents `ready`, the rest `pending`. Returns it with its new id and hash."""
        ...

    async def get_plan(self, plan_id: str) -> StoredPlan:
        """The plan with its body; NotFound for an unknown id."""
        ...

    async def list_plans(self, limit: int = 100) -> list[StoredPlan]:
        """The newest plans first, without their bodies."""
        ...

    async def units(self, plan_id: str) -> list[UnitState]:
        """The plan's units in plan order; NotFound for an unknown plan."""
        ...

    async def set_unit_state(
        self,
        plan_id: str,
        unit_id: str,
        to: str,
        *,
        expected: Collection[str],
        actor: str,
        reason: str | None = None,
        airflow_run_id: str | None = None,
        try_number: int | None = None,
        new_attempt: bool = False,
        detail: str | None = None,
    ) -> Transition:
        """Move a unit to `to` if it is in one of `expected` (compare-and-set), recording the
        change in the audit log. NotFound for an unknown plan or unit."""
        ...

    async def set_plan_status(
        self,
        plan_id: str,
        to: str,
        *,
        expected: Collection[str],
        actor: str,
        reason: str | None = None,
    ) -> bool:
        """Compare-and-set of the plan's status, audited; False when it was not in `expected`."""
        ...

    async def append_audit(
        self,
        actor: str,
        action: str,
        *,
        plan_id: str | None = None,
        unit_id: str | None = None,
        request: Any = None,
        response: Any = None,
        from_state: str | None = None,
        to_state: str | None = None,
        detail: str | None = None,
    ) -> AuditEntry:
        """Append one audit record (an API call and its response, a decision …)."""
        ...

    async def audit_for(self, plan_id: str, after: int = 0) -> list[AuditEntry]:
        """The plan's audit records past sequence `after`, oldest first."""
        ...

    async def quarantine_add(
        self, dataset_id: str, actor: str, reason: str | None = None
    ) -> QuarantineEntry:
        """Quarantine a dataset (idempotent: an existing entry is kept as is)."""
        ...

    async def quarantine_remove(self, dataset_id: str, actor: str) -> bool:
        """Lift a quarantine; False when the dataset was not quarantined."""
        ...

    async def quarantined(self) -> list[QuarantineEntry]: ...

    # API tokens (ripple/identity.py): kept beside the audit trail they name the actors of.
    async def create_token(self, name: str, role: Role, digest: str, actor: str) -> TokenRecord: ...

    async def tokens(self) -> list[TokenRecord]: ...

    async def revoke_token(self, name: str, actor: str) -> bool: ...


def ready(units: Sequence[UnitState]) -> list[UnitState]:
    """The units that may start now, in plan order: `pending` or `ready`, every parent
    `succeeded`. (`held`, failed and cancelled units never are; nor is anything below them.)"""
    state = {unit.unit_id: unit.state for unit in units}
    return [
        unit
        for unit in units
        if unit.state in (UnitStatus.PENDING, UnitStatus.READY)
        and all(state.get(parent) == UnitStatus.SUCCEEDED for parent in unit.parents)
    ]


def downstream(units: Sequence[UnitState], unit_id: str) -> list[str]:
    """Every unit below `unit_id` (its children, theirs, …), in plan order: what a failure of
    `unit_id` makes not runnable."""
    children: dict[str, list[str]] = {}
    for unit in units:
        for parent in unit.parents:
            children.setdefault(parent, []).append(unit.unit_id)
    found: set[str] = set()
    stack = [unit_id]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return [unit.unit_id for unit in units if unit.unit_id in found]
