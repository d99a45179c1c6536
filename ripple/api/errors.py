"""Map Ripple's error tree to HTTP statuses and JSON bodies — the one place this happens."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ripple.api.body import JSONBytes
from ripple.api.logs import REQUEST_ID
from ripple.errors import (
    AmbiguousNodeId,
    ConfigError,
    Conflict,
    Forbidden,
    InvalidEvent,
    InvalidNodeId,
    MalformedInput,
    NotConfigured,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    RippleError,
    SourceUnavailable,
    StoreUnavailable,
    Unauthenticated,
)

log = logging.getLogger("ripple.api")


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. an invalid event's field and value

    code: str = Field(description="what went wrong, for programs (e.g. invalid_event)")
    message: str = Field(description="what went wrong and what to do, for people")
    requestId: str = Field(description="this request's id, as in the X-Request-ID header")


class ErrorBody(BaseModel):
    """Every error Ripple answers, whatever the route or status."""

    error: ErrorDetail


# Documented on every operation of the OpenAPI document: the statuses any route may answer.
RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in [
        (400, "Malformed input or an invalid parameter"),
        (401, "No token, or an unknown or revoked one"),
        (403, "The token's role does not allow this"),
        (404, "No such node, plan or route"),
        (408, "The request body did not arrive in time"),
        (409, "Conflicts with what is stored"),
        (413, "The body or batch is over a limit"),
        (415, "A state-changing request that does not declare JSON"),
        (421, "A Host this server does not answer to"),
        (422, "An event that is not valid OpenLineage"),
        (503, "Not configured or not ready (see the message)"),
    ]
}

_STATUS: list[tuple[type[RippleError], int, str]] = [
    (Conflict, 409, "conflict"),  # first: a run bound elsewhere is an InvalidEvent too
    (InvalidEvent, 422, "invalid_event"),
    (MalformedInput, 400, "malformed_input"),
    (InvalidNodeId, 400, "invalid_node_id"),
    (NotFound, 404, "not_found"),
    (Unauthenticated, 401, "unauthenticated"),
    (Forbidden, 403, "forbidden"),
    (NotConfigured, 503, "not_configured"),
    (PayloadTooLarge, 413, "payload_too_large"),
    (RequestTimeout, 408, "request_timeout"),
    (StoreUnavailable, 503, "store_unavailable"),
    (SourceUnavailable, 502, "source_unavailable"),
    (ConfigError, 500, "config_error"),
]


def error_body(exc: RippleError) -> tuple[int, dict[str, Any]]:
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            body: dict[str, Any] = {"code": code, "message": str(exc)}
            if isinstance(exc, InvalidEvent):
                body.update(exc.as_dict())
            if isinstance(exc, AmbiguousNodeId):
                body["candidates"] = exc.candidates
            body["requestId"] = REQUEST_ID.get()
            return status, {"error": body}
    return 500, {"error": {"code": "internal", "message": str(exc), "requestId": REQUEST_ID.get()}}


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}


def _plain(status: int, code: str, message: str, **extra: Any) -> JSONBytes:
    body = {"code": code, "message": message, "requestId": REQUEST_ID.get(), **extra}
    return JSONBytes({"error": body}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(RippleError)
    async def ripple_error(_: Request, exc: RippleError) -> JSONBytes:
        status, body = error_body(exc)
        if status >= 500:
            log.error("%s", exc)
        return JSONBytes(body, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONBytes:
        """Starlette's own answers (unknown route, wrong method) in Ripple's error shape."""
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"No route {request.url.path}; the API is described at /openapi.json"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path} (allowed: {allowed})"
        answer = _plain(exc.status_code, code, message)
        answer.headers.update(exc.headers or {})
        return answer

    @app.exception_handler(RecursionError)
    async def too_deep(_: Request, exc: RecursionError) -> JSONBytes:
        """A backstop: JSON nested deeper than any parser here follows is bad input."""
        return _plain(400, "malformed_input", "The body is nested too deeply to be read")

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(_: Request, exc: RequestValidationError) -> JSONBytes:
        problems = [
            {
                "parameter": ".".join(str(part) for part in err["loc"][1:]) or str(err["loc"][0]),
                "value": err.get("input"),
                "reason": err["msg"],
            }
            for err in exc.errors()
        ]
        first = problems[0] if problems else {"parameter": "?", "reason": "invalid"}
        message = f"Query parameter '{first['parameter']}': {first['reason']}"
        return _plain(400, "invalid_parameter", message, problems=problems)
