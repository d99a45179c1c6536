"""Ingest's hottest loops in C (ripple/_native.c), when the install could build them.

`NATIVE` is the loaded module, or None: no C compiler at install time, or `RIPPLE_NATIVE=0` in
the environment. Either way the answers are the same; tests/unit/test_native.py checks that the
C loops and their Python twins agree.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ripple.graph.codes import (
    COLUMN,
    DIRECT,
    EDGE_CODES,
    HAS_COLUMN,
    INDIRECT,
    NODE_CODE,
    NODE_CODE_OF_PREFIX,
    NODE_KINDS,
)
from ripple.graph.delta import LineageEntry
from ripple.model import NodeKind


def load(wins: Callable[[Any, Any], bool], kind_of: Callable[[str], NodeKind]) -> ModuleType | None:
    """The C module set up with the graph's codes and the Python helpers it calls back: `wins`
    (the tie-break of two values asserted with one stamp) and `kind_of` (an id's node kind, or
    the error for an id of no known kind)."""
    if os.environ.get("RIPPLE_NATIVE", "1") == "0":
        return None
    try:
        from ripple import _native
    except ImportError:
        return None
    _native.setup(
        dataset=NODE_CODE[NodeKind.DATASET],
        column=COLUMN,
        has_column=HAS_COLUMN,
        direct=DIRECT,
        indirect=INDIRECT,
        lineage_entry=LineageEntry,
        node_kinds=NODE_KINDS,
        edge_codes=EDGE_CODES,
        prefix_codes=NODE_CODE_OF_PREFIX,
        wins=wins,
        kind_of=kind_of,
    )
    return _native
