"""How the Neo4j store keeps merge records and column-fact versions as properties (pure).

A node or relationship asserted by events carries its record as five properties: `first_seen`
(earliest event time), `last_stamp` (latest stamp) and `asserted_by` (that stamp's run), and its
properties with the stamp that set each one as two JSON strings, `props_json` and `stamps_json`
(Neo4j properties cannot hold maps, and the per-property stamps are what make re-applying deltas
in any order give the same graph). `last_seen` is `last_stamp`'s time, for people reading the
graph. A node also carries its scalar properties natively (`name`, `namespace`, `state`, …) so it
reads well in Neo4j Browser; the JSON copy stays the one the store answers from.
"""

from __future__ import annotations

from typing import Any

import orjson

from ripple.graph.columns import Version
from ripple.graph.merge import Record

# Property names the record uses; a mirrored property of the same name is not mirrored.
RESERVED = frozenset(
    {"key", "first_seen", "last_seen", "last_stamp", "asserted_by", "props_json", "stamps_json"}
)


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def record_of(
    first: str | None, last: str | None, run: str | None, props: Any, stamps: Any
) -> Record:
    """A MemoryGraph record from stored properties (JSON strings or None)."""
    return [
        first,
        last,
        run,
        None if props is None else orjson.loads(props),
        None if stamps is None else orjson.loads(stamps),
    ]


def record_row(key: str, record: Record) -> dict[str, Any]:
    """The parameters of one node or relationship upsert."""
    first, last, run, props, stamps = record
    return {
        "key": key,
        "first_seen": first,
        "last_seen": None if last is None else last.split("|", 1)[0],
        "last_stamp": last,
        "run": run,
        "props": None if props is None else dumps(props),
        "stamps": None if stamps is None else dumps(stamps),
        "flat": mirrored(props or {}),
    }


def mirrored(props: dict[str, Any]) -> dict[str, Any]:
    """Native copies of scalar properties (None removes one that is no longer scalar)."""
    return {
        key: value if _is_scalar(value) else None
        for key, value in props.items()
        if key not in RESERVED
    }


def _is_scalar(value: Any) -> bool:
    if isinstance(value, str | int | float | bool):
        return not isinstance(value, int) or -(2**63) <= value < 2**63
    if isinstance(value, list) and value:
        return all(isinstance(v, str) for v in value)
    return False


def version_of(first: str, last: str, run: str | None, payload: str) -> Version:
    """A column-fact version from stored properties; payload rows become tuples again."""
    return [first, last, run, tuple(tuple(row) for row in orjson.loads(payload))]
