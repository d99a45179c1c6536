"""Neo4j Browser extras Ripple serves: a guide (`:play <ripple>/browser/guide`) and a GraSS
stylesheet (`:style <ripple>/browser/style.grass`), both package data under ripple/api/static/."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

# Browser fetches the guide from its own origin (the Neo4j server's) with `pragma` and
# `cache-control` request headers, so the browser sends a CORS preflight first: answer both.
CORS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "pragma, cache-control",
    "Access-Control-Max-Age": "600",
}
_BASE = "__RIPPLE_BASE__"


@cache
def _static(name: str) -> str:
    return files("ripple.api").joinpath("static", name).read_text(encoding="utf-8")


def guide(base_url: str) -> str:
    """The guide's HTML, with links back to this server (`base_url` without a trailing slash)."""
    return _static("guide.html").replace(_BASE, base_url.rstrip("/"))


def style() -> str:
    """The GraSS stylesheet: datasets, columns, jobs, runs, DAGs and tasks told apart."""
    return _static("style.grass")


# Open to anyone, tokens or not: Neo4j Browser cannot send one, and both are static files (the
# guide's queries run in Neo4j Browser against Neo4j, with the user's own Neo4j login).
router = APIRouter()


@router.get("/browser/guide", response_class=HTMLResponse)
async def get_browser_guide(request: Request) -> HTMLResponse:
    """A Neo4j Browser guide: `:play http://<ripple>/browser/guide`."""
    return HTMLResponse(guide(str(request.base_url)), headers=CORS)


@router.get("/browser/style.grass", response_class=PlainTextResponse)
async def get_browser_style() -> PlainTextResponse:
    """Ripple's GraSS stylesheet: `:style http://<ripple>/browser/style.grass`."""
    return PlainTextResponse(style(), headers=CORS)


@router.options("/browser/guide", status_code=204)
@router.options("/browser/style.grass", status_code=204)
async def preflight_browser() -> Response:
    return Response(status_code=204, headers=PREFLIGHT)
