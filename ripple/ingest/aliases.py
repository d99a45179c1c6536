"""A dataset's other names, as ALIAS_OF edges added to a projected delta (pure; no I/O).

One table is often named several ways: Spark writes it by its location and declares the table
name in the `symlinks` facet; Trino reads it by the table name; a rename leaves the old name in
older events; producers spell a namespace `postgresql://db` or `postgres://db:5432`. Each of
those becomes an edge `(:Dataset)-[:ALIAS_OF]->(:Dataset)` pointing at the name to prefer, and the
walks (graph/walk.py) treat the datasets an edge joins as one:

- a `symlinks` identifier of type TABLE is preferred over the dataset that declares it (a table
  name over a location); an identifier of any other type points at the declaring dataset;
- a `lifecycleStateChange` RENAME points from its `previousIdentifier` to the new name;
- a name the naming rules (`Naming`) rewrite points from the producer's spelling to the
  normalised one.

Edges only ever add to the graph, and each one depends only on the event that asserts it, so any
arrival order gives the same graph, and a name learnt late is one edge, not a rebuild. The edge's
`type` property says why it exists (the symlink type, RENAME or VARIANT).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ripple.graph.aliases import LIFECYCLE
from ripple.graph.delta import EdgeUpsert, GraphDelta, NodeUpsert
from ripple.model import DatasetKey, EdgeKind, Facet, NodeKind, Prop

SYMLINKS: Final = Prop.FACET + Facet.SYMLINKS
TABLE: Final = "TABLE"  # the symlink type whose name is preferred
RENAME: Final = "RENAME"
VARIANT: Final = "VARIANT"  # a producer's spelling the naming rules rewrote

# The OpenLineage naming spec's form of the common database namespaces: `<scheme>://host:port`.
SCHEME_ALIASES: Final[Mapping[str, str]] = {"postgresql": "postgres", "sqlserver": "mssql"}
DEFAULT_PORTS: Final[Mapping[str, int]] = {
    "postgres": 5432,
    "mysql": 3306,
    "redshift": 5439,
    "mssql": 1433,
    "oracle": 1521,
    "trino": 8080,
    "db2": 50000,
    "teradata": 1025,
}


@dataclass(frozen=True, slots=True)
class Naming:
    """How producers' dataset names are normalised at ingest (the original kept as an alias).

    `schemes` renames a namespace's scheme, `ports` adds a scheme's default port when the
    namespace has none, trailing slashes are dropped from namespaces and names, and the names
    in namespaces matching one of `case_insensitive` (globs) are lower-cased."""

    enabled: bool = True
    schemes: Mapping[str, str] = field(default_factory=lambda: dict(SCHEME_ALIASES))
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    case_insensitive: tuple[str, ...] = ()

    def normalise(self, namespace: str, name: str) -> tuple[str, str]:
        """The spec's spelling of (namespace, name); the pair itself when it already is."""
        if not self.enabled:
            return namespace, name
        scheme, sep, rest = namespace.partition("://")
        if sep:
            scheme_key = scheme.lower()
            scheme = self.schemes.get(
                scheme_key, scheme_key if scheme_key in self.ports else scheme
            )
            rest = rest.rstrip("/")
            port = self.ports.get(scheme)
            if port is not None and rest and "/" not in rest and not _has_port(rest):
                rest = f"{rest}:{port}"
            namespace = f"{scheme}://{rest}"
        elif namespace.endswith("/") and namespace.strip("/"):
            namespace = namespace.rstrip("/")
        if len(name) > 1 and name.endswith("/") and name.strip("/"):
            name = name.rstrip("/")
        if self.case_insensitive and any(
            fnmatch.fnmatchcase(namespace, glob) for glob in self.case_insensitive
        ):
            name = name.lower()
        return namespace, name


def _has_port(authority: str) -> bool:
    _, sep, port = authority.rpartition(":")
    return bool(sep) and port.isdigit()


def link(deltas: Iterable[GraphDelta], naming: Naming) -> None:
    """Add to each delta the ALIAS_OF edges its datasets' facets and names imply (in place;
    linking a delta twice adds nothing new)."""
    for delta in deltas:
        _link(delta, naming)


def _link(delta: GraphDelta, naming: Naming) -> None:
    added: list[tuple[DatasetKey, DatasetKey, str]] = []  # (alias, preferred, why)
    for node in delta.nodes:
        if node.kind != NodeKind.DATASET:
            continue
        props = node.props
        namespace, name = props.get(Prop.NAMESPACE), props.get(Prop.NAME)
        if not isinstance(namespace, str) or not isinstance(name, str):
            continue
        key = DatasetKey(namespace, name)
        symlinks = props.get(SYMLINKS)
        if symlinks is not None:
            for other, kind in _identifiers(symlinks):
                if other != key:
                    added.append((key, other, kind) if kind == TABLE else (other, key, kind))
        lifecycle = props.get(LIFECYCLE)
        if lifecycle is not None:
            previous = _previous(lifecycle)
            if previous is not None and previous != key:
                added.append((previous, key, RENAME))
    if naming.enabled:
        named = [(k, naming_key(naming, k)) for k in _dataset_keys(delta)]
        named = [(original, normalised) for original, normalised in named if original != normalised]
        added = [(naming_key(naming, a), naming_key(naming, b), why) for a, b, why in added]
        added.extend((original, normalised, VARIANT) for original, normalised in named)
    if not added:
        return
    present = {n.id for n in delta.nodes}
    for alias, preferred, why in added:
        if alias == preferred:
            continue
        for key in (alias, preferred):
            if key.node_id not in present:
                present.add(key.node_id)
                props = {Prop.NAMESPACE: key.namespace, Prop.NAME: key.name}
                delta.nodes.append(NodeUpsert(key.node_id, NodeKind.DATASET, props))
        edge = EdgeUpsert(alias.node_id, EdgeKind.ALIAS_OF, preferred.node_id, {"type": why})
        if not any(
            e.kind is EdgeKind.ALIAS_OF and e.src == edge.src and e.dst == edge.dst
            for e in delta.edges
        ):
            delta.edges.append(edge)


def naming_key(naming: Naming, key: DatasetKey) -> DatasetKey:
    namespace, name = naming.normalise(key.namespace, key.name)
    return key if (namespace, name) == (key.namespace, key.name) else DatasetKey(namespace, name)


def _dataset_keys(delta: GraphDelta) -> list[DatasetKey]:
    """The key of each dataset the delta names, as the producer spelt it."""
    found = []
    for node in delta.nodes:
        if node.kind != NodeKind.DATASET:
            continue
        namespace, name = node.props.get(Prop.NAMESPACE), node.props.get(Prop.NAME)
        if isinstance(namespace, str) and isinstance(name, str):
            found.append(DatasetKey(namespace, name))
    return found


def _identifiers(facet: Any) -> list[tuple[DatasetKey, str]]:
    """The (name, type) pairs a symlinks facet declares; malformed entries are skipped (the
    parsers already warned about them)."""
    if not isinstance(facet, dict):
        return []
    items = facet.get("identifiers")
    if not isinstance(items, list):
        return []
    found = []
    for item in items:
        if not isinstance(item, dict):
            continue
        namespace, name, kind = item.get("namespace"), item.get("name"), item.get("type")
        if isinstance(namespace, str) and namespace and isinstance(name, str) and name:
            found.append((DatasetKey(namespace, name), str(kind).upper() if kind else ""))
    return found


def _previous(facet: Any) -> DatasetKey | None:
    if not isinstance(facet, dict) or str(facet.get("lifecycleStateChange", "")).upper() != RENAME:
        return None
    previous = facet.get("previousIdentifier")
    if not isinstance(previous, dict):
        return None
    namespace, name = previous.get("namespace"), previous.get("name")
    if isinstance(namespace, str) and namespace and isinstance(name, str) and name:
        return DatasetKey(namespace, name)
    return None
