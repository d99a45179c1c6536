"""Neo4j Browser extras Ripple serves: a guide (`:play <ripple>/browser/guide`) and a GraSS
stylesheet (`:style <ripple>/browser/style.grass`), both package data under ripple/api/static/."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

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
