"""The questions Ripple answers, over any GraphStore: blast radius, root cause, backfill order
and one node. The HTTP API and the CLI both call these (Marquez's response shapes are the API's:
ripple/api/marquez.py)."""

from __future__ import annotations

from dataclasses import replace

from ripple.errors import NotFound
from ripple.graph.order import Order, backfill_order
from ripple.graph.store import Closure, Direction, GraphStore, NodeRecord, WalkOptions
from ripple.model import canonical

MAX_DEPTH = 100


async def impact(store: GraphStore, node_id: str, options: WalkOptions) -> Closure:
    """Everything downstream of `node_id` (raises InvalidNodeId, NotFound); partial when
    `options.budget` runs out."""
    return await store.walk(canonical(node_id), Direction.DOWNSTREAM, options)


async def upstream(store: GraphStore, node_id: str, options: WalkOptions) -> Closure:
    """Everything `node_id` comes from, each node with its last run state."""
    return await store.walk(canonical(node_id), Direction.UPSTREAM, options)


async def order(store: GraphStore, node_id: str, options: WalkOptions) -> Order:
    """The impacted jobs in the order they must be redone (layers run in parallel)."""
    dataset_level = replace(options, columns=False, direct_only=False)
    return backfill_order(await store.walk(canonical(node_id), Direction.DOWNSTREAM, dataset_level))


async def node(store: GraphStore, node_id: str) -> NodeRecord:
    node_id = canonical(node_id)
    found = (await store.nodes([node_id])).get(node_id)
    if found is None:
        raise NotFound(f"Node {node_id!r} not found — was it ingested under another namespace?")
    return found
