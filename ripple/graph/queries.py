"""The questions Ripple answers, over any GraphStore: blast radius, root cause, backfill order
and one node. The HTTP API and the CLI both call these (Marquez's response shapes are the API's:
ripple/api/marquez.py).

Each takes the node it asks about as text (a node id, or a Marquez id — see `resolve`) or as a
key (`DatasetKey(namespace, name)` …), which names exactly one node."""

from __future__ import annotations

from dataclasses import replace

from ripple.errors import AmbiguousNodeId, NotFound
from ripple.graph.aliases import GONE, lifecycle_state
from ripple.graph.order import Order, backfill_order
from ripple.graph.store import Closure, Direction, GraphStore, NodeRecord, WalkOptions
from ripple.model import DatasetKey, FieldKey, JobKey, NodeKey, NodeKind, readings

MAX_DEPTH = 100

NodeRef = str | NodeKey  # a textual id, or the key of one node


async def resolve(store: GraphStore, ref: NodeRef) -> str:
    """The id of the one node `ref` names.

    A key names its node. A text names the node whose id or Marquez id it is (`dataset:team:b:c`
    is the Marquez id of both (`team:b`, `c`) and (`team`, `b:c`)): raises AmbiguousNodeId
    listing them when the graph holds more than one, InvalidNodeId when it names nothing. An
    unknown node is left for the question to report (NotFound)."""
    if not isinstance(ref, str):
        return ref.node_id
    keys = readings(ref)
    if len(keys) == 1:
        return keys[0].node_id
    found = await store.nodes([key.node_id for key in keys])
    present = [key for key in keys if key.node_id in found]
    if len(present) > 1:
        candidates = [structured(key) for key in present]
        raise AmbiguousNodeId(
            f"Node id {ref!r} names {len(present)} nodes: "
            + "; ".join(", ".join(f"{k}={v!r}" for k, v in c.items()) for c in candidates)
            + " — ask for one by its 'id' (nodeId=), or by namespace= and name= "
            "(and field= for a column)",
            candidates,
        )
    return (present or keys)[0].node_id


def structured(key: NodeKey) -> dict[str, str]:
    """A key as the parameters that name it: id, namespace, name (and field, for a column)."""
    if isinstance(key, FieldKey):
        ds = key.dataset
        return {"id": key.node_id, "namespace": ds.namespace, "name": ds.name, "field": key.field}
    if isinstance(key, (DatasetKey, JobKey)):
        return {"id": key.node_id, "namespace": key.namespace, "name": key.name}
    return {"id": key.node_id}


async def impact(store: GraphStore, ref: NodeRef, options: WalkOptions) -> Closure:
    """Everything downstream of `ref` (raises InvalidNodeId, AmbiguousNodeId, NotFound);
    partial when `options.budget` runs out. Each alias group is one node (graph/aliases.py),
    and a dataset whose latest lifecycle event dropped or truncated it says so."""
    closure = await store.walk(await resolve(store, ref), Direction.DOWNSTREAM, options)
    return await _with_lifecycle(store, closure)


async def upstream(store: GraphStore, ref: NodeRef, options: WalkOptions) -> Closure:
    """Everything `ref` comes from, each node with its last run state."""
    closure = await store.walk(await resolve(store, ref), Direction.UPSTREAM, options)
    return await _with_lifecycle(store, closure)


async def _with_lifecycle(store: GraphStore, closure: Closure) -> Closure:
    """Mark the impacted datasets whose latest lifecycle state is DROP or TRUNCATE (the
    lifecycleStateChange facet of any of their names)."""
    datasets = [n for n in closure.nodes if n.kind == NodeKind.DATASET.value]
    if not datasets:
        return closure
    records = await store.nodes([i for n in datasets for i in (n.id, *n.aliases)])
    for n in datasets:
        for node_id in (n.id, *n.aliases):
            record = records.get(node_id)
            state = None if record is None else lifecycle_state(record.props)
            if state in GONE:
                n.lifecycle = state
                break
    return closure


async def order(store: GraphStore, ref: NodeRef, options: WalkOptions) -> Order:
    """The impacted jobs in the order they must be redone (layers run in parallel)."""
    dataset_level = replace(options, columns=False, direct_only=False)
    root = await resolve(store, ref)
    return backfill_order(await store.walk(root, Direction.DOWNSTREAM, dataset_level))


async def names(store: GraphStore, ref: NodeRef) -> tuple[str, list[str]]:
    """The canonical id of the node `ref` names, and its other names (graph/aliases.py); a
    node with no aliases is its own canonical id. Raises NotFound for an unknown node."""
    closure = await store.walk(
        await resolve(store, ref), Direction.DOWNSTREAM, WalkOptions(0, 0, columns=False)
    )
    return closure.root, closure.aliases


async def node(store: GraphStore, ref: NodeRef) -> NodeRecord:
    node_id = await resolve(store, ref)
    found = (await store.nodes([node_id])).get(node_id)
    if found is None:
        raise NotFound(f"Node {node_id!r} not found — was it ingested under another namespace?")
    return found
