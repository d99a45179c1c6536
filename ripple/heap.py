"""Living with a large, long-lived heap: the embedded graph is millions of small objects.

CPython's cyclic collector rescans young objects whenever allocations pile up, and its full
collections walk the whole heap. Ingest and graph walks allocate hundreds of thousands of
short-lived, acyclic objects (parsed events, deltas, paths), which reference counting frees on its
own; measured, the collector's rescans were about half of ingest time and of a large walk.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the block (nesting is fine)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def settle() -> None:
    """Move everything alive now out of the collector's sight (O(1)), so automatic collections
    scan only what was allocated since and stay short however large the graph grows. Call it
    after the graph has grown by a batch. It does not collect first (that pause would cost a
    server's tail latency); cyclic objects frozen while still in use are reclaimed by `compact`."""
    gc.freeze()


def compact() -> None:
    """A full collection of everything, then settle again: for moments that pause anyway (a
    snapshot being written), so that a long-running process never keeps frozen garbage."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
