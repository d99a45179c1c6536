from collections.abc import Callable
from typing import Any

from ripple.graph.delta import GraphDelta, LineageEntry

def setup(
    *,
    dataset: int,
    column: int,
    has_column: int,
    direct: int,
    indirect: int,
    lineage_entry: type[Any],
    node_kinds: tuple[Any, ...],
    edge_codes: tuple[tuple[Any, str], ...],
    prefix_codes: dict[str, int],
    wins: Callable[[Any, Any], bool],
    kind_of: Callable[[str], Any],
) -> None: ...
def apply(graph: Any, delta: GraphDelta, /) -> None: ...
def lineage(raw: Any, /) -> tuple[tuple[LineageEntry, ...], tuple[str, ...]] | None: ...
def schema(raw: Any, /) -> tuple[tuple[str, str | None, str | None], ...] | None: ...
def setup_projection(
    *,
    generic: Callable[[Any], Any],
    schema: Callable[[Any, Any], Any],
    lineage: Callable[[Any, Any], Any],
    resolve: Callable[[Any, Any, set[str]], tuple[Any, Any, list[str]]],
    unset: Any,
    delta: type[Any],
    node: type[Any],
    edge: type[Any],
    facts: type[Any],
    digest: Callable[[bytes], str],
    schema_type: type[Any],
    lineage_type: type[Any],
    decode: Callable[[bytes], Any],
    declines: tuple[type[BaseException], ...],
    record_prefix: bytes,
    node_kinds: tuple[Any, Any, Any],
    edge_kinds: tuple[Any, Any, Any, Any, Any],
) -> None: ...
def project(event: Any, memo: Any, /) -> GraphDelta | None: ...
def project_many(bodies: list[bytes], memo: Any, /) -> list[GraphDelta | None]: ...
