"""POST /api/v1/lineage and /lineage/batch: Marquez's contract, strict where the graph needs it."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ripple.api.app import create_app
from ripple.config import Settings
from tests.http import local_client


def event(job: str = "load", run_id: str | None = None, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "eventType": "COMPLETE",
        "eventTime": "2024-05-01T10:00:00Z",
        "run": {"runId": run_id or str(uuid.uuid4())},
        "job": {"namespace": "etl", "name": job},
        "inputs": [{"namespace": "pg", "name": "raw.orders"}],
        "outputs": [{"namespace": "pg", "name": "stg.orders"}],
        "producer": "tests",
    }
    doc.update(extra)
    return doc


def test_single_event_is_created_and_projected(client: TestClient) -> None:
    response = client.post("/api/v1/lineage", json=event())
    assert response.status_code == 201
    impact = client.get("/api/v1/impact", params={"nodeId": "dataset:pg:raw.orders"}).json()
    assert {n["id"] for n in impact["nodes"]} == {"job:etl:load", "dataset:pg:stg.orders"}


def test_gzip_body_is_accepted(client: TestClient) -> None:
    body = gzip.compress(json.dumps(event()).encode())
    response = client.post("/api/v1/lineage", content=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 201


def test_not_json_is_400(client: TestClient) -> None:
    response = client.post("/api/v1/lineage", content=b'{"eventType": ')
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_bad_gzip_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/v1/lineage", content=b"not gzip", headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 400


def test_invalid_event_names_path_value_and_reason(client: TestClient) -> None:
    response = client.post("/api/v1/lineage", json=event(run={"runId": "not-a-uuid"}))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["path"] == "$.run.runId"
    assert error["value"] == "not-a-uuid"
    assert error["reason"] == "must be a UUID"


def test_missing_job_name_is_422(client: TestClient) -> None:
    response = client.post("/api/v1/lineage", json=event(job=""))
    assert response.status_code == 422
    assert response.json()["error"]["path"] == "$.job.name"


def test_facet_that_is_not_an_object_is_dropped_with_a_warning(client: TestClient) -> None:
    doc = event()
    doc["run"]["facets"] = {"nominalTime": "yesterday"}
    response = client.post("/api/v1/lineage", json=doc)
    assert response.status_code == 201
    [warning] = response.json()["warnings"]
    assert warning["path"] == warning["dropped"] == "$.run.facets.nominalTime"


def test_array_on_single_endpoint_is_422(client: TestClient) -> None:
    response = client.post("/api/v1/lineage", json=[event()])
    assert response.status_code == 422


def test_lenient_where_marquez_is(client: TestClient) -> None:
    doc = event(eventTime="2024-05-01T10:00:00.123456789")
    del doc["eventType"]
    doc["run"]["facets"] = {"somethingCustom": {"anything": [1, 2, 3]}}
    assert client.post("/api/v1/lineage", json=doc).status_code == 201
    run = client.get("/api/v1/nodes", params={"nodeId": f"run:{doc['run']['runId']}"}).json()
    assert run["props"]["facet.somethingCustom"] == {"anything": [1, 2, 3]}


def test_body_over_limit_is_413(client: TestClient) -> None:
    doc = event(job="x" * (70 * 1024))
    response = client.post("/api/v1/lineage", json=doc)
    assert response.status_code == 413
    assert "exceeds the limit" in response.json()["error"]["message"]


def test_gzip_bomb_over_limit_is_413(client: TestClient) -> None:
    body = gzip.compress(b'{"a": "' + b"x" * (1024 * 1024) + b'"}')
    response = client.post("/api/v1/lineage", content=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413


def test_rejected_event_never_reaches_graph(client: TestClient) -> None:
    doc = event(job="bad", run={"runId": "nope"})
    client.post("/api/v1/lineage", json=doc)
    response = client.get("/api/v1/nodes", params={"nodeId": "job:etl:bad"})
    assert response.status_code == 404


def test_batch_array_reports_each_event(client: TestClient) -> None:
    good, bad = event(job="a"), event(job="b", run={})
    response = client.post("/api/v1/lineage/batch", json=[good, bad, event(job="c")])
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "accepted"]
    assert body["results"][1]["error"]["path"] == "$.run.runId"


def test_batch_ndjson_with_a_broken_line(client: TestClient) -> None:
    lines = [json.dumps(event(job="a")), "{broken", json.dumps(event(job="b"))]
    response = client.post(
        "/api/v1/lineage/batch",
        content="\n".join(lines),
        headers={"Content-Type": "application/x-ndjson"},
    )
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert body["results"][1]["line"] == 2
    assert "not valid JSON" in body["results"][1]["error"]["reason"]


def test_same_event_twice_is_idempotent(client: TestClient) -> None:
    doc = event(job="twice", run_id=str(uuid.uuid4()))
    client.post("/api/v1/lineage", json=doc)
    first = client.get("/api/v1/impact", params={"nodeId": "dataset:pg:raw.orders"}).json()
    client.post("/api/v1/lineage", json=doc)
    second = client.get("/api/v1/impact", params={"nodeId": "dataset:pg:raw.orders"}).json()
    assert first == second


def test_single_and_batch_posts_take_the_c_reader(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One reader ladder for every route: a single POST and a batch both go through the C
    projection first when it is built (the Python twins answer alike when it is not)."""
    from ripple.graph.native import NATIVE

    if NATIVE is None:
        pytest.skip("the C loops are not built here (RIPPLE_NATIVE=0 or no compiler)")
    calls: list[str] = []
    single, many = NATIVE.project, NATIVE.project_many

    def project(*args: Any) -> Any:
        calls.append("project")
        return single(*args)

    def project_many(*args: Any) -> Any:
        calls.append("project_many")
        return many(*args)

    monkeypatch.setattr(NATIVE, "project", project)
    monkeypatch.setattr(NATIVE, "project_many", project_many)
    assert client.post("/api/v1/lineage", json=event("one")).status_code == 201
    body = "\n".join(json.dumps(event(f"b{i}")) for i in range(3))
    answer = client.post("/api/v1/lineage/batch", content=body)
    assert answer.json()["accepted"] == 3
    assert calls == ["project", "project_many"]
    impact = client.get("/api/v1/impact", params={"nodeId": "dataset:pg:raw.orders"}).json()
    assert {"job:etl:one", "job:etl:b0", "job:etl:b2"} <= {n["id"] for n in impact["nodes"]}


def test_text_that_is_not_utf8_is_a_rejection_not_a_crash(client: TestClient) -> None:
    """A string that is not UTF-8 inside an event: a 400 for a single POST; in a batch, that
    event is rejected and its neighbours are kept."""
    good = json.dumps(event("kept")).encode()
    bad = good.replace(b'"kept"', b'"\x80"')
    single = client.post("/api/v1/lineage", content=bad)
    assert single.status_code == 400, single.text
    assert "UTF-8" in single.json()["error"]["message"]
    answer = client.post("/api/v1/lineage/batch", content=b"\n".join([bad, good, b'"\x80"']))
    assert answer.status_code == 200, answer.text
    statuses = [r["status"] for r in answer.json()["results"]]
    assert statuses == ["rejected", "accepted", "rejected"]
    assert client.get("/api/v1/nodes", params={"nodeId": "job:etl:kept"}).status_code == 200


# gzip: every member read, a damaged stream refused, the same answer as `ripple ingest` gives.


def post_gzip(client: TestClient, path: str, stream: bytes) -> Any:
    return client.post(path, content=stream, headers={"Content-Encoding": "gzip"})


def test_gzip_batch_of_several_members_keeps_every_member(client: TestClient) -> None:
    first = gzip.compress(json.dumps(event("m1")).encode() + b"\n")
    second = gzip.compress(json.dumps(event("m2")).encode() + b"\n")
    answer = post_gzip(client, "/api/v1/lineage/batch", first + second)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
    whole = json.dumps(event("split")).encode()  # one event cut across two members
    single = gzip.compress(whole[:40]) + gzip.compress(whole[40:])
    assert post_gzip(client, "/api/v1/lineage", single).status_code == 201
    for job in ("m1", "m2", "split"):
        assert client.get("/api/v1/nodes", params={"nodeId": f"job:etl:{job}"}).status_code == 200


@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (gzip.compress(json.dumps(event("cut")).encode())[:-6], "truncated"),
        (gzip.compress(json.dumps(event("tail")).encode()) + b"junk", "not gzip"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/lineage", "/api/v1/lineage/batch"])
def test_truncated_or_trailing_garbage_gzip_is_400(
    client: TestClient, path: str, stream: bytes, reason: str
) -> None:
    answer = post_gzip(client, path, stream)
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["error"]["message"]
    for job in ("cut", "tail"):
        assert client.get("/api/v1/nodes", params={"nodeId": f"job:etl:{job}"}).status_code == 404


def test_gzip_bomb_in_many_members_is_413(client: TestClient) -> None:
    member = gzip.compress(b"\n" * 40_000)  # 64 KiB allowed; together they pass it
    answer = post_gzip(client, "/api/v1/lineage/batch", member * 2)
    assert answer.status_code == 413, answer.text
    assert "RIPPLE_MAX_BODY_BYTES" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    "stream",
    [
        gzip.compress(b"".join(json.dumps(event(f"a{i}")).encode() + b"\n" for i in range(3)))
        + gzip.compress(json.dumps(event("a3")).encode() + b"\n"),
        gzip.compress(json.dumps(event("b0")).encode() + b"\n")[:-5],
        gzip.compress(json.dumps(event("c0")).encode() + b"\n") + b"\x1f\x8bjunk",
    ],
    ids=["multi-member", "truncated", "trailing-garbage"],
)
def test_http_and_file_ingest_agree_on_a_gzip_stream(
    client: TestClient, tmp_path: Path, stream: bytes
) -> None:
    """`ripple ingest FILE.gz` and a gzip POST read the same bytes to the same events, and
    refuse the same damage."""
    from ripple.ingest.files import RawEvent, read_raw

    path = tmp_path / "stream.ndjson.gz"
    path.write_bytes(stream)
    from_file = list(read_raw(str(path)))
    file_events = [json.loads(item.body) for item in from_file if isinstance(item, RawEvent)]
    file_refused = len(file_events) < len(from_file)
    answer = post_gzip(client, "/api/v1/lineage/batch", stream)
    if file_refused:
        assert answer.status_code == 400, answer.text
        return
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == len(file_events) == 4


# Batches of garbage: bounded in items, in the answer and in cost; every good event kept.


@pytest.fixture
def strict() -> Iterator[TestClient]:
    """An app with small batch limits: 50 items, 3 rejections in detail."""
    settings = Settings(max_body_bytes=64 * 1024, max_batch_items=50, max_rejections_reported=3)
    with local_client(create_app(settings, in_memory=True)) as test_client:
        yield test_client


def test_batch_of_more_items_than_the_limit_is_413_naming_it(strict: TestClient) -> None:
    answer = strict.post("/api/v1/lineage/batch", content=b"1\n" * 51)
    assert answer.status_code == 413, answer.text
    message = answer.json()["error"]["message"]
    assert "50" in message and "RIPPLE_MAX_BATCH_ITEMS" in message
    array = strict.post("/api/v1/lineage/batch", content=b"[" + b",".join([b"{}"] * 51) + b"]")
    assert array.status_code == 413, array.text
    blank_lines_are_not_items = b"\n\n".join(json.dumps(event(f"k{i}")).encode() for i in range(50))
    assert (
        strict.post("/api/v1/lineage/batch", content=blank_lines_are_not_items).status_code == 200
    )


def test_garbage_batch_answer_details_the_first_rejections_then_counts(
    strict: TestClient,
) -> None:
    lines = [b"1"] * 20
    lines[4] = json.dumps(event("good4")).encode()
    lines[17] = json.dumps(event("good17")).encode()
    answer = strict.post("/api/v1/lineage/batch", content=b"\n".join(lines) + b"\n")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (2, 18)
    assert body["truncated"] is True and body["omitted"] == 15
    rejected = [r for r in body["results"] if r["status"] == "rejected"]
    assert [(r["index"], r["line"]) for r in rejected] == [(0, 1), (1, 2), (2, 3)]
    assert "not a JSON object" in rejected[0]["error"]["reason"]
    accepted = [r for r in body["results"] if r["status"] == "accepted"]
    assert [r["index"] for r in accepted] == [4, 17]  # every good event kept, and said so
    for job in ("good4", "good17"):
        assert strict.get("/api/v1/nodes", params={"nodeId": f"job:etl:{job}"}).status_code == 200


def test_non_object_json_values_are_bad_items_with_index_and_line(client: TestClient) -> None:
    values = [b"1", b'"x"', b"null", b"[]", b"true", b"{oops", json.dumps(event("ok")).encode()]
    answer = client.post("/api/v1/lineage/batch", content=b"\n\n".join(values))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"], body["truncated"]) == (1, 6, False)
    results = body["results"]
    assert [r["status"] for r in results] == ["rejected"] * 6 + ["accepted"]
    assert [r["line"] for r in results[:6]] == [1, 3, 5, 7, 9, 11]
    reasons = [r["error"]["reason"] for r in results[:6]]
    assert all("not a JSON object" in reason for reason in reasons[:5]), reasons
    assert "not valid JSON" in reasons[5]


def test_array_batch_rejections_carry_the_line_each_element_starts_on(client: TestClient) -> None:
    good = json.dumps(event("arr"), indent=1)
    body = "[\n" + good + ",\n  1,\n\n  null\n]"
    answer = client.post("/api/v1/lineage/batch", content=body)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert results[0]["status"] == "accepted"
    second = 2 + good.count("\n") + 1
    assert [(r["index"], r["line"]) for r in results[1:]] == [(1, second), (2, second + 2)]
