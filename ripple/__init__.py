"""Ripple: OpenLineage in, lineage graph down to column level, impact answers out."""

__version__ = "0.1.0"
