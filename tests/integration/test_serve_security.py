"""`ripple token` and `ripple serve` as an operator and an attacker meet them: a real server
process, real tokens made by the CLI, TLS with a self-signed certificate, JSON access logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.server import RippleServer, free_port

RIPPLE = str(Path(sys.executable).parent / "ripple")
EVENT = {
    "eventType": "COMPLETE",
    "eventTime": "2026-03-01T00:00:00Z",
    "run": {"runId": "0190e0d5-8f2a-7c1e-9b1a-2f6e4f1c2d3e"},
    "job": {"namespace": "airflow", "name": "etl.load"},
    "inputs": [{"namespace": "db", "name": "raw"}],
    "outputs": [{"namespace": "db", "name": "clean"}],
    "producer": "https://example.com/test",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
}


def ripple(
    *args: str, data_dir: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIPPLE_")}
    return subprocess.run(
        [RIPPLE, *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=120,
        check=False,
    )


def test_token_create_prints_only_the_token_and_stores_only_its_hash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = ripple("token", "create", "airflow-prod", "--role", "ingest", data_dir=data)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert made.stdout == token + "\n" and token.startswith("rpl_") and len(token) > 40
    assert "shown only now" in made.stderr
    listed = ripple("token", "list", "--json", data_dir=data)
    (entry,) = json.loads(listed.stdout)
    assert entry["name"] == "airflow-prod" and entry["role"] == "ingest"
    assert token not in listed.stdout
    assert token.encode() not in (data / "events.db").read_bytes()
    again = ripple("token", "create", "airflow-prod", "--role", "read", data_dir=data)
    assert again.returncode != 0 and "exists already" in again.stderr
    kept = ripple(
        "token", "create", "airflow-prod", "--role", "read", "--if-missing", data_dir=data
    )
    assert kept.returncode == 0 and kept.stdout == ""
    bad_role = ripple("token", "create", "x", "--role", "root", data_dir=data)
    assert bad_role.returncode != 0 and "read, ingest, operate, admin" in bad_role.stderr
    bad_name = ripple("token", "create", "no spaces", "--role", "read", data_dir=data)
    assert bad_name.returncode != 0 and "Token name" in bad_name.stderr


def test_serve_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = str(free_port())
    refused = ripple("serve", "--host", "0.0.0.0", "--port", port, data_dir=data)
    assert refused.returncode != 0
    assert "ripple token create" in refused.stderr and "0.0.0.0" in refused.stderr


def test_tokens_made_by_the_cli_guard_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = RippleServer(data)
    server.start()
    try:
        # no token yet: loopback callers act as `local`
        assert httpx.post(f"{server.url}/api/v1/lineage", json=EVENT).status_code == 201
        ingest = ripple("token", "create", "producer", "--role", "ingest", data_dir=data)
        ops = ripple("token", "create", "oncall", "--role", "operate", data_dir=data)
        producer, oncall = ingest.stdout.strip(), ops.stdout.strip()
        deadline = time.monotonic() + 10
        while httpx.post(f"{server.url}/api/v1/lineage", json=EVENT).status_code != 401:
            assert time.monotonic() < deadline, "the new token was not required within 10 s"
            time.sleep(0.2)
        with_token = {"authorization": f"Bearer {producer}"}
        posted = httpx.post(f"{server.url}/api/v1/lineage", json=EVENT, headers=with_token)
        assert posted.status_code == 201, posted.text
        quarantine = httpx.post(
            f"{server.url}/api/v1/quarantine",
            json={"datasetId": "dataset:db:clean"},
            headers=with_token,
        )
        assert quarantine.status_code == 403 and "'operate'" in quarantine.text
        quarantine = httpx.post(
            f"{server.url}/api/v1/quarantine",
            json={"datasetId": "dataset:db:clean", "reason": "dupes"},
            headers={"authorization": f"Bearer {oncall}"},
        )
        assert quarantine.status_code == 201 and quarantine.json()["actor"] == "oncall"
        assert httpx.get(f"{server.url}/api/v1/health").json() == {"status": "ok"}
        assert ripple("token", "revoke", "producer", data_dir=data).returncode == 0
        deadline = time.monotonic() + 10
        while (
            httpx.post(f"{server.url}/api/v1/lineage", json=EVENT, headers=with_token).status_code
            != 401
        ):
            assert time.monotonic() < deadline, "the revoked token still worked after 10 s"
            time.sleep(0.2)
    finally:
        server.stop()


def test_serve_speaks_tls_with_the_given_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    args = ("--ssl-certfile", str(cert), "--ssl-keyfile", str(key))
    server = RippleServer(tmp_path / "data", args=args, tls_ca=cert)
    server.start()
    try:
        assert server.url.startswith("https://")
        answer = httpx.post(f"{server.url}/api/v1/lineage", json=EVENT, verify=server.verify)
        assert answer.status_code == 201
        with pytest.raises(httpx.HTTPError):
            httpx.get(server.url.replace("https", "http") + "/api/v1/health", timeout=3)
    finally:
        server.stop()
    half = ripple("serve", "--ssl-certfile", str(cert), data_dir=tmp_path / "data")
    assert half.returncode != 0 and "--ssl-keyfile" in half.stderr


def test_json_logs_carry_the_request_id(tmp_path: Path) -> None:
    server = RippleServer(tmp_path / "data", env={"RIPPLE_LOG_FORMAT": "json"})
    server.start()
    try:
        httpx.get(f"{server.url}/api/v1/nope", headers={"x-request-id": "trace-77"})
    finally:
        server.stop()
    lines = [json.loads(x) for x in server.log_path.read_text().splitlines() if x.startswith("{")]
    (line,) = [x for x in lines if x.get("requestId") == "trace-77"]
    assert line["path"] == "/api/v1/nope" and line["status"] == 404 and line["method"] == "GET"


def test_connections_past_the_cap_get_503(tmp_path: Path) -> None:
    server = RippleServer(tmp_path / "data", env={"RIPPLE_MAX_CONNECTIONS": "1"})
    server.start()
    try:
        import socket

        held = socket.create_connection(("127.0.0.1", server.port))
        try:
            held.sendall(b"POST /api/v1/lineage HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends
            time.sleep(0.3)
            assert httpx.get(f"{server.url}/api/v1/health", timeout=5).status_code == 503
        finally:
            held.close()
        time.sleep(0.3)
        assert httpx.get(f"{server.url}/api/v1/health", timeout=5).status_code == 200
    finally:
        server.stop()
