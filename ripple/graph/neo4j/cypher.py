"""Every Cypher statement the Neo4j store runs, as named constants; values are always `$params`.

Labels, relationship types and var-length bounds cannot be parameters, so the statements that
need one per label, type or bound are built here, once, from literal pieces.

Closure statements are shaped so that the planner turns the var-length expansion into a pruning
breadth-first search (`VarLengthExpand(Pruning,BFS)`): the path variable is used only under
`min(length(p))` — never `nodes(p)`, `relationships(p)` in the projection, or `max(...)`, which
enumerate paths. tests/integration/test_neo4j_plans.py asserts that operator for each of them.
"""

from __future__ import annotations

from typing import LiteralString

SCHEMA_VERSION = 2
# Statements that bring a graph of the previous version up to this one, by target version.
MIGRATIONS: dict[int, tuple[LiteralString, ...]] = {
    2: ("MATCH (t:AirflowTask)-[:IMPLEMENTS]->(j:Job) MERGE (j)-[:IMPLEMENTED_BY]->(t)",),
}
SET_SCHEMA_VERSION = "MATCH (s:RippleSchema) SET s.version = $version"

# NodeKind value -> label
LABELS: dict[str, LiteralString] = {
    "dataset": "Dataset",
    "datasetField": "Column",
    "job": "Job",
    "run": "Run",
    "dag": "AirflowDag",
    "task": "AirflowTask",
}
RECORD_LABELS: tuple[LiteralString, ...] = ("Dataset", "Job", "Run", "AirflowDag", "AirflowTask")
# IMPLEMENTED_BY mirrors IMPLEMENTS (Job -> AirflowTask). It is not part of the model (never
# read back as an edge): it lets one directed var-length pattern step from a job to the task that
# runs it, which is how Airflow task dependencies enter a closure (see graph/rules.py).
MIRROR: LiteralString = "IMPLEMENTED_BY"
REL_TYPES: tuple[LiteralString, ...] = (
    "READ_BY",
    "WRITES",
    "HAS_COLUMN",
    "DERIVES",
    "RUN_OF",
    "READ",
    "PRODUCED",
    "CHILD_OF",
    "CONTAINS",
    "IMPLEMENTS",
    "PRECEDES",
)

# -- schema ------------------------------------------------------------------------------------

SCHEMA: tuple[LiteralString, ...] = (
    *(
        "CREATE CONSTRAINT ripple_" + label + "_key IF NOT EXISTS "
        "FOR (n:" + label + ") REQUIRE n.key IS UNIQUE"
        for label in (*LABELS.values(), "ColumnVersion", "RippleProjection")
    ),
    "CREATE INDEX ripple_ColumnVersion_dataset IF NOT EXISTS FOR (v:ColumnVersion) ON (v.dataset)",
)
SCHEMA_NODE = """
MERGE (s:RippleSchema)
ON CREATE SET s.version = $version
RETURN s.version AS version
"""

# -- progress ----------------------------------------------------------------------------------

THROUGH = "MATCH (m:RippleProjection {key: 'log'}) RETURN m.through AS through"
SET_THROUGH = """
MERGE (m:RippleProjection {key: 'log'})
SET m.through = CASE WHEN coalesce(m.through, 0) < $through THEN $through ELSE m.through END
"""
CLEAR = """
MATCH (n) WHERE NOT n:RippleSchema
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS
"""

# -- writes ------------------------------------------------------------------------------------

# Per record label: the stored record of existing nodes, and the upsert of merged records.
READ_RECORDS: dict[LiteralString, LiteralString] = {
    label: "UNWIND $keys AS k MATCH (n:" + label + " {key: k}) "
    "RETURN n.key AS key, elementId(n) AS eid, n.first_seen AS first_seen, "
    "n.last_stamp AS last_stamp, n.asserted_by AS run, n.props_json AS props, "
    "n.stamps_json AS stamps"
    for label in RECORD_LABELS
}
WRITE_RECORDS: dict[LiteralString, LiteralString] = {
    label: "UNWIND $rows AS r MERGE (n:" + label + " {key: r.key}) "
    "SET n.first_seen = r.first_seen, n.last_seen = r.last_seen, n.last_stamp = r.last_stamp, "
    "n.asserted_by = r.run, n.props_json = r.props, n.stamps_json = r.stamps "
    "SET n += r.flat "
    "RETURN r.key AS key, elementId(n) AS eid"
    for label in RECORD_LABELS
}
MERGE_COLUMNS = """
UNWIND $rows AS r
MERGE (c:Column {key: r.key})
ON CREATE SET c.dataset = r.dataset, c.name = r.name
WITH r, c
OPTIONAL MATCH (d:Dataset {key: r.dataset})
FOREACH (_ IN CASE WHEN d IS NULL THEN [] ELSE [1] END | MERGE (d)-[:HAS_COLUMN]->(c))
RETURN r.key AS key, elementId(c) AS eid
"""
MERGE_DERIVES = """
UNWIND $rows AS r
MATCH (a:Column {key: r.src})
MATCH (b:Column {key: r.dst})
MERGE (a)-[:DERIVES {type: r.type}]->(b)
"""


def _rel(kind: LiteralString) -> LiteralString:
    return "[e:" + kind + " {type: r.variant}]" if kind == "DERIVES" else "[e:" + kind + "]"


READ_EDGES: dict[LiteralString, LiteralString] = {
    kind: "UNWIND $rows AS r MATCH (a) WHERE elementId(a) = r.src "
    "MATCH (a)-" + _rel(kind) + "->(b) WHERE elementId(b) = r.dst "
    "RETURN r.i AS i, e.first_seen AS first_seen, e.last_stamp AS last_stamp, "
    "e.asserted_by AS run, e.props_json AS props, e.stamps_json AS stamps"
    for kind in REL_TYPES
}
WRITE_EDGES: dict[LiteralString, LiteralString] = {
    kind: "UNWIND $rows AS r MATCH (a) WHERE elementId(a) = r.src "
    "MATCH (b) WHERE elementId(b) = r.dst "
    "MERGE (a)-" + _rel(kind) + "->(b) "
    "SET e.first_seen = r.first_seen, e.last_seen = r.last_seen, e.last_stamp = r.last_stamp, "
    "e.asserted_by = r.run, e.props_json = r.props, e.stamps_json = r.stamps"
    + (" MERGE (b)-[:" + MIRROR + "]->(a)" if kind == "IMPLEMENTS" else "")
    for kind in REL_TYPES
}
READ_VERSIONS = """
UNWIND $keys AS k
MATCH (v:ColumnVersion {key: k})
RETURN v.key AS key, v.first_seen AS first_seen, v.last_stamp AS last_stamp, v.asserted_by AS run
"""
WRITE_VERSIONS = """
UNWIND $rows AS r
MERGE (v:ColumnVersion {key: r.key})
ON CREATE SET v.dataset = r.dataset, v.version = r.version, v.payload_json = r.payload
SET v.first_seen = r.first_seen, v.last_seen = r.last_seen, v.last_stamp = r.last_stamp,
    v.asserted_by = r.run
"""

# -- reads -------------------------------------------------------------------------------------

LOCATE: dict[LiteralString, LiteralString] = {
    label: "UNWIND $keys AS k MATCH (n:" + label + " {key: k}) "
    "RETURN n.key AS key, elementId(n) AS eid, n.props_json AS props"
    for label in LABELS.values()
}
VERSIONS_OF = """
UNWIND $datasets AS k
MATCH (v:ColumnVersion {dataset: k})
RETURN v.dataset AS dataset, v.version AS version, v.first_seen AS first_seen,
       v.last_stamp AS last_stamp, v.asserted_by AS run, v.payload_json AS payload
"""
COLUMN_CONTEXT = """
UNWIND $keys AS k
MATCH (c:Column {key: k})
OPTIONAL MATCH (d:Dataset)-[:HAS_COLUMN]->(c)
RETURN c.key AS key, d.key AS owner
"""
COLUMN_TARGETS = """
UNWIND $keys AS k
MATCH (c:Column {key: k})-[r:DERIVES]->(t:Column)
OPTIONAL MATCH (o:Dataset)-[:HAS_COLUMN]->(t)
RETURN c.key AS src, r.type AS variant, t.key AS dst, o.key AS owner
"""
NEIGHBOURHOOD = """
UNWIND $eids AS id
MATCH (n) WHERE elementId(n) = id
CALL (n) {
    MATCH (n)-[r]->(m) RETURN n.key AS src, type(r) AS kind, r.type AS variant, m.key AS dst
  UNION ALL
    MATCH (n)<-[r]-(m) RETURN m.key AS src, type(r) AS kind, r.type AS variant, n.key AS dst
}
RETURN src, kind, variant, dst
"""
COUNTS: tuple[tuple[str, LiteralString], ...] = (
    *((kind, "MATCH (n:" + label + ") RETURN count(n) AS n") for kind, label in LABELS.items()),
    *((kind, "MATCH ()-[r:" + kind + "]->() RETURN count(r) AS n") for kind in REL_TYPES),
)
ALL_NODES = """
MATCH (n)
WHERE n:Dataset OR n:Column OR n:Job OR n:Run OR n:AirflowDag OR n:AirflowTask
RETURN n.key AS key, n.first_seen AS first_seen, n.last_stamp AS last_stamp,
       n.asserted_by AS run, n.props_json AS props, n.stamps_json AS stamps
"""
ALL_EDGES = """
MATCH (a)-[e]->(b)
RETURN a.key AS src, type(e) AS kind, e.type AS variant, b.key AS dst,
       e.first_seen AS first_seen, e.last_stamp AS last_stamp, e.asserted_by AS run,
       e.props_json AS props, e.stamps_json AS stamps
"""
ALL_VERSIONS = """
MATCH (v:ColumnVersion)
RETURN v.dataset AS dataset, v.version AS version, v.first_seen AS first_seen,
       v.last_stamp AS last_stamp, v.asserted_by AS run, v.payload_json AS payload
"""

# -- walks -------------------------------------------------------------------------------------

# The first hop of run roots (and a dataset root's own columns, walked upstream).
FIRST_HOP: dict[LiteralString, LiteralString] = {
    kind: "MATCH (s) WHERE elementId(s) = $root MATCH (s)-[:" + kind + "]->(n) "
    "RETURN DISTINCT n.key AS key, elementId(n) AS eid"
    for kind in ("PRODUCED", "READ", "HAS_COLUMN")
}

# Shapes: (arrow in, arrow out, relationship types, only DIRECT column lineage)
_DOWN: tuple[LiteralString, LiteralString] = ("-[", "]->")
_UP: tuple[LiteralString, LiteralString] = ("<-[", "]-")
_DOWN_ALL: LiteralString = "READ_BY|WRITES|PRECEDES|IMPLEMENTS|IMPLEMENTED_BY|HAS_COLUMN|DERIVES"
SHAPES: dict[LiteralString, tuple[LiteralString, LiteralString, LiteralString, bool]] = {
    "down_lineage": (*_DOWN, "READ_BY|WRITES|PRECEDES|IMPLEMENTS|IMPLEMENTED_BY", False),
    "down_columns": (*_DOWN, _DOWN_ALL, False),
    "down_columns_direct": (*_DOWN, _DOWN_ALL, True),
    "down_derives": (*_DOWN, "DERIVES", False),
    "down_derives_direct": (*_DOWN, "DERIVES", True),
    "up_lineage": (*_UP, "WRITES|READ_BY|PRECEDES|IMPLEMENTS|IMPLEMENTED_BY", False),
    "up_derives": (*_UP, "DERIVES", False),
    "up_derives_direct": (*_UP, "DERIVES", True),
}
# Var-length upper bounds a walk may use: the smallest one >= the requested depth ("" unbounded).
BOUNDS: tuple[LiteralString, ...] = ("2", "3", "5", "10", "20", "50", "100", "200", "")
_ONLY_DIRECT: LiteralString = (
    "WHERE all(r IN relationships(p) WHERE r.type IS NULL OR r.type = 'DIRECT') "
)


def _closure(shape: LiteralString, bound: LiteralString) -> LiteralString:
    left, right, types, direct = SHAPES[shape]
    return (
        "UNWIND $starts AS start MATCH (s) WHERE elementId(s) = start "
        "MATCH p = (s)"
        + left
        + ":"
        + types
        + "*1.."
        + bound
        + right
        + "(n) "
        + (_ONLY_DIRECT if direct else "")
        + "WITH n, min(length(p)) AS d WHERE d <= $depth "
        "RETURN n.key AS key, elementId(n) AS eid, d ORDER BY d LIMIT $cap"
    )


CLOSURE: dict[tuple[LiteralString, LiteralString], LiteralString] = {
    (shape, bound): _closure(shape, bound) for shape in SHAPES for bound in BOUNDS
}

# The relationships among the nodes a closure returned, in the walk's direction.
EDGES_AMONG: dict[str, LiteralString] = {
    "downstream": "UNWIND $eids AS id MATCH (a) WHERE elementId(a) = id "
    "MATCH (a)-[r:READ_BY|WRITES|PRECEDES|IMPLEMENTS|HAS_COLUMN|DERIVES]->(b) "
    "WHERE elementId(b) IN $eids "
    "RETURN a.key AS src, type(r) AS kind, r.type AS variant, b.key AS dst",
    "upstream": "UNWIND $eids AS id MATCH (a) WHERE elementId(a) = id "
    "MATCH (a)<-[r:WRITES|READ_BY|PRECEDES|IMPLEMENTS|HAS_COLUMN|DERIVES]-(b) "
    "WHERE elementId(b) IN $eids "
    "RETURN b.key AS src, type(r) AS kind, r.type AS variant, a.key AS dst",
}
OWNERS = """
UNWIND $eids AS id
MATCH (c:Column) WHERE elementId(c) = id
MATCH (d:Dataset)-[:HAS_COLUMN]->(c)
RETURN c.key AS column, d.key AS dataset, elementId(d) AS eid
"""
PROPS = """
UNWIND $eids AS id
MATCH (n) WHERE elementId(n) = id
RETURN n.key AS key, n.props_json AS props
"""
RUN_PROPS = """
UNWIND $keys AS k
MATCH (r:Run {key: k})
RETURN r.key AS key, r.props_json AS props
"""
