"""The lineage graph: the store protocol, the embedded store, and pure graph algorithms."""
