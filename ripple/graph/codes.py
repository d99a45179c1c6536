"""Dense integer codes for node kinds and edge kinds in the in-memory graph, and the other small
facts of its layout (id prefixes, column-fact version tags) that graph/native.py hands to C.

An adjacency entry is `(other_node << 4) | edge_code`; an edge key is
`(src << 40) | (dst << 4) | edge_code`. DERIVES has one code per transformation type.
"""

from __future__ import annotations

from ripple.model import DIRECT_TYPE, ID_SEPARATOR, INDIRECT_TYPE, EdgeKind, NodeKind

NODE_KINDS: tuple[NodeKind, ...] = tuple(NodeKind)
NODE_CODE = {kind: i for i, kind in enumerate(NODE_KINDS)}
EDGE_CODES: tuple[tuple[EdgeKind, str], ...] = (
    (EdgeKind.READ_BY, ""),
    (EdgeKind.WRITES, ""),
    (EdgeKind.HAS_COLUMN, ""),
    (EdgeKind.DERIVES, DIRECT_TYPE),
    (EdgeKind.DERIVES, INDIRECT_TYPE),
    (EdgeKind.RUN_OF, ""),
    (EdgeKind.READ, ""),
    (EdgeKind.PRODUCED, ""),
    (EdgeKind.CHILD_OF, ""),
    (EdgeKind.CONTAINS, ""),
    (EdgeKind.IMPLEMENTS, ""),
    (EdgeKind.PRECEDES, ""),
    (EdgeKind.ALIAS_OF, ""),
)
EDGE_CODE = {pair: i for i, pair in enumerate(EDGE_CODES)}
EDGE_NAMES = [(kind.value, variant) for kind, variant in EDGE_CODES]
EDGE_CODE_OF_NAMES = {name: i for i, name in enumerate(EDGE_NAMES)}  # ("DERIVES", "DIRECT") -> 3
# Neo4j joins aliased columns by a relationship of their own, read back as an alias edge.
EDGE_CODE_OF_NAMES[("SAME_COLUMN", "")] = EDGE_CODE_OF_NAMES[("ALIAS_OF", "")]
KIND_VALUES = [kind.value for kind in NODE_KINDS]
NODE_CODE_OF_PREFIX = {value: i for i, value in enumerate(KIND_VALUES)}  # "dataset" -> 0
INDIRECT = EDGE_CODE[(EdgeKind.DERIVES, INDIRECT_TYPE)]
DIRECT = EDGE_CODE[(EdgeKind.DERIVES, DIRECT_TYPE)]
HAS_COLUMN = EDGE_CODE[(EdgeKind.HAS_COLUMN, "")]
ALIAS = EDGE_CODE[(EdgeKind.ALIAS_OF, "")]
COLUMN = NODE_CODE[NodeKind.COLUMN]

# A node id starts with its kind's prefix: "dataset:", "datasetField:", ... A column's id is its
# dataset's id with the column prefix for the dataset one, plus ":<field>".
ID_PREFIX = {kind: kind.value + ID_SEPARATOR for kind in NODE_KINDS}

# A dataset's column-fact versions are keyed by tag + digest: a schema's, or a column lineage's
# (the parser's memo keys its facets' JSON by the same tags).
SCHEMA_TAG = "s"
LINEAGE_TAG = "l"


def column_prefix(dataset_id: str) -> str:
    """What a column id of the dataset starts with (its field name follows)."""
    return (
        ID_PREFIX[NodeKind.COLUMN] + dataset_id[len(ID_PREFIX[NodeKind.DATASET]) :] + ID_SEPARATOR
    )


def kind_of_id(node_id: str) -> NodeKind:
    """The kind an id's prefix names; ValueError for none."""
    return NodeKind(node_id.split(ID_SEPARATOR, 1)[0])
