"""Ripple played as an attacker would: every route in the OpenAPI document, called with no token,
a wrong token and each role's token; cross-site shapes (text/plain bodies, a foreign Host, CORS
preflights); and the hostile inputs of issue 19 that must answer Ripple's JSON error, never a 500.

The route table below is the contract: a route added without an entry here fails
`test_the_table_covers_every_route`, so no route ships without a decided role.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from ripple.api.app import create_app
from ripple.config import Settings
from ripple.identity import Role, TokenCache, token_hash
from tests.http import local_client

# (method, path) → the role the route needs; None: open to anyone.
ROUTES: dict[tuple[str, str], Role | None] = {
    ("GET", "/api/v1/health"): None,
    ("GET", "/browser/guide"): None,
    ("GET", "/browser/style.grass"): None,
    ("OPTIONS", "/browser/guide"): None,
    ("OPTIONS", "/browser/style.grass"): None,
    ("GET", "/api/v1/ready"): Role.READ,
    ("POST", "/api/v1/lineage"): Role.INGEST,
    ("POST", "/api/v1/lineage/batch"): Role.INGEST,
    ("GET", "/api/v1/impact"): Role.READ,
    ("GET", "/api/v1/upstream"): Role.READ,
    ("GET", "/api/v1/order"): Role.READ,
    ("GET", "/api/v1/nodes"): Role.READ,
    ("GET", "/api/v1/lineage"): Role.READ,
    ("GET", "/api/v1/column-lineage"): Role.READ,
    ("POST", "/api/v1/backfills"): Role.READ,  # a dry run; saving needs operate (tested below)
    ("GET", "/api/v1/backfills"): Role.READ,
    ("GET", "/api/v1/backfills/{plan_id}"): Role.READ,
    ("POST", "/api/v1/backfills/{plan_id}/run"): Role.OPERATE,
    ("POST", "/api/v1/backfills/{plan_id}/cancel"): Role.OPERATE,
    ("GET", "/api/v1/quarantine"): Role.READ,
    ("POST", "/api/v1/quarantine"): Role.OPERATE,
    ("DELETE", "/api/v1/quarantine"): Role.OPERATE,
    ("POST", "/api/v1/admin/retractions"): Role.ADMIN,
    ("GET", "/api/v1/admin/retractions"): Role.ADMIN,
}
PATH_VALUES = {"plan_id": "bf-000000000000"}


class Callers:
    """A client of a server with one token per role (names: the role's value)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.secrets: dict[str, str] = {}
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        runtime.tokens = TokenCache(runtime.remediation.tokens, ttl=0)
        for role in Role:
            secret = f"rpl_test-{role.value}-" + "x" * 24
            client.portal.call(  # type: ignore[union-attr]
                runtime.remediation.create_token, role.value, role, token_hash(secret), "test"
            )
            self.secrets[role.value] = secret

    def headers(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        return {"authorization": f"Bearer {self.secrets.get(who, who)}"}

    def call(self, method: str, path: str, who: str | None, **kwargs: Any) -> Any:
        headers = {**self.headers(who), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def callers() -> Iterator[Callers]:
    with local_client(create_app(Settings(), in_memory=True)) as client:
        yield Callers(client)


@pytest.fixture
def open_client() -> Iterator[TestClient]:
    """A server where no token was ever created: loopback callers act as `local`."""
    with local_client(create_app(Settings(), in_memory=True)) as client:
        yield client


def _url(path: str) -> str:
    url = path.format(**PATH_VALUES)
    if (
        "nodeId" not in url
        and path.startswith("/api/v1/")
        and path.split("/")[3]
        in ("impact", "upstream", "order", "nodes", "lineage", "column-lineage")
    ):
        url += "?nodeId=dataset:db:nothing"
    if path == "/api/v1/quarantine":
        url += "?datasetId=dataset:db:nothing"
    return url


def test_the_table_covers_every_route(open_client: TestClient) -> None:
    """Every operation of the OpenAPI document (which lists every route) has a decided role."""
    documented = {
        (method.upper(), path)
        for path, item in open_client.get("/openapi.json").json()["paths"].items()
        for method in item
    }
    assert documented == set(ROUTES), "decide the role of every route in ROUTES"


CASES = [
    (method, path, role, who)
    for (method, path), role in ROUTES.items()
    for who in (None, "rpl_forged-token-xxxxxxxxxxxxxxxxxxxx", *[r.value for r in Role])
]


@pytest.mark.parametrize(("method", "path", "needed", "who"), CASES)
def test_each_route_answers_each_caller_by_role(
    callers: Callers, method: str, path: str, needed: Role | None, who: str | None
) -> None:
    response = callers.call(method, _url(path), who, json={} if method == "POST" else None)
    status = response.status_code
    if needed is None:
        assert status < 400, response.text
        return
    if who is None or who not in callers.secrets:
        assert status == 401, response.text
        assert response.json()["error"]["code"] == "unauthenticated"
        assert response.headers["x-request-id"] == response.json()["error"]["requestId"]
    elif not Role(who).allows(needed):
        assert status == 403, response.text
        assert f"'{needed.value}'" in response.json()["error"]["message"]
    else:
        assert status not in (401, 403), response.text
        assert status < 500, response.text


def test_health_says_only_alive_once_a_token_exists(
    callers: Callers, open_client: TestClient
) -> None:
    assert callers.call("GET", "/api/v1/health", None).json() == {"status": "ok"}
    full = open_client.get("/api/v1/health").json()
    assert full["status"] == "ok" and "airflowSync" in full  # loopback, no token: the details


def test_the_audit_actor_is_the_tokens_name(callers: Callers) -> None:
    plan = {"roots": ["dataset:db:nothing"], "dates": ["2026-03-01"], "dryRun": False}
    # a reader may ask for a dry run, not save a plan
    refused = callers.call("POST", "/api/v1/backfills", "read", json=plan)
    assert refused.status_code == 403 and "'operate'" in refused.json()["error"]["message"]
    callers.call("POST", "/api/v1/lineage", "ingest", json=_event("db", "nothing"))
    quarantined = callers.call(
        "POST", "/api/v1/quarantine", "operate", json={"datasetId": "dataset:db:nothing"}
    )
    assert quarantined.status_code == 201, quarantined.text
    assert quarantined.json()["actor"] == "operate"
    # the body cannot name another actor
    forged = callers.call(
        "POST",
        "/api/v1/quarantine",
        "operate",
        json={"datasetId": "dataset:db:nothing", "actor": "alice"},
    )
    assert forged.status_code == 400 and "actor" in forged.json()["error"]["message"]


def test_a_revoked_token_is_refused(callers: Callers) -> None:
    assert callers.call("GET", "/api/v1/backfills", "read").status_code == 200
    runtime = callers.client.app.state.runtime  # type: ignore[attr-defined]
    callers.client.portal.call(runtime.remediation.revoke_token, "read", "test")  # type: ignore[union-attr]
    assert callers.call("GET", "/api/v1/backfills", "read").status_code == 401


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer  ", "rpl_no-scheme-xxxxxxxxxxxxxxxx"]
)
def test_a_malformed_authorization_header_is_401(callers: Callers, header: str) -> None:
    response = callers.call("GET", "/api/v1/backfills", None, headers={"authorization": header})
    assert response.status_code == 401
    assert "Bearer" in response.json()["error"]["message"]


STATE_CHANGING = [(m, p) for (m, p) in ROUTES if m == "POST"]


@pytest.mark.parametrize(("method", "path"), STATE_CHANGING)
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_a_cross_site_form_cannot_post(
    open_client: TestClient, method: str, path: str, content_type: str | None
) -> None:
    """What a web page can send without a CORS preflight is refused before any route runs."""
    headers = {"content-type": content_type} if content_type else {}
    client = TestClient(open_client.app, base_url="http://127.0.0.1")  # no default JSON type
    response = client.request(method, _url(path), content=b'{"roots": ["x"]}', headers=headers)
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:5000", "127.0.0.1.nip.io", "10.0.0.1"]
)
def test_a_foreign_host_is_421(open_client: TestClient, host: str) -> None:
    """DNS rebinding: a page on evil.example that resolves its name to 127.0.0.1."""
    for path in ("/api/v1/backfills", "/api/v1/health", "/api/v1/impact?nodeId=x"):
        response = open_client.get(path, headers={"host": host})
        assert response.status_code == 421, (path, response.text)
        assert "RIPPLE_ALLOWED_HOSTS" in response.json()["error"]["message"]


def test_two_host_headers_are_refused(open_client: TestClient) -> None:
    """One Host checked and another used to build links would let a rebinding page through."""
    client = TestClient(open_client.app, base_url="http://127.0.0.1")
    response = client.get(
        "/browser/guide", headers=[("host", "127.0.0.1"), ("host", "evil.example")]
    )
    assert response.status_code == 400
    assert "more than one Host" in response.json()["error"]["message"]


def test_allowed_hosts_are_configurable() -> None:
    settings = Settings(allowed_hosts=["ripple.internal"])
    with TestClient(
        create_app(settings, in_memory=True), base_url="http://ripple.internal:5000"
    ) as c:
        assert c.get("/api/v1/health").status_code == 200
        assert c.get("/api/v1/health", headers={"host": "localhost"}).status_code == 421


def test_cors_is_closed_except_for_the_browser_guide(open_client: TestClient) -> None:
    origin = {"origin": "https://evil.example"}
    for path in ("/api/v1/backfills", "/api/v1/health"):
        response = open_client.get(path, headers=origin)
        assert "access-control-allow-origin" not in response.headers
    preflight = open_client.options(
        "/api/v1/lineage",
        headers={**origin, "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers
    guide = open_client.get("/browser/guide", headers=origin)
    assert guide.headers["access-control-allow-origin"] == "*"


def test_unknown_routes_and_wrong_methods_answer_ripples_error(open_client: TestClient) -> None:
    missing = open_client.get("/api/v1/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = open_client.put("/api/v1/lineage", json={})
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in wrong.headers["allow"]


def test_a_request_id_is_honoured_or_made(open_client: TestClient) -> None:
    mine = open_client.get("/api/v1/nope", headers={"x-request-id": "trace-42"})
    assert mine.headers["x-request-id"] == "trace-42"
    assert mine.json()["error"]["requestId"] == "trace-42"
    made = open_client.get("/api/v1/health", headers={"x-request-id": "bad id\twith spaces"})
    assert made.headers["x-request-id"] != "bad id\twith spaces"
    assert len(made.headers["x-request-id"]) == 32


def test_deeply_nested_backfill_roots_are_400(open_client: TestClient) -> None:
    deep = b'{"roots": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = open_client.post("/api/v1/backfills", content=deep)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("invalid_plan_request", "malformed_input")


@pytest.mark.parametrize(
    "body",
    [b'{"roots": ["\xff\xfe"]}', b'{"roots": ["\\ud800"]}', b"\x00" * 10, b'{"roots": 1e999999}'],
)
def test_bad_bytes_in_a_plan_are_400(open_client: TestClient, body: bytes) -> None:
    response = open_client.post("/api/v1/backfills", content=body)
    assert 400 <= response.status_code < 500, response.text
    assert "error" in response.json()


def test_running_a_plan_without_airflow_is_503_naming_the_setting(open_client: TestClient) -> None:
    open_client.post("/api/v1/lineage", json=_event("db", "raw"))
    saved = open_client.post(
        "/api/v1/backfills",
        json={"roots": ["dataset:db:raw"], "dates": ["2026-03-01"], "dryRun": False},
    )
    assert saved.status_code == 201, saved.text
    response = open_client.post(f"/api/v1/backfills/{saved.json()['id']}/run")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_configured"
    assert "RIPPLE_AIRFLOW_URL" in response.json()["error"]["message"]


def test_readiness_checks_the_log_the_store_and_the_disk(open_client: TestClient) -> None:
    response = open_client.get("/api/v1/ready")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"
    assert {"eventLog", "store"} <= set(response.json()["checks"])


def test_readiness_says_which_part_is_not_ready(open_client: TestClient) -> None:
    runtime = open_client.app.state.runtime  # type: ignore[attr-defined]

    async def refuse(key: str, value: str) -> None:
        raise OSError(28, "No space left on device")

    original = runtime.log.set_meta
    runtime.log.set_meta = refuse
    try:
        response = open_client.get("/api/v1/ready")
    finally:
        runtime.log.set_meta = original
    assert response.status_code == 503
    check = response.json()["checks"]["eventLog"]
    assert not check["ok"] and "No space left" in check["reason"]
    assert open_client.get("/api/v1/health").status_code == 200  # alive, just not ready


def _event(namespace: str, name: str) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-03-01T00:00:00Z",
        "run": {"runId": "0190e0d5-8f2a-7c1e-9b1a-2f6e4f1c2d3e"},
        "job": {"namespace": "airflow", "name": "etl.load"},
        "inputs": [],
        "outputs": [{"namespace": namespace, "name": name}],
        "producer": "https://example.com/test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
    }


@pytest.mark.parametrize("shape", ["ndjson", "array"])
def test_a_batch_keeps_its_good_events_beside_values_nested_past_any_parser(
    open_client: TestClient, shape: str
) -> None:
    """Issue 19, defect 4: one line nested ~100,000 deep used to sink the whole batch."""
    good = [_event("db", f"kept{i}") for i in range(3)]
    for i, event in enumerate(good):
        event["run"]["runId"] = f"0190e0d5-8f2a-7c1e-9b1a-2f6e4f1c2d3{i}"
        event["job"]["name"] = f"etl.load{i}"
    deep_object = b'{"a":' + b"[" * 100_000 + b'"]\\"[",' + b"]" * 100_000 + b"}"
    deep_array = b"[" * 100_000 + b"]" * 100_000
    parts = [
        orjson.dumps(good[0]),
        deep_object,
        orjson.dumps(good[1]),
        deep_array,
        orjson.dumps(good[2]),
    ]
    if shape == "ndjson":
        body, kind = b"\n".join(parts), "application/x-ndjson"
    else:
        body, kind = b"[" + b",".join(parts) + b"]", "application/json"
    response = open_client.post(
        "/api/v1/lineage/batch", content=body, headers={"content-type": kind}
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (3, 2)
    assert [r["index"] for r in answer["results"] if r["status"] != "accepted"] == [1, 3]
    for i in range(3):
        node = open_client.get("/api/v1/nodes", params={"nodeId": f"dataset:db:kept{i}"})
        assert node.status_code == 200
