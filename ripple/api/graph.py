"""The lineage questions over HTTP: impact, upstream, order, a node, and Marquez's lineage shapes.

GET /api/v1/impact?nodeId=…          what breaks if this breaks (downstream)
GET /api/v1/upstream?nodeId=…        where this came from
GET /api/v1/order?nodeId=…           the impacted jobs in the order to redo them
GET /api/v1/nodes?nodeId=…           one node
GET /api/v1/lineage?nodeId=…         Marquez's lineage graph shape
GET /api/v1/column-lineage?nodeId=…  Marquez's column-lineage shape

Each takes its node as `nodeId=` or as `namespace=` + `name=` (+ `field=`): api/noderef.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ripple.api import marquez
from ripple.api.auth import require
from ripple.api.deps import runtime
from ripple.api.noderef import NodeRefParam
from ripple.graph import queries
from ripple.graph.store import WalkOptions
from ripple.identity import Role

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
) -> dict[str, Any]:
    options = WalkOptions(depth, limit, columns, direct_only)
    return (await queries.impact(runtime(request).store, node, options)).as_dict()


@router.get("/api/v1/upstream")
async def get_upstream(
    request: Request,
    node: NodeRefParam,
    depth: Depth = 50,
    limit: Limit = 10_000,
    columns: bool = True,
) -> dict[str, Any]:
    options = WalkOptions(depth, limit, columns)
    return (await queries.upstream(runtime(request).store, node, options)).as_dict()


@router.get("/api/v1/order")
async def get_order(
    request: Request, node: NodeRefParam, depth: Depth = 50, limit: Limit = 100_000
) -> dict[str, Any]:
    options = WalkOptions(depth, limit)
    return (await queries.order(runtime(request).store, node, options)).as_dict()


@router.get("/api/v1/nodes")
async def get_node(request: Request, node: NodeRefParam) -> dict[str, Any]:
    record = await queries.node(runtime(request).store, node)
    return {
        "id": record.id,
        "kind": record.kind,
        "firstSeen": record.first_seen,
        "lastSeen": record.last_seen,
        "lastRun": record.last_run,
        "props": record.props,
    }


@router.get("/api/v1/lineage")
async def get_lineage(request: Request, node: NodeRefParam, depth: Depth = 20) -> dict[str, Any]:
    return await marquez.lineage(runtime(request).store, node, depth)


@router.get("/api/v1/column-lineage")
async def get_column_lineage(
    request: Request,
    node: NodeRefParam,
    depth: Depth = 20,
    with_downstream: Annotated[bool, Query(alias="withDownstream")] = False,
) -> dict[str, Any]:
    return await marquez.column_lineage(
        runtime(request).store, node, depth, with_downstream=with_downstream
    )
