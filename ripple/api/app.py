"""The FastAPI application factory and its routes (thin: validate, call one function, map)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

from ripple import __version__
from ripple.api import backfills, browser, errors, marquez
from ripple.api.body import JSONBytes, read_body, split_many
from ripple.config import Settings
from ripple.errors import InvalidEvent, MalformedInput
from ripple.graph import queries
from ripple.graph.store import WalkOptions
from ripple.ingest.pipeline import Outcome, Prepared, read_event
from ripple.runtime import Runtime, open_runtime

NodeIdParam = Annotated[str, Query(alias="nodeId", min_length=1, description="Marquez node id")]
Depth = Annotated[int, Query(ge=1, le=queries.MAX_DEPTH)]
Limit = Annotated[int, Query(ge=1, le=1_000_000)]


def create_app(
    settings: Settings | None = None,
    *,
    in_memory: bool = False,
    on_ready: Callable[[float], None] | None = None,
) -> FastAPI:
    """An app over the embedded store in `settings.data_dir`, or purely in memory (tests).

    `on_ready(seconds)` is called once the graph is open and caught up with the log, with the
    seconds that took (a large embedded graph takes seconds to load from its snapshot)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = time.perf_counter()
        runtime = await open_runtime(settings, in_memory=in_memory)
        if on_ready is not None:
            on_ready(time.perf_counter() - started)
        await runtime.start(follow=not in_memory)
        app.state.runtime = runtime
        try:
            yield
        finally:
            await runtime.close()

    app = FastAPI(
        title="Ripple",
        version=__version__,
        lifespan=lifespan,
        default_response_class=JSONBytes,
    )
    errors.install(app)
    app.include_router(backfills.router)  # backfill plans and quarantine
    limit = settings.max_body_bytes

    def runtime(request: Request) -> Runtime:
        value: Runtime = request.app.state.runtime
        return value

    @app.get("/api/v1/health")
    async def health(request: Request) -> dict[str, Any]:
        rt = runtime(request)
        return {
            "status": "ok",
            "version": __version__,
            "projected": await rt.store.projected_through(),
            "airflowSync": rt.airflow_sync.status() if rt.airflow_sync else {"enabled": False},
        }

    @app.post("/api/v1/lineage", status_code=201)
    async def post_lineage(request: Request) -> Response:
        body = await read_body(request, limit)
        ingestor = runtime(request).ingestor
        delta = read_event(body, ingestor.memo)  # 400 / 422 before anything else
        committer = runtime(request).committer
        assert committer is not None  # started with the app
        outcome = await committer.submit(Prepared(body, delta))
        if outcome.error is not None:
            raise outcome.error
        return Response(status_code=201)

    @app.post("/api/v1/lineage/batch")
    async def post_batch(request: Request) -> dict[str, Any]:
        items = split_many(await read_body(request, limit))
        ingestor = runtime(request).ingestor
        valid = [(i, body) for i, body in enumerate(items) if not isinstance(body, MalformedInput)]
        outcomes = await ingestor.ingest_bodies([body for _, body in valid])
        results: list[dict[str, Any]] = [{} for _ in items]
        for (i, _), outcome in zip(valid, outcomes, strict=True):
            results[i] = outcome.as_dict(i)
        for i, item in enumerate(items):
            if isinstance(item, MalformedInput):
                rejected = Outcome(error=InvalidEvent("$", None, str(item)))
                results[i] = rejected.as_dict(i)
        accepted = sum(1 for r in results if r["status"] == "accepted")
        return {"accepted": accepted, "rejected": len(results) - accepted, "results": results}

    @app.get("/api/v1/impact")
    async def get_impact(
        request: Request,
        node_id: NodeIdParam,
        depth: Depth = 50,
        limit: Limit = 10_000,
        columns: bool = True,
        direct_only: Annotated[bool, Query(alias="directOnly")] = False,
    ) -> dict[str, Any]:
        options = WalkOptions(depth, limit, columns, direct_only)
        return (await queries.impact(runtime(request).store, node_id, options)).as_dict()

    @app.get("/api/v1/upstream")
    async def get_upstream(
        request: Request,
        node_id: NodeIdParam,
        depth: Depth = 50,
        limit: Limit = 10_000,
        columns: bool = True,
    ) -> dict[str, Any]:
        options = WalkOptions(depth, limit, columns)
        return (await queries.upstream(runtime(request).store, node_id, options)).as_dict()

    @app.get("/api/v1/order")
    async def get_order(
        request: Request, node_id: NodeIdParam, depth: Depth = 50, limit: Limit = 100_000
    ) -> dict[str, Any]:
        options = WalkOptions(depth, limit)
        return (await queries.order(runtime(request).store, node_id, options)).as_dict()

    @app.get("/api/v1/nodes")
    async def get_node(request: Request, node_id: NodeIdParam) -> dict[str, Any]:
        record = await queries.node(runtime(request).store, node_id)
        return {
            "id": record.id,
            "kind": record.kind,
            "firstSeen": record.first_seen,
            "lastSeen": record.last_seen,
            "lastRun": record.last_run,
            "props": record.props,
        }

    @app.get("/api/v1/lineage")
    async def get_lineage(
        request: Request, node_id: NodeIdParam, depth: Depth = 20
    ) -> dict[str, Any]:
        return await marquez.lineage(runtime(request).store, node_id, depth)

    @app.get("/api/v1/column-lineage")
    async def get_column_lineage(
        request: Request,
        node_id: NodeIdParam,
        depth: Depth = 20,
        with_downstream: Annotated[bool, Query(alias="withDownstream")] = False,
    ) -> dict[str, Any]:
        return await marquez.column_lineage(
            runtime(request).store, node_id, depth, with_downstream=with_downstream
        )

    @app.get("/browser/guide", response_class=HTMLResponse)
    async def get_browser_guide(request: Request) -> HTMLResponse:
        """A Neo4j Browser guide: `:play http://<ripple>/browser/guide`."""
        base = str(request.base_url)
        return HTMLResponse(browser.guide(base), headers=browser.CORS)

    @app.get("/browser/style.grass", response_class=PlainTextResponse)
    async def get_browser_style() -> PlainTextResponse:
        """Ripple's GraSS stylesheet: `:style http://<ripple>/browser/style.grass`."""
        return PlainTextResponse(browser.style(), headers=browser.CORS)

    @app.options("/browser/guide")
    @app.options("/browser/style.grass")
    async def preflight_browser() -> Response:
        return Response(status_code=204, headers=browser.PREFLIGHT)

    return app
