"""Dense integer codes for node kinds and edge kinds in the in-memory graph.

An adjacency entry is `(other_node << 4) | edge_code`; an edge key is
`(src << 40) | (dst << 4) | edge_code`. DERIVES has one code per transformation type.
"""

from __future__ import annotations

from ripple.model import EdgeKind, NodeKind

NODE_KINDS: tuple[NodeKind, ...] = tuple(NodeKind)
NODE_CODE = {kind: i for i, kind in enumerate(NODE_KINDS)}
EDGE_CODES: tuple[tuple[EdgeKind, str], ...] = (
    (EdgeKind.READ_BY, ""),
    (EdgeKind.WRITES, ""),
    (EdgeKind.HAS_COLUMN, ""),
    (EdgeKind.DERIVES, "DIRECT"),
    (EdgeKind.DERIVES, "INDIRECT"),
    (EdgeKind.RUN_OF, ""),
    (EdgeKind.READ, ""),
    (EdgeKind.PRODUCED, ""),
    (EdgeKind.CHILD_OF, ""),
    (EdgeKind.CONTAINS, ""),
    (EdgeKind.IMPLEMENTS, ""),
    (EdgeKind.PRECEDES, ""),
)
EDGE_CODE = {pair: i for i, pair in enumerate(EDGE_CODES)}
EDGE_NAMES = [(kind.value, variant) for kind, variant in EDGE_CODES]
EDGE_CODE_OF_NAMES = {name: i for i, name in enumerate(EDGE_NAMES)}  # ("DERIVES", "DIRECT") -> 3
KIND_VALUES = [kind.value for kind in NODE_KINDS]
NODE_CODE_OF_PREFIX = {value: i for i, value in enumerate(KIND_VALUES)}  # "dataset" -> 0
INDIRECT = EDGE_CODE[(EdgeKind.DERIVES, "INDIRECT")]
DIRECT = EDGE_CODE[(EdgeKind.DERIVES, "DIRECT")]
HAS_COLUMN = EDGE_CODE[(EdgeKind.HAS_COLUMN, "")]
COLUMN = NODE_CODE[NodeKind.COLUMN]
