"""Reading request bodies: a size cap (before and after gzip), JSON and NDJSON decoding."""

from __future__ import annotations

import zlib
from typing import Any

import msgspec
import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

from ripple.errors import MalformedInput, PayloadTooLarge


class JSONBytes(JSONResponse):
    """JSON responses encoded by orjson (a JSONResponse, so the OpenAPI document says JSON)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped when `Content-Encoding: gzip`; PayloadTooLarge past `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_too_large(int(declared), limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(_too_large(size, limit))
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").lower().strip()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise MalformedInput(f"Content-Encoding {encoding!r} is not supported; send gzip or none")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise MalformedInput(f"Body is not valid gzip: {exc}") from None
    if len(data) > limit:
        raise PayloadTooLarge(_too_large(len(data), limit, "decompressed "))
    return data


def split_many(body: bytes) -> list[bytes | MalformedInput]:
    """The events of a batch as JSON bytes each: a JSON array, or NDJSON (one per line). An
    undecodable line becomes its error; its neighbours are unaffected."""
    if body.lstrip().startswith(b"["):
        try:
            return [bytes(item) for item in _ARRAY.decode(body)]
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise MalformedInput(f"Body is not a valid JSON array: {exc}") from None
    items: list[bytes | MalformedInput] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            _ANY.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            items.append(MalformedInput(f"line {number} is not valid JSON: {exc}"))
            continue
        items.append(line)
    return items


_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])
_ANY = msgspec.json.Decoder()


def _too_large(size: int, limit: int, what: str = "") -> str:
    return (
        f"Request {what}body of {size} bytes exceeds the limit of {limit} bytes; "
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
