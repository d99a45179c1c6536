"""Airflow DAG records: what one sync learned about one DAG, projected into the graph (pure).

A record holds one DAG as Airflow's REST API describes it — its settings, its tasks and their
dependencies, the asset-producing tasks it is scheduled on, and the runs and task-instance states
that changed since the previous sync. It projects onto the model of DESIGN.md:

    (:AirflowDag)-[:CONTAINS]->(:AirflowTask)-[:IMPLEMENTS]->(:Job)
    (:AirflowTask)-[:PRECEDES]->(:AirflowTask)

The job a task implements is the one Airflow's OpenLineage provider names `<dag_id>.<task_id>`
in the deployment's namespace; it is created here when no event has named it yet, so a task that
touches no dataset is still in the graph and in every blast radius that reaches it. Assets link
DAGs: a task that updates an asset PRECEDES the first tasks of each DAG scheduled on that asset,
and every task that declares the asset as an inlet.
"""

from __future__ import annotations

from typing import Any

from ripple.graph.delta import EdgeUpsert, GraphDelta, NodeUpsert
from ripple.ingest.records import Projector
from ripple.model import DagKey, EdgeKind, JobKey, NodeKind, TaskKey

KIND = "airflow.dag"
RECENT_RUNS = 10  # kept on the DAG node, newest first


def project_dag(doc: dict[str, Any]) -> GraphDelta:
    namespace: str = doc["namespace"]
    dag: dict[str, Any] = doc["dag"]
    dag_id: str = dag["dag_id"]
    dag_node = DagKey(namespace, dag_id).node_id
    delta = GraphDelta(f"{doc['time']}|0", None)
    dag_props: dict[str, Any] = {
        "namespace": namespace,
        "dag_id": dag_id,
        "description": dag.get("description"),
        "schedule": dag.get("schedule"),
        "owners": list(dag.get("owners") or []),
        "tags": sorted(dag.get("tags") or []),
        "paused": bool(dag.get("is_paused")),
        "fileloc": dag.get("fileloc"),
    }
    runs = sorted(doc.get("runs") or [], key=_run_order, reverse=True)
    if runs:
        latest = runs[0]
        dag_props.update(
            last_run_id=latest["run_id"],
            last_run_state=latest.get("state"),
            last_logical_date=latest.get("logical_date"),
            recent_runs=[_run_summary(run) for run in runs[:RECENT_RUNS]],
        )
    delta.nodes.append(NodeUpsert(dag_node, NodeKind.DAG, dag_props))

    latest_states = _latest_task_states(doc.get("task_states") or [], runs)
    tasks: list[dict[str, Any]] | None = doc.get("tasks")
    if tasks is None:  # the DAG's structure is unchanged: only settings and states move
        for name, latest_state in latest_states.items():
            node = TaskKey(namespace, dag_id, name).node_id
            delta.nodes.append(NodeUpsert(node, NodeKind.TASK, _state_props(latest_state)))
        return delta
    has_upstream = {down for task in tasks for down in task.get("downstream") or []}
    inlet_producers = {
        inlet["task_id"]: inlet["producers"] for inlet in doc.get("asset_inlets") or []
    }
    for task in tasks:
        task_id: str = task["task_id"]
        task_node = TaskKey(namespace, dag_id, task_id).node_id
        job = JobKey(namespace, f"{dag_id}.{task_id}")
        props: dict[str, Any] = {
            "namespace": namespace,
            "dag_id": dag_id,
            "task_id": task_id,
            "operator": task.get("operator"),
            "retries": task.get("retries"),
        }
        state = latest_states.get(task_id)
        if state is not None:
            props.update(_state_props(state))
        delta.nodes.append(NodeUpsert(task_node, NodeKind.TASK, props))
        job_props = {"namespace": namespace, "name": job.name}
        delta.nodes.append(NodeUpsert(job.node_id, NodeKind.JOB, job_props))
        delta.edges.append(EdgeUpsert(dag_node, EdgeKind.CONTAINS, task_node))
        delta.edges.append(EdgeUpsert(task_node, EdgeKind.IMPLEMENTS, job.node_id))
        for downstream in task.get("downstream") or []:
            target = TaskKey(namespace, dag_id, downstream).node_id
            delta.edges.append(EdgeUpsert(task_node, EdgeKind.PRECEDES, target))
        for producer in inlet_producers.get(task_id, ()):
            source = TaskKey(namespace, producer["dag_id"], producer["task_id"]).node_id
            delta.edges.append(EdgeUpsert(source, EdgeKind.PRECEDES, task_node))
        if task_id not in has_upstream:  # a first task: what the DAG's assets feed into
            for producer in doc.get("asset_upstream") or []:
                source = TaskKey(namespace, producer["dag_id"], producer["task_id"]).node_id
                delta.edges.append(EdgeUpsert(source, EdgeKind.PRECEDES, task_node))
    return delta


def _state_props(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "last_run_id": state["run_id"],
        "last_state": state.get("state"),
        "last_try_number": state.get("try_number"),
    }


def _run_order(run: dict[str, Any]) -> tuple[str, str]:
    return (run.get("logical_date") or run.get("run_after") or "", run["run_id"])


def _run_summary(run: dict[str, Any]) -> dict[str, Any]:
    keys = ("run_id", "logical_date", "state", "run_type", "start", "end")
    return {key: run.get(key) for key in keys}


def _latest_task_states(
    states: list[dict[str, Any]], runs: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Each task's state in the newest run the record knows (by run order, then try number)."""
    rank = {run["run_id"]: i for i, run in enumerate(reversed(runs))}
    latest: dict[str, dict[str, Any]] = {}
    for state in states:
        key = (rank.get(state["run_id"], -1), state.get("try_number") or 0)
        seen = latest.get(state["task_id"])
        if seen is None or key >= (rank.get(seen["run_id"], -1), seen.get("try_number") or 0):
            latest[state["task_id"]] = state
    return latest


PROJECTORS: dict[str, Projector] = {KIND: project_dag}
