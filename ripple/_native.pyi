from typing import Any

from ripple.graph.delta import ColumnFacts, LineageEntry

def setup(
    dataset: int, column: int, has_column: int, direct: int, indirect: int, entry: type[Any], /
) -> None: ...
def apply_columns(
    graph: Any, facts: list[ColumnFacts], time: str, stamp: str, run: str | None, /
) -> None: ...
def lineage(raw: Any, /) -> tuple[tuple[LineageEntry, ...], tuple[str, ...]] | None: ...
