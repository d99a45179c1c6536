"""Reading request bodies: a size cap (before and after gzip), JSON and NDJSON decoding."""

from __future__ import annotations

import zlib
from typing import Any

import msgspec
import orjson
from fastapi import Request, Response

from ripple.errors import MalformedInput, PayloadTooLarge


class JSONBytes(Response):
    """JSON responses encoded by orjson."""

    media_type = "application/json"

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
