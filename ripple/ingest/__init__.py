"""Getting events in: OpenLineage parsing, projection to graph deltas, the durable event log."""
