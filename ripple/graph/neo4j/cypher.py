"""Every Cypher statement the Neo4j store runs, as named constants; values are always `$params`.

A statement that answers with rows returns them as one list, `RETURN collect([...]) AS rows`: one
record crosses the wire instead of thousands, which is most of the client's cost otherwise.

Labels, relationship types and var-length bounds cannot be parameters, so the statements that
need one per label, type or bound are built here, once, from literal pieces.

Closure statements are shaped so that the planner turns the var-length expansion into a pruning
breadth-first search (`VarLengthExpand(Pruning,BFS)`): the path variable is used only under
`min(length(p))` — never `nodes(p)`, `relationships(p)` in the projection, or `max(...)`, which
enumerate paths. tests/integration/test_neo4j_plans.py asserts that operator for each of them.
"""

from __future__ import annotations

from typing import LiteralString

from ripple.graph.store import Direction

SCHEMA_VERSION = 4
# Statements that bring a graph of the previous version up to this one, by target version.
MIGRATIONS: dict[int, tuple[LiteralString, ...]] = {
    2: ("MATCH (t:AirflowTask)-[:IMPLEMENTS]->(j:Job) MERGE (j)-[:IMPLEMENTED_BY]->(t)",),
}
# Versions no statement can reach: the graph is cleared, and Ripple rebuilds it from the event
# log as it starts. 3: node ids became injective (model.py), and older graphs may hold two
# (namespace, name) pairs as one node, which only the log can tell apart.
# 4: datasets' other names became ALIAS_OF relationships, which only a replay adds.
REBUILT_AT: frozenset[int] = frozenset({3, 4})
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
# ALIASED_BY mirrors ALIAS_OF the same way, so a closure crosses an alias either way; and
# SAME_COLUMN joins the same-named columns of aliased datasets, both ways (written by
# LINK_COLUMNS). Neither is part of the model: walks read SAME_COLUMN back as ALIAS_OF, which
# the shared walk code treats as one node (graph/aliases.py), and nothing else reads them.
ALIAS_MIRROR: LiteralString = "ALIASED_BY"
SAME_COLUMN: LiteralString = "SAME_COLUMN"
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
    "ALIAS_OF",
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
PROJECTED_FROM = "MATCH (m:RippleProjection {key: 'log'}) RETURN m.log_id AS log"
SET_PROJECTED_FROM = "MERGE (m:RippleProjection {key: 'log'}) SET m.log_id = $log"
CLEAR = """
MATCH (n) WHERE NOT n:RippleSchema
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS
"""

# -- writes ------------------------------------------------------------------------------------

# Writes know what exists: every batch first reads the records, versions and columns it touches,
# then CREATEs what is new and updates what exists by element id. A relationship with an endpoint
# created in the same transaction cannot exist yet, so it is CREATEd too; only relationships
# between nodes that both existed before go through MERGE. Concurrent writers are kept apart by
# LOCK_RECORDS below: its index seeks lock each record key, present or absent, so a second batch
# touching the same dataset, job or run waits for the first to commit and then reads its nodes.
# Columns and column versions are read without locks (their dataset is locked), so a create race
# there is left to the uniqueness constraint: the losing batch rolls back whole and the store
# runs it again (Neo4jStore._write), reading the winner's node as existing.
_RECORD_SET: LiteralString = (
    "SET n.first_seen = r.first_seen, n.last_seen = r.last_seen, n.last_stamp = r.last_stamp, "
    "n.asserted_by = r.run, n.props_json = r.props, n.stamps_json = r.stamps SET n += r.flat "
)


def _read_records(label: LiteralString, lock: LiteralString = "") -> LiteralString:
    return (
        "UNWIND $keys AS k MATCH (n:" + label + " {key: k}) " + lock + "RETURN collect([n.key, "
        "elementId(n), n.first_seen, n.last_stamp, n.asserted_by, n.props_json, n.stamps_json]) "
        "AS rows"
    )


READ_RECORDS = {label: _read_records(label) for label in RECORD_LABELS}
# The write path reads the records it will merge under an exclusive lock (`SET n.key = n.key`
# takes the node's write lock), keys sorted so writers lock in one order: a concurrent batch that
# touches the same node waits instead of overwriting it with a merge of a stale read. Relationship
# records and column-fact versions are only written with their endpoint / dataset locked this way.
LOCK_RECORDS = {label: _read_records(label, "SET n.key = n.key ") for label in RECORD_LABELS}
CREATE_RECORDS: dict[LiteralString, LiteralString] = {
    label: "UNWIND $rows AS r CREATE (n:"
    + label
    + " {key: r.key}) "
    + _RECORD_SET
    + "RETURN collect([r.key, elementId(n)]) AS rows"
    for label in RECORD_LABELS
}
UPDATE_RECORDS = "UNWIND $rows AS r MATCH (n) WHERE elementId(n) = r.eid " + _RECORD_SET
READ_COLUMNS = """
UNWIND $keys AS k
MATCH (c:Column {key: k})
RETURN collect([k, elementId(c)]) AS rows
"""
CREATE_COLUMNS = """
UNWIND $rows AS r
CREATE (c:Column {key: r.key})
SET c.dataset = r.dataset, c.name = r.name
WITH r, c
OPTIONAL MATCH (d) WHERE elementId(d) = r.owner
FOREACH (_ IN CASE WHEN d IS NULL THEN [] ELSE [1] END | CREATE (d)-[:HAS_COLUMN]->(c))
RETURN collect([r.key, elementId(c)]) AS rows
"""
ATTACH_COLUMNS = """
UNWIND $rows AS r
MATCH (d) WHERE elementId(d) = r.owner
MATCH (c) WHERE elementId(c) = r.column
MERGE (d)-[:HAS_COLUMN]->(c)
"""


def _derives(verb: LiteralString) -> LiteralString:
    return (
        "UNWIND $rows AS r MATCH (a) WHERE elementId(a) = r.src "
        "MATCH (b) WHERE elementId(b) = r.dst " + verb + " (a)-[:DERIVES {type: r.type}]->(b)"
    )


CREATE_DERIVES = _derives("CREATE")
MERGE_DERIVES = _derives("MERGE")


def _rel(kind: LiteralString) -> LiteralString:
    return "[e:" + kind + " {type: r.variant}]" if kind == "DERIVES" else "[e:" + kind + "]"


def _write_edges(kind: LiteralString, verb: LiteralString) -> LiteralString:
    return (
        "UNWIND $rows AS r MATCH (a) WHERE elementId(a) = r.src "
        "MATCH (b) WHERE elementId(b) = r.dst " + verb + " (a)-" + _rel(kind) + "->(b) "
        "SET e.first_seen = r.first_seen, e.last_seen = r.last_seen, e.last_stamp = r.last_stamp, "
        "e.asserted_by = r.run, e.props_json = r.props, e.stamps_json = r.stamps"
        + (" " + verb + " (b)-[:" + MIRROR + "]->(a)" if kind == "IMPLEMENTS" else "")
        + (" " + verb + " (b)-[:" + ALIAS_MIRROR + "]->(a)" if kind == "ALIAS_OF" else "")
    )


READ_EDGES: dict[LiteralString, LiteralString] = {
    kind: "UNWIND $rows AS r MATCH (a) WHERE elementId(a) = r.src "
    "MATCH (a)-" + _rel(kind) + "->(b) WHERE elementId(b) = r.dst "
    "RETURN collect([r.i, e.first_seen, e.last_stamp, e.asserted_by, e.props_json, "
    "e.stamps_json]) AS rows"
    for kind in REL_TYPES
}
CREATE_EDGES: dict[LiteralString, LiteralString] = {
    kind: _write_edges(kind, "CREATE") for kind in REL_TYPES
}
MERGE_EDGES: dict[LiteralString, LiteralString] = {
    kind: _write_edges(kind, "MERGE") for kind in REL_TYPES
}
READ_VERSIONS = """
UNWIND $keys AS k
MATCH (v:ColumnVersion {key: k})
RETURN collect([v.key, elementId(v), v.first_seen, v.last_stamp, v.asserted_by]) AS rows
"""
CREATE_VERSIONS = """
UNWIND $rows AS r
CREATE (v:ColumnVersion {key: r.key})
SET v.dataset = r.dataset, v.version = r.version, v.payload_json = r.payload,
    v.first_seen = r.first_seen, v.last_seen = r.last_seen, v.last_stamp = r.last_stamp,
    v.asserted_by = r.run
"""
UPDATE_VERSIONS = """
UNWIND $rows AS r
MATCH (v) WHERE elementId(v) = r.eid
SET v.first_seen = r.first_seen, v.last_seen = r.last_seen, v.last_stamp = r.last_stamp,
    v.asserted_by = r.run
"""

# The same-named columns of a dataset and of each dataset in its alias group, joined both ways
# (a column key is 'datasetField:' + the dataset key after 'dataset:' + ':' + the field).
LINK_COLUMNS = """
UNWIND $keys AS k
MATCH (d:Dataset {key: k})-[:ALIAS_OF|ALIASED_BY*1..20]->(o:Dataset)
WHERE o <> d
WITH DISTINCT d, o
MATCH (d)-[:HAS_COLUMN]->(c:Column)
WITH o, c, substring(c.key, size(d.key) + 6) AS field
MATCH (t:Column {key: 'datasetField:' + substring(o.key, 8) + ':' + field})
MERGE (c)-[:SAME_COLUMN]->(t)
MERGE (t)-[:SAME_COLUMN]->(c)
"""
HAS_ALIASES = "MATCH ()-[r:ALIAS_OF]->() RETURN count(r) > 0 AS found"
# A dataset's or column's key, and the other members of its alias group.
ALIAS_GROUP: dict[LiteralString, LiteralString] = {
    label: "UNWIND $keys AS k MATCH (s:" + label + " {key: k}) "
    "OPTIONAL MATCH (s)-[:ALIAS_OF|ALIASED_BY|SAME_COLUMN*1..20]->(o) "
    "WITH s, collect(DISTINCT [o.key, elementId(o)]) AS others "
    "RETURN collect([s.key, elementId(s), others]) AS rows"
    for label in ("Dataset", "Column")
}

# -- reads -------------------------------------------------------------------------------------

LOCATE: dict[LiteralString, LiteralString] = {
    label: "UNWIND $keys AS k MATCH (n:" + label + " {key: k}) "
    "RETURN collect([n.key, elementId(n), n.props_json]) AS rows"
    for label in LABELS.values()
}
# A run's job is its `job` property, mirrored natively beside props_json (see records.py).
JOBS_OF = "UNWIND $keys AS k MATCH (r:Run {key: k}) RETURN collect([r.key, r.job]) AS rows"
VERSIONS_OF = """
UNWIND $datasets AS k
MATCH (v:ColumnVersion {dataset: k})
RETURN collect([v.dataset, v.version, v.first_seen, v.last_stamp, v.asserted_by,
                v.payload_json]) AS rows
"""
COLUMN_CONTEXT = """
UNWIND $keys AS k
MATCH (c:Column {key: k})
OPTIONAL MATCH (d:Dataset)-[:HAS_COLUMN]->(c)
RETURN collect([c.key, d.key]) AS rows
"""
COLUMN_TARGETS = """
UNWIND $keys AS k
MATCH (c:Column {key: k})-[r:DERIVES]->(t:Column)
OPTIONAL MATCH (o:Dataset)-[:HAS_COLUMN]->(t)
RETURN collect([c.key, r.type, t.key, o.key]) AS rows
"""
NEIGHBOURHOOD = """
UNWIND $eids AS id
MATCH (n) WHERE elementId(n) = id
CALL (n) {
    MATCH (n)-[r]->(m) RETURN n.key AS src, type(r) AS kind, r.type AS variant, m.key AS dst
  UNION ALL
    MATCH (n)<-[r]-(m) RETURN m.key AS src, type(r) AS kind, r.type AS variant, n.key AS dst
}
RETURN collect([src, kind, variant, dst]) AS rows
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
RETURN collect([v.dataset, v.version, v.first_seen, v.last_stamp, v.asserted_by,
                v.payload_json]) AS rows
"""

# -- walks -------------------------------------------------------------------------------------

# The first hop of run roots (and a dataset root's own columns, walked upstream).
FIRST_HOP: dict[LiteralString, LiteralString] = {
    kind: "MATCH (s) WHERE elementId(s) = $root MATCH (s)-[:" + kind + "]->(n) "
    "WITH DISTINCT n RETURN collect([n.key, elementId(n)]) AS rows"
    for kind in ("PRODUCED", "READ", "HAS_COLUMN")
}

# Shapes: (arrow in, arrow out, relationship types, only DIRECT column lineage)
_DOWN: tuple[LiteralString, LiteralString] = ("-[", "]->")
_UP: tuple[LiteralString, LiteralString] = ("<-[", "]-")
# Every closure also crosses aliases (ALIAS_OF, its mirror, SAME_COLUMN): a walk takes an alias
# group as one node, so it must reach all of its members (graph/aliases.py).
_ALIASES: LiteralString = "ALIAS_OF|ALIASED_BY|SAME_COLUMN"
_ALIAS_TYPES = frozenset(_ALIASES.split("|"))
_DOWN_ALL: LiteralString = (
    "READ_BY|WRITES|PRECEDES|IMPLEMENTS|IMPLEMENTED_BY|HAS_COLUMN|DERIVES|" + _ALIASES
)
SHAPES: dict[LiteralString, tuple[LiteralString, LiteralString, LiteralString, bool]] = {
    "down_lineage": (
        *_DOWN,
        "READ_BY|WRITES|PRECEDES|IMPLEMENTS|IMPLEMENTED_BY|" + _ALIASES,
        False,
    ),
    "down_columns": (*_DOWN, _DOWN_ALL, False),
    "down_columns_direct": (*_DOWN, _DOWN_ALL, True),
    "down_derives": (*_DOWN, "DERIVES|" + _ALIASES, False),
    "down_derives_direct": (*_DOWN, "DERIVES|" + _ALIASES, True),
    "up_lineage": (*_UP, "WRITES|READ_BY|PRECEDES|IMPLEMENTS|IMPLEMENTED_BY|" + _ALIASES, False),
    "up_derives": (*_UP, "DERIVES|" + _ALIASES, False),
    "up_derives_direct": (*_UP, "DERIVES|" + _ALIASES, True),
}
# The shape whose pattern walks (direction, these relationship types, only DIRECT column lineage).
SHAPE_OF: dict[tuple[Direction, frozenset[str], bool], LiteralString] = {
    (
        Direction.DOWNSTREAM if (left, right) == _DOWN else Direction.UPSTREAM,
        frozenset(types.split("|")) - _ALIAS_TYPES,
        direct,
    ): shape
    for shape, (left, right, types, direct) in SHAPES.items()
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
        "WITH n, d ORDER BY d LIMIT $cap RETURN collect([n.key, elementId(n), d]) AS rows"
    )


CLOSURE: dict[tuple[LiteralString, LiteralString], LiteralString] = {
    (shape, bound): _closure(shape, bound) for shape in SHAPES for bound in BOUNDS
}

# A downstream walk from a dataset, job or task in one statement: the root found by key, its
# pruned closure cut to the `$cap` nearest, and every relationship out of those nodes of the types
# the walk reads back (the caller drops the few whose far end is not among them: past the depth
# or the cap). One round trip, and no element ids sent back to the server.
_DOWN_EDGES: dict[LiteralString, LiteralString] = {
    "down_lineage": "READ_BY|WRITES|PRECEDES|IMPLEMENTS|ALIAS_OF|SAME_COLUMN",
    "down_columns": "READ_BY|WRITES|PRECEDES|IMPLEMENTS|HAS_COLUMN|DERIVES|ALIAS_OF|SAME_COLUMN",
    "down_columns_direct": (
        "READ_BY|WRITES|PRECEDES|IMPLEMENTS|HAS_COLUMN|DERIVES|ALIAS_OF|SAME_COLUMN"
    ),
}
WALK_ROOT_LABELS: tuple[LiteralString, ...] = ("Dataset", "Job", "AirflowTask")


def _walk_down(label: LiteralString, shape: LiteralString, bound: LiteralString) -> LiteralString:
    _, _, types, direct = SHAPES[shape]
    return (
        "MATCH (s:" + label + " {key: $root}) "
        "CALL (s) { MATCH p = (s)-[:"
        + types
        + "*1.."
        + bound
        + "]->(n) "
        + (_ONLY_DIRECT if direct else "")
        + "WITH n, min(length(p)) AS d WHERE d <= $depth "
        "WITH n, d ORDER BY d LIMIT $cap "
        "RETURN collect(n) AS found, collect(n.key) AS reached } "
        "CALL (s, found) { UNWIND [s] + found AS a "
        "MATCH (a)-[r:" + _DOWN_EDGES[shape] + "]->(b) "
        "RETURN collect([a.key, type(r), r.type, b.key]) AS edges } "
        "RETURN s.props_json AS props, reached, edges"
    )


WALK_DOWN: dict[tuple[LiteralString, LiteralString, LiteralString], LiteralString] = {
    (label, shape, bound): _walk_down(label, shape, bound)
    for label in WALK_ROOT_LABELS
    for shape in _DOWN_EDGES
    for bound in BOUNDS
}

# The relationships among the nodes a closure returned, in the walk's direction.
EDGES_AMONG: dict[Direction, LiteralString] = {
    Direction.DOWNSTREAM: "UNWIND $eids AS id MATCH (a) WHERE elementId(a) = id "
    "MATCH (a)-[r:READ_BY|WRITES|PRECEDES|IMPLEMENTS|HAS_COLUMN|DERIVES|ALIAS_OF|"
    "SAME_COLUMN]->(b) "
    "WHERE elementId(b) IN $eids "
    "RETURN collect([a.key, type(r), r.type, b.key]) AS rows",
    Direction.UPSTREAM: "UNWIND $eids AS id MATCH (a) WHERE elementId(a) = id "
    "MATCH (a)<-[r:WRITES|READ_BY|PRECEDES|IMPLEMENTS|HAS_COLUMN|DERIVES|ALIAS_OF|"
    "SAME_COLUMN]-(b) "
    "WHERE elementId(b) IN $eids "
    "RETURN collect([b.key, type(r), r.type, a.key]) AS rows",
}
# The other members of some datasets' alias groups.
ALIAS_GROUP_OF = """
UNWIND $eids AS id
MATCH (s:Dataset) WHERE elementId(s) = id
MATCH (s)-[:ALIAS_OF|ALIASED_BY*1..20]->(o:Dataset)
WITH DISTINCT o
RETURN collect([o.key, elementId(o)]) AS rows
"""
# The alias relationships among some datasets (the owners of a walk's columns, added late).
ALIASES_AMONG = """
UNWIND $eids AS id
MATCH (a:Dataset) WHERE elementId(a) = id
MATCH (a)-[r:ALIAS_OF]->(b:Dataset) WHERE elementId(b) IN $eids
RETURN collect([a.key, type(r), r.type, b.key]) AS rows
"""
OWNERS = """
UNWIND $eids AS id
MATCH (c:Column) WHERE elementId(c) = id
MATCH (d:Dataset)-[:HAS_COLUMN]->(c)
RETURN collect([c.key, d.key, elementId(d)]) AS rows
"""
PROPS = """
UNWIND $eids AS id
MATCH (n) WHERE elementId(n) = id
RETURN collect([n.key, n.props_json]) AS rows
"""
RUN_PROPS = """
UNWIND $keys AS k
MATCH (r:Run {key: k})
RETURN collect([r.key, r.props_json]) AS rows
"""
