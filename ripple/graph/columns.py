"""Column records derived from a dataset's column-fact versions (pure).

The in-memory graph stores, per dataset, each distinct schema and column-lineage content it was
told once, as a version `[first_seen, last_stamp, last_run, payload]` keyed by `s<digest>` or
`l<digest>`. Column nodes and their edges are materialized from the payloads; their
`first_seen`/`last_seen`/`last_run` and properties are derived here from the versions that mention
them — the same answers as keeping a record per column, without touching every column on every
event that repeats a schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ripple.graph.codes import SCHEMA_TAG
from ripple.graph.merge import later, time_of

Version = list[Any]  # [first_time, last_stamp, last_run, payload]
# A lineage payload is a tuple of plain tuples in LineageEntry's field order:
SRC_DATASET, SRC_COLUMN, DST_FIELD, TYPE, SUBTYPE, DESCRIPTION, MASKING = range(7)


def is_schema(key: str) -> bool:
    return key[0] == SCHEMA_TAG


class Seen:
    """Folds versions into first_seen / latest stamp / its run, like a record's touch
    (graph/merge.py)."""

    __slots__ = ("first", "last", "run")

    def __init__(self) -> None:
        self.first: str | None = None
        self.last: str | None = None
        self.run: str | None = None

    def add(self, version: Version) -> None:
        first, last, run = version[0], version[1], version[2]
        if self.first is None or first < self.first:
            self.first = first
        if later(last, run, self.last, self.run):
            self.last, self.run = last, run


def column_record(
    field: str, own: dict[str, Version], as_source: Iterable[Version]
) -> tuple[Seen, dict[str, Any]]:
    """A column's seen-stamps and properties from its dataset's versions that name it and from
    other datasets' lineage versions that cite it as a source."""
    seen = Seen()
    props: dict[str, Any] = {}
    best: tuple[str, str] | None = None  # (stamp, key) of the schema that set props
    for key, version in own.items():
        payload = version[3]
        if is_schema(key):
            for name, kind, description in payload:
                if name == field:
                    seen.add(version)
                    rank = (version[1], key)
                    if best is None or rank > best:
                        best = rank
                        props = {
                            k: v
                            for k, v in (("type", kind), ("description", description))
                            if v is not None
                        }
                    break
        elif any(entry[DST_FIELD] == field for entry in payload):
            seen.add(version)
    for version in as_source:
        seen.add(version)
    return seen, props


def derives_record(
    versions: dict[str, Version], src_column: str, dst_field: str, kind: str
) -> tuple[Seen, dict[str, Any]]:
    """One DERIVES edge's seen-stamps and properties, from the lineage versions of the dataset
    it flows into; properties come from the latest version that asserts the edge."""
    seen = Seen()
    best: tuple[str, str] | None = None
    props: dict[str, Any] = {}
    for key, version in versions.items():
        if is_schema(key):
            continue
        matches = [
            e
            for e in version[3]
            if e[SRC_COLUMN] == src_column and e[DST_FIELD] == dst_field and e[TYPE] == kind
        ]
        if not matches:
            continue
        seen.add(version)
        rank = (version[1], key)
        if best is None or rank > best:
            best = rank
            props = {
                "type": kind,
                "subtype": ",".join(sorted({e[SUBTYPE] for e in matches if e[SUBTYPE]})) or None,
                "description": "; ".join(
                    dict.fromkeys(e[DESCRIPTION] for e in matches if e[DESCRIPTION])
                )
                or None,
                "masking": all(e[MASKING] for e in matches),
            }
    return seen, props


def cites(version: Version, src_column: str) -> bool:
    """Whether a lineage version names `src_column` as a source."""
    return any(entry[SRC_COLUMN] == src_column for entry in version[3])


def current_schema(versions: dict[str, Version]) -> tuple[str, list[dict[str, Any]]] | None:
    """The digest and fields of the most recently asserted schema, if any."""
    latest: tuple[str, str] | None = None
    for key, version in versions.items():
        if is_schema(key) and (latest is None or (version[1], key) > latest):
            latest = (version[1], key)
    if latest is None:
        return None
    fields = versions[latest[1]][3]
    return latest[1][1:], [{"name": n, "type": t, "description": d} for n, t, d in fields]


def schema_history(versions: dict[str, Version]) -> dict[str, Any]:
    """Every schema version with when it was first and last asserted."""
    return {
        key[1:]: {
            "first_seen": version[0],
            "last_seen": time_of(version[1]),
            "fields": [name for name, _, _ in version[3]],
        }
        for key, version in sorted(versions.items())
        if is_schema(key)
    }
