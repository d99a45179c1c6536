"""Whatever a client sends, the answer is 201 or a 4xx that says why — never a 500."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = [
    "eventType",
    "eventTime",
    "run",
    "job",
    "inputs",
    "outputs",
    "producer",
    "schemaURL",
    "runId",
    "namespace",
    "name",
    "facets",
    "fields",
    "inputFields",
    "columnLineage",
    "schema",
    "parent",
    "transformations",
    "type",
    "field",
    "dataset",
]
event_like = st.recursive(
    json_values,
    lambda inner: (
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=6) | st.lists(inner, max_size=3)
    ),
    max_leaves=30,
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(doc=event_like)
def test_random_events_never_500(client: TestClient, doc: Any) -> None:
    body = orjson.dumps(doc)
    single = client.post("/api/v1/lineage", content=body)
    assert single.status_code in (201, 400, 413, 422), single.text
    assert single.status_code == 201 or "error" in single.json()
    batch = client.post("/api/v1/lineage/batch", content=orjson.dumps([doc, doc]))
    assert batch.status_code in (200, 400, 413, 422), batch.text


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_random_bytes_never_500(client: TestClient, raw: bytes) -> None:
    for headers in ({}, {"Content-Encoding": "gzip"}):
        response = client.post("/api/v1/lineage", content=raw, headers=headers)
        assert response.status_code in (201, 400, 413, 422), response.text
    response = client.post(
        "/api/v1/lineage", content=gzip.compress(raw), headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code in (201, 400, 413, 422), response.text
    response = client.post("/api/v1/lineage/batch", content=raw)
    assert response.status_code in (200, 400, 413, 422), response.text
