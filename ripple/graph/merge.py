"""The merge rule: how a node's or edge's record takes in what deltas assert (pure).

Every assertion carries a stamp, `"<UTC ISO event time>|<rank>"`: the event's time, then the rank
of its run state (`RANK`: among events stamped with the same time, a later lifecycle state wins).
Stamps compare as strings. A record is `[first_seen, last_stamp, last_run, props, stamps]`:

- `first_seen` keeps the earliest time asserted;
- `last_stamp` keeps the latest stamp and `last_run` the run that asserted it; between two
  assertions with one stamp, the greater run id wins (no run counts as "");
- each property keeps the value asserted with the latest stamp, and that stamp beside it (in
  `stamps`); **a later stamp wins**. Between two values asserted with one stamp, the one whose
  canonical JSON (orjson, keys sorted) is greater wins, and an equal value changes nothing
  (`wins`), so the outcome never depends on which came first.

So applying assertions is idempotent and commutative: the same ones in any order, any number of
times, give the same record — which is what makes replay exact. Both stores apply this module:
the embedded one (graph/memory.py, and its C twin in ripple/_native.c, whose `touch` and
`merge` follow `touch` and `merge` here and call `wins` for a tie) and Neo4j's
(graph/neo4j/batch.py folds a batch as above, then `combine`s each record with the stored one).
"""

from __future__ import annotations

from typing import Any

import orjson

from ripple.model import ABORT, COMPLETE, FAIL, OTHER, RUNNING, START

# A record: [first_seen, last_stamp, last_run, props | None, stamps | None]
Record = list[Any]

STAMP_SEPARATOR = "|"  # between a stamp's time and its rank
# Among events stamped with the same time, a later lifecycle state wins (no type ranks as OTHER).
RANK: dict[str | None, int] = {
    None: 0,
    OTHER: 0,
    START: 1,
    RUNNING: 2,
    COMPLETE: 3,
    ABORT: 3,
    FAIL: 3,
}


def stamp(time: str, event_type: str | None) -> str:
    """The stamp of an assertion made at `time` by an event of `event_type`."""
    return f"{time}{STAMP_SEPARATOR}{RANK.get(event_type, 0)}"


def time_of(stamp: str) -> str:
    """The time part of a stamp."""
    return stamp.split(STAMP_SEPARATOR, 1)[0]


def later(stamp: str, run: str | None, last: str | None, last_run: str | None) -> bool:
    """Whether an assertion (`stamp`, `run`) comes after the latest one kept (`last`, `last_run`;
    None: none yet): a later stamp, or the same stamp from a greater run id."""
    return last is None or stamp > last or (stamp == last and (run or "") > (last_run or ""))


def touch(record: Record, time: str, stamp: str, run: str | None) -> None:
    """Keep the earliest time, and the latest stamp with its run (a column-fact version's first
    three slots follow the same rule)."""
    if record[0] is None or time < record[0]:
        record[0] = time
    if later(stamp, run, record[1], record[2]):
        record[1] = stamp
        record[2] = run


def merge(record: Record, props: dict[str, Any], stamp: str) -> None:
    """Each property of `props`, asserted with `stamp`, replaces the kept one if it wins."""
    values, stamps = record[3], record[4]
    if values is None:
        values, stamps = record[3], record[4] = {}, {}
    for key, value in props.items():
        seen = stamps.get(key)
        if seen is None or stamp > seen or (stamp == seen and wins(value, values.get(key))):
            values[key] = value
            stamps[key] = stamp


def combine(old: Record, new: Record) -> Record:
    """Two records of one node or edge merged as if `new`'s assertions were applied after
    `old`'s: each property keeps the value with the later stamp, so the result does not depend
    on which record came first. Neither argument is changed."""
    merged: Record = [old[0], old[1], old[2], old[3], old[4]]
    touch(merged, new[0], new[1], new[2])
    values, stamps = new[3], new[4]
    if values:
        merged[3] = dict(old[3] or {})
        merged[4] = dict(old[4] or {})
        for key, value in values.items():
            stamp = stamps[key]
            seen = merged[4].get(key)
            if seen is None or stamp > seen or (stamp == seen and wins(value, merged[3].get(key))):
                merged[3][key] = value
                merged[4][key] = stamp
    return merged


def wins(new: Any, old: Any) -> bool:
    """The tie-break between two values asserted with the same stamp: the greater canonical JSON
    (orjson, keys sorted) wins; an equal value does not replace the kept one."""
    if new == old:
        return False
    return orjson.dumps(new, option=orjson.OPT_SORT_KEYS) > orjson.dumps(
        old, option=orjson.OPT_SORT_KEYS
    )
