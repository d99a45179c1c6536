"""The Neo4j graph store: the same graph model and answers as the embedded store, on Neo4j 5.26+.

Nodes carry the labels of DESIGN.md (Dataset, Column, Job, Run, AirflowDag, AirflowTask), each
with a unique `key` (the public node id); relationships point the way data flows. Beside them:
`(:ColumnVersion {key: '<dataset id>|<s|l><digest>'})` holds one schema or column-lineage content
of a dataset with when it was first and last asserted (columns, HAS_COLUMN and DERIVES are
materialized from these, and their records derived, as graph/columns.py does for the embedded
store); `(:RippleProjection {key: 'log'})` the event-log position; `(:RippleSchema {version})`
the layout version. How records are kept: records.py.
"""

from ripple.graph.neo4j.store import Neo4jStore

__all__ = ["Neo4jStore"]
