"""networkx doing Ripple's jobs on the same graph: the yardstick every figure is printed beside.

The graph is built straight from the decoded events with the node ids and edge directions of
Ripple's model (DESIGN.md): Dataset -READ_BY-> Job -WRITES-> Dataset, Dataset -HAS_COLUMN->
Column, Column -DERIVES-> Column, Run -RUN_OF-> Job, Run -READ/PRODUCED-> Dataset. A DiGraph keeps
one edge per node pair, so a column pair that is both DIRECT and INDIRECT is one edge here and two
in Ripple; the report prints both edge counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx

Node = tuple[str, dict[str, str]]
EdgeTuple = tuple[str, str, dict[str, str]]


def add_events(graph: nx.DiGraph[str], events: Iterable[dict[str, Any]]) -> None:
    """Add the nodes and edges of decoded OpenLineage RunEvents to `graph`."""
    nodes: list[Node] = []
    edges: list[EdgeTuple] = []
    for event in events:
        _collect(event, nodes, edges)
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)


def _collect(event: dict[str, Any], nodes: list[Node], edges: list[EdgeTuple]) -> None:
    job = f"job:{event['job']['namespace']}:{event['job']['name']}"
    run = f"run:{event['run']['runId']}"
    nodes.append((job, {"kind": "job"}))
    nodes.append((run, {"kind": "run"}))
    edges.append((run, job, {"kind": "RUN_OF"}))
    for ref in event.get("inputs") or []:
        ds = _dataset(ref, nodes, edges)
        edges.append((ds, job, {"kind": "READ_BY"}))
        edges.append((run, ds, {"kind": "READ"}))
    for ref in event.get("outputs") or []:
        ds = _dataset(ref, nodes, edges)
        edges.append((job, ds, {"kind": "WRITES"}))
        edges.append((run, ds, {"kind": "PRODUCED"}))
        lineage = (ref.get("facets") or {}).get("columnLineage")
        if lineage:
            _lineage(ref, lineage, nodes, edges)


def _dataset(ref: dict[str, Any], nodes: list[Node], edges: list[EdgeTuple]) -> str:
    ds = f"dataset:{ref['namespace']}:{ref['name']}"
    nodes.append((ds, {"kind": "dataset"}))
    schema = (ref.get("facets") or {}).get("schema") or {}
    prefix = f"datasetField:{ref['namespace']}:{ref['name']}:"
    for field in schema.get("fields") or []:
        column = prefix + field["name"]
        nodes.append((column, {"kind": "datasetField"}))
        edges.append((ds, column, {"kind": "HAS_COLUMN"}))
    return ds


def _lineage(
    ref: dict[str, Any], lineage: dict[str, Any], nodes: list[Node], edges: list[EdgeTuple]
) -> None:
    prefix = f"datasetField:{ref['namespace']}:{ref['name']}:"
    targets = [prefix + name for name in lineage["fields"]]
    for target, (_, spec) in zip(targets, lineage["fields"].items(), strict=True):
        for item in spec["inputFields"]:
            source = f"datasetField:{item['namespace']}:{item['name']}:{item['field']}"
            for transformation in item.get("transformations") or [{"type": "DIRECT"}]:
                edges.append((source, target, {"kind": "DERIVES", "type": transformation["type"]}))
    for item in lineage.get("dataset") or []:
        source = f"datasetField:{item['namespace']}:{item['name']}:{item['field']}"
        for target in targets:
            edges.append((source, target, {"kind": "DERIVES", "type": "INDIRECT"}))


def lineage_only(graph: nx.DiGraph[str]) -> nx.DiGraph[str]:
    """The dataset/job graph (READ_BY and WRITES edges only): walks without columns."""
    small: nx.DiGraph[str] = nx.DiGraph()
    for u, v, data in graph.edges(data=True):
        if data.get("kind") in ("READ_BY", "WRITES"):
            small.add_edge(u, v)
    return small


def blast_radius(graph: nx.DiGraph[str], root: str, depth: int) -> dict[str, list[str]]:
    """Every node downstream of `root` within `depth` hops, with one shortest path each."""
    return nx.single_source_shortest_path(graph, root, cutoff=depth)


def backfill_layers(graph: nx.DiGraph[str], closure: Iterable[str]) -> list[list[str]]:
    """A closure's jobs in topological generations: B after A when A writes what B reads."""
    members = set(closure)
    jobs = [n for n in members if n.startswith("job:")]
    order: nx.DiGraph[str] = nx.DiGraph()
    order.add_nodes_from(jobs)
    for job in jobs:
        for dataset in graph.successors(job):
            if dataset not in members:
                continue
            for reader in graph.successors(dataset):
                if reader in members and reader.startswith("job:"):
                    order.add_edge(job, reader)
    return [sorted(generation) for generation in nx.topological_generations(order)]
