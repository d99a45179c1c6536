"""Backfill order: impacted jobs in topological layers (pure; the same code for every store).

Job B depends on job A when A writes a dataset that B reads, or when A's Airflow task PRECEDES B's,
both within the impacted subgraph.
Layers are Kahn's algorithm over the strongly connected components, so a cycle never hides a job:
its members share one layer and are reported in `cycles`. `layer` and `kahn` are the one
topological layering in Ripple: the backfill planner (remediation/planner.py) layers its units
with them too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from ripple.graph.store import Closure, partial_fields
from ripple.heap import collector_paused
from ripple.model import EdgeKind, NodeKind


@dataclass(slots=True)
class Order:
    root: str
    layers: list[list[str]]
    cycles: list[list[str]]
    truncated: bool
    partial_reason: str | None = None  # the walk's time budget ran out (Closure.partial_reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "layers": self.layers,
            "cycles": self.cycles,
            "truncated": self.truncated,
            **partial_fields(self.partial_reason),
        }


N = TypeVar("N", bound=Hashable)

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
    return Order(closure.root, layers, cycles, closure.truncated, closure.partial_reason)


def layer(graph: dict[str, set[str]]) -> tuple[list[list[str]], list[list[str]]]:
    """Kahn layers of a directed graph given as node -> successors (a target need not be a key),
    each layer sorted; cycles condensed into one layer each and listed, sorted.

    An acyclic graph (the usual case) is layered directly; only a graph with a cycle pays for
    finding its strongly connected components, and both ways give the same layers."""
    waves, acyclic = kahn(graph)
    if acyclic:
        return [sorted(wave) for wave in waves], []
    components = strongly_connected(graph)
    component_of = {node: i for i, members in enumerate(components) for node in members}
    condensed: dict[int, set[int]] = {i: set() for i in range(len(components))}
    for node, targets in graph.items():
        a = component_of[node]
        for target in targets:
            if component_of[target] != a:
                condensed[a].add(component_of[target])
    layers = [sorted(node for i in wave for node in components[i]) for wave in kahn(condensed)[0]]
    cycles = [
        sorted(members)
        for members in components
        if len(members) > 1 or members[0] in graph.get(members[0], set())
    ]
    return layers, sorted(cycles)


def kahn(successors: Mapping[N, Collection[N]]) -> tuple[list[list[N]], bool]:
    """Kahn's waves: first every node without a predecessor, then every node whose predecessors
    are all placed, and so on (a target need not be a key). A node on or after a cycle is never
    placed; the flag says every node was, i.e. the graph is acyclic. Within a wave, nodes come in
    the order they were freed: callers that show a wave sort it."""
    indegree: dict[N, int] = dict.fromkeys(successors, 0)
    for targets in successors.values():
        for target in targets:
            indegree[target] = indegree.get(target, 0) + 1
    ready = [node for node, d in indegree.items() if d == 0]
    waves: list[list[N]] = []
    placed = 0
    while ready:
        waves.append(ready)
        placed += len(ready)
        nxt: list[N] = []
        for node in ready:
            for target in successors.get(node, ()):
                indegree[target] -= 1
                if indegree[target] == 0:
                    nxt.append(target)
        ready = nxt
    return waves, placed == len(indegree)


def is_acyclic(graph: Mapping[N, Collection[N]]) -> bool:
    """No cycle (self-loops included) among the nodes of node -> successors."""
    return kahn(graph)[1]


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
