"""Ingest's two hottest loops in C (ripple/_native.c), when the install could build them.

`NATIVE` is the loaded module, or None: no C compiler at install time, or `RIPPLE_NATIVE=0` in
the environment (which the tests use to run the Python twins). Either way the answers are the
same; tests/unit/test_native.py checks that they agree.
"""

from __future__ import annotations

import os
from types import ModuleType

from ripple.graph.codes import COLUMN, DIRECT, HAS_COLUMN, INDIRECT, NODE_CODE
from ripple.graph.delta import LineageEntry
from ripple.model import NodeKind


def _load() -> ModuleType | None:
    if os.environ.get("RIPPLE_NATIVE", "1") == "0":
        return None
    try:
        from ripple import _native
    except ImportError:
        return None
    _native.setup(NODE_CODE[NodeKind.DATASET], COLUMN, HAS_COLUMN, DIRECT, INDIRECT, LineageEntry)
    return _native


NATIVE = _load()
