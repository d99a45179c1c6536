"""What an orchestrator says about DAG runs and task instances, as plain values.

Apart from ripple/clients/airflow.py so that using them (the executor, its protocol, the tests'
fake) does not import apache-airflow-client, which takes about two seconds to import: every
`ripple` command would pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass

ENDED_RUN_STATES = frozenset({"success", "failed"})


@dataclass(frozen=True, slots=True)
class DagRun:
    """A DAG run as the executor sees it; `state` is Airflow's (queued, running, success,
    failed)."""

    dag_id: str
    run_id: str
    state: str | None

    @property
    def ended(self) -> bool:
        return self.state in ENDED_RUN_STATES


@dataclass(frozen=True, slots=True)
class TaskInstance:
    """A task instance in one DAG run. `state` None: not scheduled (yet, or since a clear);
    `try_number` counts the tries that started (0: never ran; a clear does not add one, the
    scheduler does when it starts the task again)."""

    dag_id: str
    run_id: str
    task_id: str
    state: str | None
    try_number: int
