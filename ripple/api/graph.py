"""The lineage questions over HTTP: impact, upstream, order, a node, and Marquez's lineage shapes.

GET /api/v1/impact?nodeId=…          what breaks if this breaks (downstream)
GET /api/v1/upstream?nodeId=…        where this came from
GET /api/v1/order?nodeId=…           the impacted jobs in the order to redo them
GET /api/v1/nodes?nodeId=…           one node
GET /api/v1/lineage?nodeId=…         Marquez's lineage graph shape
GET /api/v1/column-lineage?nodeId=…  Marquez's column-lineage shape

Each question runs within the `query_budget` setting; an answer cut by it says `"partial": true`
and why. Walks and the encoding of their (possibly large) answers run off the event loop.

Each takes its node as `nodeId=` or as `namespace=` + `name=` (+ `field=`): api/noderef.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from ripple.api import marquez
from ripple.api.auth import require
from ripple.api.body import JSONBytes
from ripple.api.deps import runtime, settings
from ripple.api.noderef import NodeRefParam
from ripple.graph import queries
from ripple.graph.budget import Budget
from ripple.graph.store import WalkOptions
from ripple.identity import Role
from ripple.model import parse_node_id

router = APIRouter(dependencies=[Depends(require(Role.READ))])

Depth = Annotated[int, Query(ge=1, le=queries.MAX_DEPTH)]
Limit = Annotated[int, Query(ge=1, le=1_000_000)]


@router.get("/api/v1/impact")
async def get_impact(
    request: Request,
    node: NodeRefParam,
    depth: Depth = 50,
    limit: Limit = 10_000,
    columns: bool = True,
    direct_only: Annotated[bool, Query(alias="directOnly")] = False,
) -> Response:
    options = WalkOptions(depth, limit, columns, direct_only, _budget(request))
    return await _encoded((await queries.impact(runtime(request).store, node, options)).as_dict)


@router.get("/api/v1/upstream")
async def get_upstream(
    request: Request,
    node: NodeRefParam,
    depth: Depth = 50,
    limit: Limit = 10_000,
    columns: bool = True,
) -> Response:
    options = WalkOptions(depth, limit, columns, budget=_budget(request))
    closure = await queries.upstream(runtime(request).store, node, options)
    return await _encoded(closure.as_dict)


@router.get("/api/v1/order")
async def get_order(
    request: Request, node: NodeRefParam, depth: Depth = 50, limit: Limit = 100_000
) -> Response:
    options = WalkOptions(depth, limit, budget=_budget(request))
    return await _encoded((await queries.order(runtime(request).store, node, options)).as_dict)


@router.get("/api/v1/nodes")
async def get_node(request: Request, node: NodeRefParam) -> dict[str, Any]:
    store = runtime(request).store
    record = await queries.node(store, node)
    canonical, aliases = await queries.names(store, parse_node_id(record.id))
    return {
        "id": record.id,
        "kind": record.kind,
        "canonical": canonical,
        "aliases": aliases,
        "firstSeen": record.first_seen,
        "lastSeen": record.last_seen,
        "lastRun": record.last_run,
        "props": record.props,
    }


@router.get("/api/v1/lineage")
async def get_lineage(request: Request, node: NodeRefParam, depth: Depth = 20) -> Response:
    answer = await marquez.lineage(runtime(request).store, node, depth, _budget(request))
    return await _encoded(lambda: answer)


@router.get("/api/v1/column-lineage")
async def get_column_lineage(
    request: Request,
    node: NodeRefParam,
    depth: Depth = 20,
    with_downstream: Annotated[bool, Query(alias="withDownstream")] = False,
) -> Response:
    answer = await marquez.column_lineage(
        runtime(request).store,
        node,
        depth,
        with_downstream=with_downstream,
        budget=_budget(request),
    )
    return await _encoded(lambda: answer)


def _budget(request: Request) -> Budget:
    return Budget.start(settings(request).query_budget)


async def _encoded(answer: Callable[[], dict[str, Any]]) -> Response:
    """The answer built and encoded in a worker thread: a 50,000-node answer is tens of
    megabytes of JSON, and the event loop keeps acknowledging other requests meanwhile."""
    return await asyncio.to_thread(lambda: JSONBytes(answer()))
