"""The backfill state store in SQL, written once for SQLite and PostgreSQL (`SqlState` over a
small `Backend`), and its SQLite backend: one connection to the event log's file.

Tables (the same in both databases; times are UTC ISO 8601 text, JSON is canonical text):

    backfill_plans  (id PK, created_at, created_by, content_hash, status, status_reason,
                     updated_at, unit_count, request, plan)
    backfill_units  (plan_id, unit_id, PK(plan_id, unit_id), position, layer, parents (JSON list
                     of unit ids), dag_id, task_id, logical_date, action, airflow_run_id, state,
                     attempts, try_number, reason, started_at, finished_at, updated_at)
    backfill_audit  (seq PK, at, actor, plan_id, unit_id, action, request, response,
                     from_state, to_state, detail)          append-only
    quarantine      (dataset_id PK, reason, actor, since)
    api_tokens      (name PK, role, token_hash UNIQUE, created_at, created_by, revoked_at)
                    only a token's SHA-256 is kept (see ripple/identity.py)
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import sqlite3
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import UTC
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson

from ripple.errors import Conflict, NotFound, StoreUnavailable
from ripple.identity import Role, TokenRecord
from ripple.ingest.database import connect_sqlite
from ripple.remediation.planner import InvalidPlanRequest
from ripple.remediation.state import (
    TERMINAL_UNIT_STATES,
    AuditEntry,
    Clock,
    PlanStatus,
    QuarantineEntry,
    StoredPlan,
    Transition,
    UnitState,
    UnitStatus,
    canonical_json,
    utc_now,
)

S = TypeVar("S", bound=StrEnum)


class Tx(Protocol):
    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def many(self, sql: str, params: Sequence[Sequence[Any]]) -> None: ...


class Backend(Protocol):
    locks_rows: bool  # True where `SELECT … FOR UPDATE` locks rows (SQLite locks the database)

    def transaction(self) -> Any:  # an async context manager yielding a Tx
        ...


def schema(serial: str) -> list[str]:
    """The DDL, with `serial` the auto-increment primary key type of the database."""
    return [
        """CREATE TABLE IF NOT EXISTS backfill_plans (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            status TEXT NOT NULL,
            status_reason TEXT,
            updated_at TEXT NOT NULL,
            unit_count INTEGER NOT NULL,
            request TEXT NOT NULL,
            plan TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS backfill_units (
            plan_id TEXT NOT NULL REFERENCES backfill_plans (id),
            unit_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            layer INTEGER NOT NULL,
            parents TEXT NOT NULL,
            dag_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            logical_date TEXT NOT NULL,
            action TEXT NOT NULL,
            airflow_run_id TEXT,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            try_number INTEGER,
            reason TEXT,
            started_at TEXT,
            finished_at TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (plan_id, unit_id)
        )""",
        f"""CREATE TABLE IF NOT EXISTS backfill_audit (
            seq {serial},
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            plan_id TEXT,
            unit_id TEXT,
            action TEXT NOT NULL,
            request TEXT,
            response TEXT,
            from_state TEXT,
            to_state TEXT,
            detail TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS backfill_audit_plan ON backfill_audit (plan_id, seq)",
        """CREATE TABLE IF NOT EXISTS quarantine (
            dataset_id TEXT PRIMARY KEY,
            reason TEXT,
            actor TEXT NOT NULL,
            since TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS api_tokens (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            revoked_at TEXT
        )""",
    ]


_PLAN = (
    "SELECT id, created_at, created_by, content_hash, status, status_reason, updated_at, "
    "unit_count, request, plan FROM backfill_plans WHERE id = ?"
)
_PLANS = (
    "SELECT id, created_at, created_by, content_hash, status, status_reason, updated_at, "
    "unit_count, request, NULL FROM backfill_plans ORDER BY created_at DESC, id DESC LIMIT ?"
)
_INSERT_PLAN = (
    "INSERT INTO backfill_plans (id, created_at, created_by, content_hash, status, "
    "status_reason, updated_at, unit_count, request, plan) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_UNIT = (
    "INSERT INTO backfill_units (plan_id, unit_id, position, dag_id, task_id, logical_date, "
    "action, airflow_run_id, state, reason, updated_at, layer, parents) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UNITS = (
    "SELECT plan_id, unit_id, position, dag_id, task_id, logical_date, action, airflow_run_id, "
    "state, attempts, try_number, reason, started_at, finished_at, updated_at, layer, parents "
    "FROM backfill_units WHERE plan_id = ? ORDER BY position"
)
_UNIT = (
    "SELECT plan_id, unit_id, position, dag_id, task_id, logical_date, action, airflow_run_id, "
    "state, attempts, try_number, reason, started_at, finished_at, updated_at, layer, parents "
    "FROM backfill_units WHERE plan_id = ? AND unit_id = ?"
)
_UNIT_LOCKED = _UNIT + " FOR UPDATE"
_UPDATE_UNIT = (
    "UPDATE backfill_units SET state = ?, updated_at = ?, "
    "reason = COALESCE(?, reason), airflow_run_id = COALESCE(?, airflow_run_id), "
    "try_number = COALESCE(?, try_number), attempts = attempts + ?, "
    "started_at = CASE WHEN ? THEN ? ELSE started_at END, "
    "finished_at = CASE WHEN ? THEN ? ELSE finished_at END "
    "WHERE plan_id = ? AND unit_id = ?"
)
_STATUS = "SELECT status FROM backfill_plans WHERE id = ?"
_STATUS_LOCKED = _STATUS + " FOR UPDATE"
_UPDATE_STATUS = (
    "UPDATE backfill_plans SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?"
)
_INSERT_AUDIT = (
    "INSERT INTO backfill_audit (at, actor, plan_id, unit_id, action, request, response, "
    "from_state, to_state, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq"
)
_AUDIT = (
    "SELECT seq, at, actor, plan_id, unit_id, action, request, response, from_state, to_state, "
    "detail FROM backfill_audit WHERE plan_id = ? AND seq > ? ORDER BY seq"
)
_QUARANTINED = "SELECT dataset_id, reason, actor, since FROM quarantine WHERE dataset_id = ?"
_QUARANTINE = "INSERT INTO quarantine (dataset_id, reason, actor, since) VALUES (?, ?, ?, ?)"
_UNQUARANTINE = "DELETE FROM quarantine WHERE dataset_id = ? RETURNING dataset_id"
_KEYS = (
    "SELECT name, role, token_hash, created_at, created_by, revoked_at FROM api_tokens "
    "ORDER BY name"
)
_KEY_NAMED = "SELECT name FROM api_tokens WHERE name = ?"
_KEY_INSERT = (
    "INSERT INTO api_tokens (name, role, token_hash, created_at, created_by, revoked_at) "
    "VALUES (?, ?, ?, ?, ?, NULL)"
)
_KEY_REVOKE = (
    "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL RETURNING name"
)
_QUARANTINE_ALL = "SELECT dataset_id, reason, actor, since FROM quarantine ORDER BY dataset_id"


class SqlState:
    """RemediationState over any Backend (SQLite, PostgreSQL): the SQL is written once."""

    def __init__(self, backend: Backend, clock: Clock = utc_now) -> None:
        self._db = backend
        self._clock = clock

    def _stamp(self) -> str:
        return self._clock().astimezone(UTC).isoformat()

    async def create_plan(
        self, plan: dict[str, Any], request: dict[str, Any], actor: str
    ) -> StoredPlan:
        body = canonical_json(plan)
        digest = hashlib.sha256(body).hexdigest()
        plan_id = f"bf-{secrets.token_hex(6)}"
        now = self._stamp()
        units = plan.get("units", [])
        rows = []
        for position, unit in enumerate(units):
            state: UnitStatus
            if unit.get("held"):
                state, reason = UnitStatus.HELD, unit["held"]
            else:
                state = UnitStatus.PENDING if unit.get("parents") else UnitStatus.READY
                reason = None
            rows.append(
                (
                    plan_id,
                    unit["id"],
                    position,
                    unit["dagId"],
                    unit["taskId"],
                    unit["logicalDate"],
                    unit["action"],
                    unit.get("runId"),
                    state.value,
                    reason,
                    now,
                    unit.get("layer", 0),
                    canonical_json(unit.get("parents", [])).decode(),
                )
            )
        async with self._db.transaction() as tx:
            await tx.rows(
                _INSERT_PLAN,
                (
                    plan_id,
                    now,
                    actor,
                    digest,
                    PlanStatus.PLANNED.value,
                    None,
                    now,
                    len(units),
                    canonical_json(request).decode(),
                    body.decode(),
                ),
            )
            await tx.many(_INSERT_UNIT, rows)
            await self._audit(
                tx,
                actor,
                "plan.created",
                plan_id=plan_id,
                request=request,
                to_state=PlanStatus.PLANNED.value,
                detail=f"{len(units)} units, sha256 {digest}",
            )
        return StoredPlan(
            plan_id, now, actor, digest, PlanStatus.PLANNED, None, now, len(units), request, plan
        )

    async def get_plan(self, plan_id: str) -> StoredPlan:
        async with self._db.transaction() as tx:
            rows = await tx.rows(_PLAN, (plan_id,))
        if not rows:
            raise _no_plan(plan_id)
        return _plan(rows[0])

    async def list_plans(self, limit: int = 100) -> list[StoredPlan]:
        async with self._db.transaction() as tx:
            rows = await tx.rows(_PLANS, (limit,))
        return [_plan(row) for row in rows]

    async def units(self, plan_id: str) -> list[UnitState]:
        async with self._db.transaction() as tx:
            if not await tx.rows("SELECT 1 FROM backfill_plans WHERE id = ?", (plan_id,)):
                raise _no_plan(plan_id)
            rows = await tx.rows(_UNITS, (plan_id,))
        return [_unit(row) for row in rows]

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
        state = _checked(to, UnitStatus, "state")
        now = self._stamp()
        select = _UNIT_LOCKED if self._db.locks_rows else _UNIT
        async with self._db.transaction() as tx:
            rows = await tx.rows(select, (plan_id, unit_id))
            if not rows:
                raise NotFound(f"Unit {unit_id!r} of backfill plan {plan_id!r} not found")
            current = _unit(rows[0])
            if current.state not in expected:
                return Transition(False, current)
            await tx.rows(
                _UPDATE_UNIT,
                (
                    state.value,
                    now,
                    reason,
                    airflow_run_id,
                    try_number,
                    1 if new_attempt else 0,
                    state is UnitStatus.RUNNING,
                    now,
                    state in TERMINAL_UNIT_STATES,
                    now,
                    plan_id,
                    unit_id,
                ),
            )
            await self._audit(
                tx,
                actor,
                "unit.state",
                plan_id=plan_id,
                unit_id=unit_id,
                from_state=current.state.value,
                to_state=state.value,
                detail=detail or reason,
            )
            rows = await tx.rows(select, (plan_id, unit_id))
        return Transition(True, _unit(rows[0]))

    async def set_plan_status(
        self,
        plan_id: str,
        to: str,
        *,
        expected: Collection[str],
        actor: str,
        reason: str | None = None,
    ) -> bool:
        status = _checked(to, PlanStatus, "status")
        async with self._db.transaction() as tx:
            rows = await tx.rows(_STATUS_LOCKED if self._db.locks_rows else _STATUS, (plan_id,))
            if not rows:
                raise _no_plan(plan_id)
            if rows[0][0] not in expected:
                return False
            await tx.rows(_UPDATE_STATUS, (status.value, reason, self._stamp(), plan_id))
            await self._audit(
                tx,
                actor,
                "plan.status",
                plan_id=plan_id,
                from_state=rows[0][0],
                to_state=status.value,
                detail=reason,
            )
        return True

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
        async with self._db.transaction() as tx:
            return await self._audit(
                tx,
                actor,
                action,
                plan_id=plan_id,
                unit_id=unit_id,
                request=request,
                response=response,
                from_state=from_state,
                to_state=to_state,
                detail=detail,
            )

    async def _audit(
        self,
        tx: Tx,
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
        at = self._stamp()
        rows = await tx.rows(
            _INSERT_AUDIT,
            (
                at,
                actor,
                plan_id,
                unit_id,
                action,
                None if request is None else canonical_json(request).decode(),
                None if response is None else canonical_json(response).decode(),
                from_state,
                to_state,
                detail,
            ),
        )
        return AuditEntry(
            int(rows[0][0]),
            at,
            actor,
            plan_id,
            unit_id,
            action,
            request,
            response,
            from_state,
            to_state,
            detail,
        )

    async def audit_for(self, plan_id: str, after: int = 0) -> list[AuditEntry]:
        async with self._db.transaction() as tx:
            rows = await tx.rows(_AUDIT, (plan_id, after))
        return [_audit_entry(row) for row in rows]

    async def quarantine_add(
        self, dataset_id: str, actor: str, reason: str | None = None
    ) -> QuarantineEntry:
        async with self._db.transaction() as tx:
            rows = await tx.rows(_QUARANTINED, (dataset_id,))
            if rows:
                return QuarantineEntry(*rows[0])
            entry = QuarantineEntry(dataset_id, reason, actor, self._stamp())
            await tx.rows(_QUARANTINE, (entry.dataset_id, entry.reason, entry.actor, entry.since))
            await self._audit(
                tx,
                actor,
                "quarantine.add",
                to_state="quarantined",
                detail=_about(dataset_id, reason),
            )
        return entry

    async def quarantine_remove(self, dataset_id: str, actor: str) -> bool:
        async with self._db.transaction() as tx:
            rows = await tx.rows(_UNQUARANTINE, (dataset_id,))
            if rows:
                await self._audit(
                    tx,
                    actor,
                    "quarantine.remove",
                    from_state="quarantined",
                    detail=dataset_id,
                )
        return bool(rows)

    async def quarantined(self) -> list[QuarantineEntry]:
        async with self._db.transaction() as tx:
            rows = await tx.rows(_QUARANTINE_ALL)
        return [QuarantineEntry(*row) for row in rows]

    async def create_token(self, name: str, role: Role, digest: str, actor: str) -> TokenRecord:
        """Store a new token's hash; Conflict if the name is taken (revoked names stay taken,
        so the audit trail's actor names stay unambiguous)."""
        async with self._db.transaction() as tx:
            if await tx.rows(_KEY_NAMED, (name,)):
                raise Conflict(
                    f"A token named {name!r} exists already (names are never reused; "
                    "`ripple token list` shows them)"
                )
            record = TokenRecord(name, role, digest, self._stamp(), actor)
            await tx.rows(
                _KEY_INSERT, (name, role.value, digest, record.created_at, record.created_by)
            )
            await self._audit(tx, actor, "token.create", to_state=role.value, detail=name)
        return record

    async def tokens(self) -> list[TokenRecord]:
        async with self._db.transaction() as tx:
            rows = await tx.rows(_KEYS)
        return [TokenRecord(r[0], Role(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    async def revoke_token(self, name: str, actor: str) -> bool:
        """Revoke the token `name`; False if there is none (or it was revoked before)."""
        async with self._db.transaction() as tx:
            rows = await tx.rows(_KEY_REVOKE, (self._stamp(), name))
            if rows:
                await self._audit(tx, actor, "token.revoke", from_state="active", detail=name)
        return bool(rows)


def _about(dataset_id: str, reason: str | None) -> str:
    return dataset_id if reason is None else f"{dataset_id}: {reason}"


def _checked(value: str, kind: type[S], name: str) -> S:
    """`value` as a member of `kind`; InvalidPlanRequest naming the allowed ones otherwise."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidPlanRequest(name, f"{value!r} is not one of {allowed}") from None


def _no_plan(plan_id: str) -> NotFound:
    return NotFound(f"Backfill plan {plan_id!r} not found — `ripple backfill list` shows them")


def _plan(row: Sequence[Any]) -> StoredPlan:
    return StoredPlan(
        id=row[0],
        created_at=row[1],
        created_by=row[2],
        content_hash=row[3],
        status=PlanStatus(row[4]),
        status_reason=row[5],
        updated_at=row[6],
        unit_count=int(row[7]),
        request=orjson.loads(row[8]),
        plan=None if row[9] is None else orjson.loads(row[9]),
    )


def _unit(row: Sequence[Any]) -> UnitState:
    return UnitState(
        plan_id=row[0],
        unit_id=row[1],
        position=int(row[2]),
        dag_id=row[3],
        task_id=row[4],
        logical_date=row[5],
        action=row[6],
        airflow_run_id=row[7],
        state=UnitStatus(row[8]),
        attempts=int(row[9]),
        try_number=row[10],
        reason=row[11],
        started_at=row[12],
        finished_at=row[13],
        updated_at=row[14],
        layer=int(row[15]),
        parents=orjson.loads(row[16]),
    )


def _audit_entry(row: Sequence[Any]) -> AuditEntry:
    seq, at, actor, plan_id, unit_id, action, request, response, *rest = row
    return AuditEntry(
        int(seq),
        at,
        actor,
        plan_id,
        unit_id,
        action,
        None if request is None else orjson.loads(request),
        None if response is None else orjson.loads(response),
        *rest,
    )


class _SqliteTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, params).fetchall()

    async def many(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, params)


class SqliteBackend:
    """One connection to the event log's SQLite file (WAL), transactions one at a time; a
    transaction takes the write lock first (BEGIN IMMEDIATE), so compare-and-set holds across
    processes too."""

    locks_rows = False

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        try:
            db = connect_sqlite(self._path)
            db.execute("BEGIN IMMEDIATE")
            for statement in schema("INTEGER PRIMARY KEY AUTOINCREMENT"):
                db.execute(statement)
            db.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(
                f"Cannot open the backfill state in {self._path}: {exc} — check the data directory"
            ) from exc
        self._db = db

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_SqliteTx]:
        if self._db is None:
            raise StoreUnavailable("The backfill state is not open")
        db = self._db
        async with self._lock:
            try:
                await asyncio.to_thread(db.execute, "BEGIN IMMEDIATE")
                try:
                    yield _SqliteTx(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                await asyncio.to_thread(db.execute, "COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreUnavailable(f"Backfill state in {self._path}: {exc}") from exc


class SqliteRemediationState(SqlState):
    """The state in the event log's SQLite file (`:memory:` for tests)."""

    def __init__(self, path: Path | str, clock: Clock = utc_now) -> None:
        self._backend = SqliteBackend(path)
        super().__init__(self._backend, clock)

    async def open(self) -> None:
        await self._backend.open()

    async def close(self) -> None:
        await self._backend.close()
