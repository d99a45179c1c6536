"""The node a lineage question is about, as query parameters: `nodeId=`, or the structured form
`namespace=` + `name=` (+ `field=` for a column; `kind=job` for a job) — exactly one of the two.

The structured form always names one node; a textual id that names several answers 409 listing
them (graph/queries.resolve)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query

from ripple.errors import InvalidNodeId
from ripple.graph.queries import NodeRef
from ripple.model import DatasetKey, FieldKey, JobKey

_FORMS = "either nodeId=, or namespace= and name= (and field= for a column)"


def node_ref(
    node_id: Annotated[
        str | None,
        Query(alias="nodeId", min_length=1, description="Node id (Marquez's form)"),
    ] = None,
    namespace: Annotated[
        str | None, Query(min_length=1, description="Namespace of the dataset or job")
    ] = None,
    name: Annotated[
        str | None, Query(min_length=1, description="Name of the dataset or job")
    ] = None,
    field: Annotated[str | None, Query(min_length=1, description="A column of the dataset")] = None,
    kind: Annotated[
        Literal["dataset", "job"], Query(description="What namespace= and name= name")
    ] = "dataset",
) -> NodeRef:
    """The node the request names; InvalidNodeId (400) naming the parameters otherwise."""
    structured = {"namespace": namespace, "name": name, "field": field}
    given = [key for key, value in structured.items() if value is not None]
    if node_id is not None:
        if given:
            raise InvalidNodeId(
                f"Give {_FORMS}, not both: nodeId= came with {'= and '.join(given)}="
            )
        return node_id
    if namespace is None or name is None:
        missing = " and ".join(f"{key}=" for key in ("namespace", "name") if key not in given)
        raise InvalidNodeId(f"Give {_FORMS}: {missing} missing")
    if field is not None:
        if kind != "dataset":
            raise InvalidNodeId("field= names a dataset's column: it goes with kind=dataset")
        return FieldKey(DatasetKey(namespace, name), field)
    return JobKey(namespace, name) if kind == "job" else DatasetKey(namespace, name)


NodeRefParam = Annotated[NodeRef, Depends(node_ref)]
