"""Map Ripple's error tree to HTTP statuses and JSON bodies — the one place this happens."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from ripple.api.body import JSONBytes
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

_STATUS: list[tuple[type[RippleError], int, str]] = [
    (InvalidEvent, 422, "invalid_event"),
    (MalformedInput, 400, "malformed_input"),
    (InvalidNodeId, 400, "invalid_node_id"),
    (NotFound, 404, "not_found"),
    (Unauthenticated, 401, "unauthenticated"),
    (Forbidden, 403, "forbidden"),
    (Conflict, 409, "conflict"),
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
            return status, {"error": body}
    return 500, {"error": {"code": "internal", "message": str(exc)}}


def install(app: FastAPI) -> None:
    @app.exception_handler(RippleError)
    async def ripple_error(_: Request, exc: RippleError) -> JSONBytes:
        status, body = error_body(exc)
        if status >= 500:
            log.error("%s", exc)
        return JSONBytes(body, status_code=status)

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
        return JSONBytes(
            {"error": {"code": "invalid_parameter", "message": message, "problems": problems}},
            status_code=400,
        )
