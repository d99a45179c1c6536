"""The gate every HTTP request passes before any route: request id, Host, Content-Type, access log.

- **Host.** A request whose `Host` is not one of `allowed_hosts` (loopback names by default) gets
  421: a web page that rebinds its own DNS name to 127.0.0.1 cannot read this server.
- **Content-Type.** A state-changing request (POST, PUT, PATCH) must say it sends JSON or NDJSON
  (415 otherwise). Browsers send cross-site forms only as text/plain, form-urlencoded or
  multipart, and anything else needs a CORS preflight this server never grants, so no web page
  can post events, plans or runs here.
- **Request id and access log.** See ripple/api/logs.py.

A pure ASGI middleware (not BaseHTTPMiddleware): it adds no task per request and leaves
streaming bodies alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import orjson
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ripple.api.logs import REQUEST_ID, request_id

access = logging.getLogger("ripple.access")

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH"})
JSON_TYPES = frozenset(
    {
        "application/json",
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
        "application/gzip",
        "application/x-gzip",
    }
)


def host_name(header: str) -> str:
    """The name of a Host header, without its port: `[::1]:5000` → `::1`, `a:80` → `a`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    name, _, _ = header.partition(":")
    return name.rstrip(".")


def json_media_type(header: str | None) -> bool:
    if header is None:
        return False
    media = header.partition(";")[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


class Gate:
    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str], access_log: bool = True):
        self.app = app
        hosts = {h.strip().lower() for h in allowed_hosts}
        self.any_host = "*" in hosts
        self.hosts = frozenset(hosts - {"*"})
        self.access_log = access_log

    def refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str, str] | None:
        host = headers.get("host")
        if sum(1 for name, _ in scope["headers"] if name == b"host") > 1:
            return 400, "bad_request", "The request has more than one Host header"
        if not self.any_host:
            if host is None:
                return 400, "missing_host", "The request has no Host header"
            if host_name(host) not in self.hosts:
                return (
                    421,
                    "misdirected_request",
                    f"Host {host_name(host)!r} is not a name this Ripple answers to; if it is "
                    "yours, add it to RIPPLE_ALLOWED_HOSTS (a JSON list)",
                )
        if scope["method"] in STATE_CHANGING and not json_media_type(headers.get("content-type")):
            given = headers.get("content-type", "none")
            return (
                415,
                "unsupported_media_type",
                f"Content-Type {given!r} is not accepted here: send 'application/json' (or "
                "'application/x-ndjson' for a batch); gzip goes in Content-Encoding",
            )
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        rid = request_id(headers.get("x-request-id"))
        reset = REQUEST_ID.set(rid)
        started = time.perf_counter()
        status = 0
        sent = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("x-request-id", rid)
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            refused = self.refusal(scope, headers)
            if refused is None:
                await self.app(scope, receive, send_with_id)
            else:
                code, name, text = refused
                body = {"error": {"code": name, "message": text, "requestId": rid}}
                await _answer(send_with_id, code, orjson.dumps(body))
        finally:
            aborted = (scope.get("state") or {}).get("aborted")
            if self.access_log or aborted:
                self._log(scope, status, started, sent, aborted)
            REQUEST_ID.reset(reset)

    @staticmethod
    def _log(scope: Scope, status: int, started: float, sent: int, aborted: str | None) -> None:
        """The request's one line: an aborted upload's says so, as a warning, even with the
        access log off."""
        client = scope.get("client")
        state = scope.get("state") or {}
        identity = state.get("identity")
        fields = {
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "client": client[0] if client else "-",
            "actor": identity.name if identity is not None else "-",
            "bytes": sent,
        }
        access.log(
            logging.WARNING if aborted else logging.INFO,
            "%s %s %s %.1fms %s %s%s",
            fields["method"],
            fields["path"],
            fields["status"] or "-",
            fields["duration_ms"],
            fields["client"],
            fields["actor"],
            f" ({aborted})" if aborted else "",
            extra=fields,
        )


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
