"""The executor's seam: the handful of questions and orders the backfill executor gives the
orchestrator that runs the tasks (Airflow), in plain values. ripple/clients/airflow.py's
`AirflowOrchestrator` is the real one; tests/fakes/airflow.py's `FakeAirflow` is an in-memory
one, and tests/contract/test_orchestrator_contract.py holds both to the same answers.

Errors are Ripple's: `SourceUnavailable` when the orchestrator did not answer (after the
implementation's own bounded retries), `SourceRefused` (with `.status`) when it answered no.
The two answers that are not errors for the executor are values instead: a task instance or
DAG run that does not exist is None (`task_instance`, `run_at`), and triggering a run that
exists already (HTTP 409: an earlier attempt of ours landed) is None (`trigger_run`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from ripple.clients.runs import DagRun, TaskInstance

__all__ = ["DagRun", "Orchestrator", "TaskInstance"]


class Orchestrator(Protocol):
    """Airflow as the executor drives it. Every method is one request; none retries a refusal."""

    @property
    def url(self) -> str:
        """Where it is: names the circuit breaker and appears in messages."""
        ...

    async def run_at(self, dag_id: str, logical_date: datetime) -> str | None:
        """The id of the DAG's run at exactly `logical_date`, or None when there is none."""
        ...

    async def dag_run(self, dag_id: str, run_id: str) -> DagRun:
        """One DAG run (SourceRefused 404 when it does not exist); `.ended` once it finished."""
        ...

    async def task_instance(self, dag_id: str, run_id: str, task_id: str) -> TaskInstance | None:
        """The task instance's state and try number; None when the run or the task instance does
        not exist (yet: the scheduler creates a triggered run's task instances)."""
        ...

    async def clear_task(self, dag_id: str, run_id: str, task_id: str) -> list[TaskInstance]:
        """Clear this one task instance so the scheduler runs it again: whatever its state
        (`only_failed=false`), without its upstream or downstream (the plan holds those), and
        the DAG run reset to queued (`reset_dag_runs=true`). Returns the task instances
        cleared. The try number goes up when the task starts, not here. SourceRefused 404 when
        the run does not exist."""
        ...

    async def trigger_run(
        self, dag_id: str, run_id: str, logical_date: datetime, conf: dict[str, Any]
    ) -> DagRun | None:
        """Create the DAG run `run_id` at `logical_date` with `conf`; the new run, or None when
        the run exists already (409) — idempotent, so a retried trigger is safe. SourceRefused
        404 for an unknown DAG."""
        ...
