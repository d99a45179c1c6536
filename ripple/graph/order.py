"""Backfill order: impacted jobs in topological layers (pure; the same code for every store).

Job B depends on job A when A writes a dataset that B reads, or when A's Airflow task PRECEDES B's,
both within the impacted subgraph.
Layers are Kahn's algorithm over the strongly connected components, so a cycle never hides a job:
its members share one layer and are reported in `cycles`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ripple.graph.store import Closure
from ripple.heap import collector_paused
from ripple.model import EdgeKind, NodeKind


@dataclass(slots=True)
class Order:
    root: str
    layers: list[list[str]]
    cycles: list[list[str]]
    truncated: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "layers": self.layers,
            "cycles": self.cycles,
            "truncated": self.truncated,
        }


_JOB, _WRITES, _READ_BY = NodeKind.JOB.value, EdgeKind.WRITES.value, EdgeKind.READ_BY.value
_IMPLEMENTS, _PRECEDES = EdgeKind.IMPLEMENTS.value, EdgeKind.PRECEDES.value


def backfill_order(closure: Closure) -> Order:
    """Layer the jobs of a downstream closure; a job root is part of its own backfill."""
    with collector_paused():
        jobs = {n.id for n in closure.nodes if n.kind == _JOB}
        if closure.root_kind == _JOB:
            jobs.add(closure.root)
        writers: dict[str, set[str]] = defaultdict(set)
        readers: dict[str, set[str]] = defaultdict(set)
        job_of: dict[str, str] = {}  # Airflow task -> the job it implements
        precedes: list[tuple[str, str]] = []
        for edges in (closure.edges, closure.extra_writers):
            for src, dst, kind, _ in edges:
                if kind == _WRITES:
                    writers[dst].add(src)
                elif kind == _READ_BY:
                    readers[src].add(dst)
                elif kind == _IMPLEMENTS:
                    job_of[src] = dst
                elif kind == _PRECEDES:
                    precedes.append((src, dst))
        for edge in closure.extra_writers:
            jobs.add(edge.src)
        graph: dict[str, set[str]] = {job: set() for job in jobs}
        for dataset, producers in writers.items():
            for producer in producers & jobs:
                graph[producer].update(readers.get(dataset, set()) & jobs)
        for before, after in precedes:  # Airflow's own task dependencies order jobs too
            a, b = job_of.get(before), job_of.get(after)
            if a in graph and b in graph and a != b:
                graph[a].add(b)
        layers, cycles = layer(graph)
    return Order(closure.root, layers, cycles, closure.truncated)


def layer(graph: dict[str, set[str]]) -> tuple[list[list[str]], list[list[str]]]:
    """Kahn layers of a directed graph given as node -> successors; cycles condensed and listed."""
    components = strongly_connected(graph)
    component_of = {node: i for i, members in enumerate(components) for node in members}
    successors: list[set[int]] = [set() for _ in components]
    indegree = [0] * len(components)
    for node, targets in graph.items():
        a = component_of[node]
        for target in targets:
            b = component_of[target]
            if a != b and b not in successors[a]:
                successors[a].add(b)
                indegree[b] += 1
    ready = [i for i, d in enumerate(indegree) if d == 0]
    layers: list[list[str]] = []
    while ready:
        layers.append(sorted(node for i in ready for node in components[i]))
        nxt = []
        for i in ready:
            for j in successors[i]:
                indegree[j] -= 1
                if indegree[j] == 0:
                    nxt.append(j)
        ready = nxt
    cycles = [
        sorted(members)
        for members in components
        if len(members) > 1 or members[0] in graph.get(members[0], set())
    ]
    return layers, sorted(cycles)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (lineage depth would overflow Python's recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                components.append(members)
    return components
