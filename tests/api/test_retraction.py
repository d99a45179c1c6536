"""POST/GET /api/v1/admin/retractions: an admin takes a poisoned event out of the graph."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ripple.api.app import create_app
from ripple.config import Settings
from ripple.identity import Role, new_token, token_hash
from ripple.runtime import Runtime
from tests.http import local_client

URL = "/api/v1/admin/retractions"


def event(job: str, run_id: str, output: str = "stg.orders", **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "eventType": "COMPLETE",
        "eventTime": "2024-05-01T10:00:00Z",
        "run": {"runId": run_id},
        "job": {"namespace": "etl", "name": job},
        "inputs": [{"namespace": "pg", "name": "raw.orders"}],
        "outputs": [{"namespace": "pg", "name": output}],
        "producer": "tests",
    }
    doc.update(extra)
    return doc


def the_runtime(client: TestClient) -> Runtime:
    value: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return value


def logged(client: TestClient) -> list[tuple[int, bytes]]:
    assert client.portal is not None
    return client.portal.call(the_runtime(client).log.read, 0, 10_000)


def node(client: TestClient, node_id: str) -> int:
    return client.get("/api/v1/nodes", params={"nodeId": node_id}).status_code


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


LATE = (datetime.now(UTC) + timedelta(hours=12)).isoformat()


@pytest.fixture
def app_client(data_dir: Path) -> Iterator[TestClient]:
    with local_client(create_app(Settings(data_dir=data_dir))) as client:
        yield client


def test_retracting_a_run_takes_its_events_out_of_the_graph(app_client: TestClient) -> None:
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    assert app_client.post("/api/v1/lineage", json=event("load", good)).status_code == 201
    # within the clock skew the server allows, yet later than every honest event
    poisoned = event("evil", bad, output="stg.orders", eventTime=LATE)
    assert app_client.post("/api/v1/lineage", json=poisoned).status_code == 201
    assert node(app_client, "job:etl:evil") == 200

    response = app_client.post(URL, json={"runId": bad, "reason": "forged by a test"})
    assert response.status_code == 200
    body = response.json()
    assert body["runId"] == bad and body["reason"] == "forged by a test"
    assert body["actor"] == "local"  # the caller's identity, never a body field
    assert body["retracted"] == [2]
    assert node(app_client, f"run:{bad}") == 404
    assert node(app_client, "job:etl:evil") == 404
    assert node(app_client, f"run:{good}") == 200
    dataset = app_client.get("/api/v1/nodes", params={"nodeId": "dataset:pg:stg.orders"}).json()
    assert LATE[:10] not in str(dataset)  # the poisoned time went with it
    rows = logged(app_client)
    assert [seq for seq, _ in rows] == [1, 2, 3]  # the event stays in the log; a tombstone joins
    assert body["id"] == 3 and b"ripple.retraction" in rows[2][1]


def test_retracting_twice_answers_the_same_tombstone(app_client: TestClient) -> None:
    run_id = str(uuid.uuid4())
    app_client.post("/api/v1/lineage", json=event("evil", run_id, eventType="START"))
    app_client.post("/api/v1/lineage", json=event("evil", run_id))
    first = app_client.post(URL, json={"runId": run_id, "reason": "forged"})
    again = app_client.post(URL, json={"runId": run_id, "reason": "forged, again"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["retracted"] == [1, 2]
    listed = app_client.get(URL).json()["retractions"]
    assert listed == [first.json()]
    assert len(logged(app_client)) == 3  # one tombstone


def test_retraction_is_audited_with_the_caller(app_client: TestClient, data_dir: Path) -> None:
    run_id = str(uuid.uuid4())
    app_client.post("/api/v1/lineage", json=event("evil", run_id))
    app_client.post(URL, json={"runId": run_id, "reason": "forged"})
    with sqlite3.connect(data_dir / "events.db") as db:
        rows = db.execute(
            "SELECT actor, action, detail FROM backfill_audit WHERE action = 'event.retract'"
        ).fetchall()
    assert rows == [("local", "event.retract", "forged")]


def test_unknown_run_is_404(app_client: TestClient) -> None:
    response = app_client.post(URL, json={"runId": str(uuid.uuid4()), "reason": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "neither"},
        {"runId": str(uuid.uuid4()), "seq": 1, "reason": "both"},
        {"runId": "not-a-uuid", "reason": "x"},
        {"runId": str(uuid.uuid4())},
        {"runId": str(uuid.uuid4()), "reason": ""},
        {"runId": str(uuid.uuid4()), "reason": "x", "actor": "mallory"},
    ],
)
def test_bad_bodies_are_400(app_client: TestClient, body: dict[str, Any]) -> None:
    response = app_client.post(URL, json=body)
    assert response.status_code == 400, response.text


def test_one_log_record_by_seq(app_client: TestClient) -> None:
    keep, drop = str(uuid.uuid4()), str(uuid.uuid4())
    app_client.post("/api/v1/lineage", json=event("load", keep))
    app_client.post("/api/v1/lineage", json=event("evil", drop, output="x"))
    response = app_client.post(URL, json={"seq": 2, "reason": "one bad event"})
    assert response.status_code == 200
    assert response.json()["retracted"] == [2] and response.json()["runId"] is None
    assert node(app_client, "job:etl:evil") == 404
    assert node(app_client, "job:etl:load") == 200
    assert app_client.post(URL, json={"seq": 99, "reason": "x"}).status_code == 404
    tombstone = response.json()["id"]
    assert app_client.post(URL, json={"seq": tombstone, "reason": "x"}).status_code == 409


def test_a_run_stolen_first_can_be_given_back(app_client: TestClient) -> None:
    """The attacker claims a run first; the rightful producer is refused (409) until an admin
    retracts the forged event."""
    run_id = str(uuid.uuid4())
    app_client.post("/api/v1/lineage", json=event("evil", run_id))
    assert app_client.post("/api/v1/lineage", json=event("load", run_id)).status_code == 409
    app_client.post(URL, json={"runId": run_id, "reason": "stolen runId"})
    assert app_client.post("/api/v1/lineage", json=event("load", run_id)).status_code == 201
    run = app_client.get("/api/v1/nodes", params={"nodeId": f"run:{run_id}"}).json()
    assert run["props"]["job"] == "job:etl:load"


def test_retraction_survives_a_restart_and_a_replay(data_dir: Path) -> None:
    run_id = str(uuid.uuid4())
    with local_client(create_app(Settings(data_dir=data_dir))) as client:
        client.post("/api/v1/lineage", json=event("load", str(uuid.uuid4())))
        client.post("/api/v1/lineage", json=event("evil", run_id, output="x"))
        client.post(URL, json={"runId": run_id, "reason": "forged"})
    with local_client(create_app(Settings(data_dir=data_dir))) as client:
        assert node(client, "job:etl:evil") == 404
        assert client.portal is not None
        client.portal.call(the_runtime(client).ingestor.replay)
        assert node(client, "job:etl:evil") == 404
        assert node(client, "job:etl:load") == 200
    (data_dir / "graph.snapshot").unlink(missing_ok=True)  # a rebuild from the log alone
    with local_client(create_app(Settings(data_dir=data_dir))) as client:
        assert node(client, "job:etl:evil") == 404
        assert node(client, "job:etl:load") == 200


def test_only_admins_may_retract(data_dir: Path) -> None:
    with local_client(create_app(Settings(data_dir=data_dir))) as client:
        tokens = {}
        for role in (Role.OPERATE, Role.ADMIN):
            tokens[role] = new_token()
            state = the_runtime(client).remediation
            assert client.portal is not None
            client.portal.call(
                state.create_token, f"t-{role.value}", role, token_hash(tokens[role]), "test"
            )
        run_id = str(uuid.uuid4())
        admin = {"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
        operator = {"Authorization": f"Bearer {tokens[Role.OPERATE]}"}
        client.post("/api/v1/lineage", json=event("evil", run_id), headers=admin)
        asked = {"runId": run_id, "reason": "forged"}
        assert client.post(URL, json=asked).status_code == 401
        denied = client.post(URL, json=asked, headers=operator)
        assert denied.status_code == 403 and "admin" in denied.json()["error"]["message"]
        assert client.get(URL, headers=operator).status_code == 403
        done = client.post(URL, json=asked, headers=admin)
        assert done.status_code == 200 and done.json()["actor"] == "t-admin"
