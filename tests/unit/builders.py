"""Small builders for OpenLineage event documents (plain dicts, as a producer would post them)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from ripple.graph.memory import MemoryGraph
from ripple.ingest.event import parse_event
from ripple.ingest.projection import project

JOB_NS = "jobs"
DS_NS = "db"
TIME = "2026-03-01T10:00:00Z"
PRODUCER = "https://example.com/producer"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def run_id(seed: str) -> str:
    """A stable run UUID named by `seed`."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


def field_ref(
    name: str,
    field: str,
    kind: str = "DIRECT",
    subtype: str | None = None,
    *,
    namespace: str = DS_NS,
    masking: bool | None = None,
) -> dict[str, Any]:
    """One `inputFields[]` / `dataset[]` entry of a columnLineage facet (spec 1-2-0)."""
    transformation: dict[str, Any] = {"type": kind}
    if subtype is not None:
        transformation["subtype"] = subtype
    if masking is not None:
        transformation["masking"] = masking
    return {
        "namespace": namespace,
        "name": name,
        "field": field,
        "transformations": [transformation],
    }


def column_lineage(
    fields: dict[str, list[dict[str, Any]]], dataset: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    facet: dict[str, Any] = {
        "fields": {out: {"inputFields": inputs} for out, inputs in fields.items()}
    }
    if dataset is not None:
        facet["dataset"] = dataset
    return facet


def dataset(
    name: str,
    columns: Iterable[str] = (),
    *,
    namespace: str = DS_NS,
    lineage: dict[str, Any] | None = None,
    facets: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An input or output dataset; `columns` become a schema facet, `lineage` a columnLineage."""
    all_facets = dict(facets or {})
    columns = list(columns)
    if columns:
        all_facets["schema"] = {"fields": [{"name": c, "type": "TEXT"} for c in columns]}
    if lineage is not None:
        all_facets["columnLineage"] = lineage
    doc: dict[str, Any] = {"namespace": namespace, "name": name, **extra}
    if all_facets:
        doc["facets"] = all_facets
    return doc


def run_event(
    job: str,
    inputs: Iterable[dict[str, Any] | str] = (),
    outputs: Iterable[dict[str, Any] | str] = (),
    *,
    run: str | None = None,
    event_type: str | None = "COMPLETE",
    time: str = TIME,
    job_namespace: str = JOB_NS,
    run_facets: dict[str, Any] | None = None,
    job_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A RunEvent; plain strings in `inputs`/`outputs` are dataset names without facets."""
    doc: dict[str, Any] = {
        "eventTime": time,
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run or run_id(f"{job}/{time}")},
        "job": {"namespace": job_namespace, "name": job},
        "inputs": [dataset(i) if isinstance(i, str) else i for i in inputs],
        "outputs": [dataset(o) if isinstance(o, str) else o for o in outputs],
    }
    if event_type is not None:
        doc["eventType"] = event_type
    if run_facets is not None:
        doc["run"]["facets"] = run_facets
    if job_facets is not None:
        doc["job"]["facets"] = job_facets
    return doc


def airflow_facet(dag: str, task: str, logical_date: str) -> dict[str, Any]:
    """The run facets of an Airflow task's run: its DAG, task and scheduled DAG run."""
    return {
        "airflow": {
            "dag": {"dag_id": dag},
            "task": {"task_id": task},
            "dagRun": {"dag_id": dag, "logical_date": logical_date, "run_id": f"scheduled__{dag}"},
        }
    }


def parent_facet(parent_run: str, job: str, *, namespace: str = JOB_NS) -> dict[str, Any]:
    return {
        "run": {"runId": parent_run},
        "job": {"namespace": namespace, "name": job},
    }


def ds(name: str, *, namespace: str = DS_NS) -> str:
    return f"dataset:{namespace}:{name}"


def job(name: str, *, namespace: str = JOB_NS) -> str:
    return f"job:{namespace}:{name}"


def col(name: str, field: str, *, namespace: str = DS_NS) -> str:
    return f"datasetField:{namespace}:{name}:{field}"


def graph_of(*docs: dict[str, Any]) -> MemoryGraph:
    """A MemoryGraph holding the projection of every event document, in order."""
    graph = MemoryGraph()
    for doc in docs:
        graph.apply(project(parse_event(doc)))
    return graph
