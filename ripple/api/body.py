"""Reading request bodies: a size cap (before and after gzip), a time limit, JSON and NDJSON
batches split into items and made ready off the event loop.

Everything here that costs CPU in proportion to a body (inflating it, splitting a batch,
validating its events) runs in a worker thread, in chunks, so one client's large or hostile body
never holds up another's health check or single event.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import msgspec
import orjson
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from ripple.api.deps import settings
from ripple.errors import InvalidEvent, MalformedInput, PayloadTooLarge, RequestTimeout
from ripple.heap import collector_paused
from ripple.ingest.columns import FacetMemo
from ripple.ingest.files import gunzip
from ripple.ingest.limits import Limits
from ripple.ingest.pipeline import Prepared, prepare_many

INLINE_BYTES = 64 * 1024  # smaller compressed bodies are inflated on the event loop (cheaper)
CHUNK_ITEMS = 200  # batch items validated per worker-thread call: each call holds the GIL briefly


class JSONBytes(JSONResponse):
    """JSON responses encoded by orjson (a JSONResponse, so the OpenAPI document says JSON)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped when `Content-Encoding: gzip` (every member; a damaged or
    truncated stream is MalformedInput); PayloadTooLarge past `limit` bytes, compressed or not.

    RequestTimeout when the body has not arrived within the app's `body_timeout` seconds. A
    client that disconnects mid-body costs one log line and a MalformedInput nobody reads."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_too_large(int(declared), limit))
    encoding = request.headers.get("content-encoding", "").lower().strip()
    if encoding not in ("", "identity", "gzip", "x-gzip"):
        raise MalformedInput(f"Content-Encoding {encoding!r} is not supported; send gzip or none")
    seconds = settings(request).body_timeout
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(_too_large(size, limit))
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(
            f"Request body not received within {seconds:g} s ({size} of "
            f"{declared or 'an unknown number of'} bytes arrived); send it faster, or raise "
            "RIPPLE_BODY_TIMEOUT"
        ) from None
    except ClientDisconnect:
        # Said once, in this request's access-log line (ripple/api/security.py), not as a trace.
        request.state.aborted = (
            f"the client disconnected after {size} of {declared or '?'} body bytes; "
            "nothing of it was ingested"
        )
        raise MalformedInput("The client disconnected before sending the whole body") from None
    body = b"".join(chunks)
    if encoding in ("", "identity"):
        return body
    if len(body) <= INLINE_BYTES:
        return _gunzip(body, limit)
    return await anyio.to_thread.run_sync(_gunzip, body, limit)


def _gunzip(body: bytes, limit: int) -> bytes:
    try:
        return gunzip(body, limit)
    except MalformedInput as exc:
        raise MalformedInput(f"Body is not valid gzip: {exc}") from None
    except PayloadTooLarge:
        raise PayloadTooLarge(_too_large(limit + 1, limit, "decompressed ", "more than ")) from None


@dataclass(frozen=True, slots=True)
class Item:
    """One value of a batch: its JSON as sent, and the line of the body it starts on."""

    line: int
    body: bytes


def split_many(body: bytes, max_items: int) -> list[Item]:
    """The values of a batch: a JSON array, or NDJSON (one per non-blank line); each is checked
    later, alone, so one bad value never costs its neighbours (see `prepare_items`).

    PayloadTooLarge naming the limit once more than `max_items` are found (NDJSON stops reading
    there); MalformedInput when a body that opens with `[` is not one JSON array."""
    if body.lstrip().startswith(b"["):
        return _array(body, max_items)
    items: list[Item] = []
    line, last = 1, 0
    for match in _LINE.finditer(body):
        if len(items) == max_items:
            raise PayloadTooLarge(_too_many(max_items))
        line += body.count(b"\n", last, match.start())
        last = match.start()
        items.append(Item(line, match.group()))
    return items


def _array(body: bytes, max_items: int) -> list[Item]:
    """The elements of a JSON array, one at a time (so more than `max_items` of them cost no
    more than `max_items`), each as its bytes and the line it starts on."""
    text = body.decode("utf-8", "surrogateescape")  # a bad byte stays, for its element to refuse
    items: list[Item] = []
    pos = _skip(text, text.index("[") + 1)
    line = text.count("\n", 0, pos) + 1
    if text.startswith("]", pos):
        return _array_end(text, pos, items)
    while True:
        if len(items) == max_items:
            raise PayloadTooLarge(_too_many(max_items))
        try:
            _, end = _SCAN(text, pos)
        except StopIteration:
            raise MalformedInput(
                f"Body is not a valid JSON array: no value at line {line}"
            ) from None
        except RecursionError:  # nested past the scanner: its brackets still say where it ends
            end = _nested_end(text, pos, line)
        except ValueError as exc:
            raise MalformedInput(f"Body is not a valid JSON array: {exc}") from None
        items.append(Item(line, text[pos:end].encode("utf-8", "surrogateescape")))
        after = _skip(text, end)
        if text.startswith("]", after):
            return _array_end(text, after, items)
        if not text.startswith(",", after):
            raise MalformedInput(
                f"Body is not a valid JSON array: expected ',' or ']' at line "
                f"{text.count(chr(10), 0, after) + 1}"
            )
        following = _skip(text, after + 1)
        line += text.count("\n", pos, following)
        pos = following


def _nested_end(text: str, pos: int, line: int) -> int:
    """Where the array or object opening at `pos` closes, by counting brackets outside strings
    (no recursion); the element is then refused alone, as too deep, by `prepare_items`."""
    depth = 0
    for token in _BRACKETS.finditer(text, pos):
        mark = token.group()
        if mark in "[{":
            depth += 1
        elif mark in "]}":
            depth -= 1
            if depth == 0:
                return token.end()
    raise MalformedInput(f"Body is not a valid JSON array: the value at line {line} never closes")


_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _array_end(text: str, pos: int, items: list[Item]) -> list[Item]:
    """`items`, once nothing but whitespace follows the array's closing bracket at `pos`."""
    if _skip(text, pos + 1) != len(text):
        raise MalformedInput("Body is not a valid JSON array: data after its closing ']'")
    return items


def prepare_items(
    items: Sequence[Item], memo: FacetMemo, limits: Limits | None = None
) -> list[Prepared]:
    """Each item validated and projected (pure; meant for a worker thread, CHUNK_ITEMS at a
    time): a value that is not a JSON object is rejected here, without the event parser."""
    with collector_paused():
        refused = [_not_an_object(item.body) for item in items]
        candidates = [item.body for item, error in zip(items, refused, strict=True) if not error]
        try:
            ready = iter(prepare_many(candidates, memo, limits))
        except RecursionError:  # nested past the parser's reach: each alone, that one refused
            ready = iter([_prepare_one(body, memo, limits) for body in candidates])
        return [next(ready) if error is None else error for error in refused]


def _not_an_object(body: bytes) -> Prepared | None:
    """None when the value opens like a JSON object; else its rejection (cheap: no parser)."""
    if body.lstrip()[:1] == b"{":
        return None
    text = body[:200].decode("utf-8", "replace").strip()
    try:
        value = _ANY.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        return Prepared(None, None, InvalidEvent("$", text, f"not valid JSON: {exc}"))
    kind = _KINDS.get(type(value), type(value).__name__)
    reason = f"not a JSON object: an event is an object {{…}}, this is {kind}"
    return Prepared(None, None, InvalidEvent("$", text, reason))


def _prepare_one(body: bytes, memo: FacetMemo, limits: Limits | None) -> Prepared:
    try:
        return prepare_many([body], memo, limits)[0]
    except RecursionError:
        text = body[:200].decode("utf-8", "replace").strip()
        return Prepared(None, None, InvalidEvent("$", text, "nested too deeply to be an event"))


# A non-blank line of NDJSON (anchored at line starts, so whitespace-only lines cost linear time).
_LINE = re.compile(rb"^[ \t\r\f\v]*+\S[^\n]*", re.MULTILINE)
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace
# One JSON value from an index, as (value, end): the C scanner of the json module.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _skip(text: str, pos: int) -> int:
    """The index of the first character from `pos` that is not JSON whitespace."""
    match = _SPACE.match(text, pos)
    return pos if match is None else match.end()


_ANY = msgspec.json.Decoder()
_KINDS = {
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    bool: "a boolean",
    type(None): "null",
}


def _too_many(max_items: int) -> str:
    return (
        f"Batch has more than {max_items} events, the limit; split it into smaller batches "
        "or raise RIPPLE_MAX_BATCH_ITEMS"
    )


def _too_large(size: int, limit: int, what: str = "", more: str = "") -> str:
    return (
        f"Request {what}body of {more}{size} bytes exceeds the limit of {limit} bytes; "
        "split it into smaller batches or raise RIPPLE_MAX_BODY_BYTES"
    )


def json_request(schema: dict[str, Any], *, ndjson: bool = False) -> dict[str, Any]:
    """An operation's `openapi_extra` documenting a JSON request body of `schema` (a pydantic
    JSON schema's `$defs` inlined: the OpenAPI document has no place for them)."""
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(dict(defs[ref.removeprefix("#/$defs/")]))
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    content = {"application/json": {"schema": inline(schema)}}
    if ndjson:
        content["application/x-ndjson"] = {"schema": {"type": "string"}}
    return {"requestBody": {"required": True, "content": content}}


_NAME_PROPERTIES: dict[str, Any] = {"namespace": {"type": "string"}, "name": {"type": "string"}}
_NAMED: dict[str, Any] = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": _NAME_PROPERTIES,
}
RUN_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "An OpenLineage RunEvent (https://openlineage.io/spec/)",
    "required": ["eventTime", "run", "job"],
    "properties": {
        "eventType": {
            "type": "string",
            "enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"],
        },
        "eventTime": {"type": "string", "format": "date-time"},
        "run": {
            "type": "object",
            "required": ["runId"],
            "properties": {"runId": {"type": "string", "format": "uuid"}, "facets": {}},
        },
        "job": {**_NAMED, "properties": {**_NAME_PROPERTIES, "facets": {}}},
        "inputs": {"type": "array", "items": _NAMED},
        "outputs": {"type": "array", "items": _NAMED},
        "producer": {"type": "string"},
        "schemaURL": {"type": "string"},
    },
}
