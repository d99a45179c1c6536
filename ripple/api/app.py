"""The FastAPI application factory and its routes (thin: validate, call one function, map)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request

from ripple import __version__
from ripple.api import admin, backfills, browser, errors, graph, lineage
from ripple.api.auth import require
from ripple.api.body import JSONBytes
from ripple.api.deps import runtime
from ripple.api.security import Gate
from ripple.config import Settings
from ripple.identity import Role
from ripple.runtime import open_runtime


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
        responses=errors.RESPONSES,
    )
    app.state.settings = settings
    app.add_middleware(Gate, allowed_hosts=settings.allowed_hosts, access_log=settings.access_log)
    errors.install(app)
    app.include_router(lineage.router)  # posting events (role ingest)
    app.include_router(graph.router)  # the lineage questions (role read)
    app.include_router(backfills.router)  # backfill plans and quarantine (read / operate)
    app.include_router(browser.router)  # Neo4j Browser guide and style (open, static)
    app.include_router(admin.router)  # retracting poisoned events (admin)

    @app.get("/api/v1/health")
    async def health(request: Request) -> dict[str, Any]:
        """Liveness. Open to anyone, so it says more only while no token exists (loopback)."""
        rt = runtime(request)
        if await rt.tokens.required():
            return {"status": "ok"}
        return {
            "status": "ok",
            "version": __version__,
            "projected": await rt.store.projected_through(),
            "airflowSync": rt.airflow_sync.status() if rt.airflow_sync else {"enabled": False},
        }

    @app.get("/api/v1/ready", dependencies=[Depends(require(Role.READ))])
    async def ready(request: Request) -> JSONBytes:
        """Readiness: 200 when the event log takes writes, the store answers and the disk has
        room; 503 naming what is not."""
        checks = await runtime(request).readiness()
        ok = all(check["ok"] for check in checks.values())
        body = {"status": "ready" if ok else "not_ready", "checks": checks}
        return JSONBytes(body, status_code=200 if ok else 503)

    return app
