from collections.abc import Callable
from typing import Any

from ripple.graph.delta import GraphDelta, LineageEntry

# setup(**facts) takes every fact the loops use by keyword; ripple/graph/native.py calls it once
# and names each one (the keywords are listed in ripple/_native.c, NAME_LIST and setup()).
def setup(**facts: Any) -> None: ...
def apply(
    index: dict[str, int],
    ids: list[str],
    kinds: bytearray,
    records: list[Any],
    out: list[list[int]],
    inc: list[list[int]],
    edges: dict[int, Any],
    columns: dict[int, Any],
    delta: GraphDelta,
    /,
) -> None: ...
def lineage(raw: Any, /) -> tuple[tuple[LineageEntry, ...], tuple[str, ...]] | None: ...
def schema(raw: Any, /) -> tuple[tuple[str, str | None, str | None], ...] | None: ...

# The parser's helpers, in this order (ingest/fastparse.py, _PARSER): decode an event's JSON,
# decode a facet's JSON, read a schema facet (raw, memo), read a lineage facet (raw, memo),
# projection._resolve, columns.digest, columns.Lineage, FacetMemo.get, FacetMemo.put,
# msgspec.UNSET, the exceptions that decline, the prefix of a sync record.
Parser = tuple[
    Callable[[bytes], Any],
    Callable[[Any], Any],
    Callable[[Any, Any], Any],
    Callable[[Any, Any], Any],
    Callable[[Any, Any, set[str]], tuple[Any, Any, list[str]]],
    Callable[[bytes], str],
    type[Any],
    Callable[[Any, bytes], Any],
    Callable[[Any, bytes, Any], None],
    Any,
    tuple[type[BaseException], ...],
    bytes,
]

def project(event: Any, memo: Any, parser: Parser, /) -> GraphDelta | None: ...
def project_many(bodies: list[bytes], memo: Any, parser: Parser, /) -> list[GraphDelta | None]: ...

# depth(body, limit): the offset of the first bracket nested deeper than `limit`, or -1.
def depth(body: bytes, limit: int, /) -> int: ...
