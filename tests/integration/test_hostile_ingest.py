"""A real `ripple serve` under hostile bodies: a worst-case batch does not stall other requests,
an upload cut short costs one log line, a body that never arrives gets a 408."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.server import RippleServer

BODY_LIMIT = 5 * 1024 * 1024


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RippleServer]:
    ripple = RippleServer(tmp_path / "data", env={"RIPPLE_BODY_TIMEOUT": "2"})
    ripple.start()
    try:
        yield ripple
    finally:
        ripple.stop()


def worst_case_batch() -> bytes:
    """The most expensive batch the default limits let through: 10,000 lines (the item limit)
    that each reach the event parser and fail there, filling the 5 MiB body limit."""
    line = (
        b'{"eventTime": "2024-01-01T00:00:00Z", "job": {"namespace": "x"}, "pad": "'
        + b"x" * 440
        + b'"}'
    )
    body = b"\n".join([line] * 10_000)
    assert len(body) <= BODY_LIMIT
    return body


def test_health_answers_while_a_worst_case_batch_is_processed(server: RippleServer) -> None:
    answer: list[httpx.Response] = []

    def post_batch() -> None:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            answer.append(
                client.post(
                    "/api/v1/lineage/batch",
                    content=worst_case_batch(),
                    headers={"content-type": "application/x-ndjson"},
                )
            )

    poster = threading.Thread(target=post_batch)
    waits: list[float] = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        poster.start()
        time.sleep(0.3)  # the body is sent and being processed
        while poster.is_alive():
            sent = time.perf_counter()
            assert client.get("/api/v1/health").status_code == 200
            waits.append(time.perf_counter() - sent)
            time.sleep(0.05)
    poster.join()
    assert len(waits) >= 3, "the batch was over before health was asked: nothing measured"
    assert max(waits) < 1.0, f"health waited {max(waits):.2f} s behind a batch"
    assert answer[0].status_code == 200, answer[0].text
    body = answer[0].json()
    assert (body["accepted"], body["rejected"], body["omitted"]) == (0, 10_000, 9_900)
    assert len(answer[0].content) < 100_000  # the answer is bounded, not one entry per line


def _raw(server: RippleServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def _head(path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def test_an_upload_cut_short_logs_one_line(server: RippleServer) -> None:
    before = server.log_path.read_text()
    for path in ("/api/v1/lineage/batch", "/api/v1/lineage"):
        with _raw(server) as sock:
            sock.sendall(_head(path, 100_000) + b'{"eventTime": "2024-01-01T00:00:00Z"')
            time.sleep(0.2)
        time.sleep(0.5)  # the server notices the disconnect
    assert httpx.get(f"{server.url}/api/v1/health").status_code == 200
    logged = server.log_path.read_text()[len(before) :].splitlines()
    assert "Traceback" not in "\n".join(logged)
    aborted = [line for line in logged if "/api/v1/lineage" in line]
    assert len(aborted) == 2, "\n".join(logged)  # one line per aborted upload: its access log
    assert all("client disconnected" in line for line in aborted), "\n".join(logged)


def test_a_body_not_received_in_time_is_408(server: RippleServer) -> None:
    with _raw(server) as sock:
        sent = time.monotonic()
        sock.sendall(_head("/api/v1/lineage/batch", 10_000) + b"[")
        sock.settimeout(10)
        answer = b""
        while b'"}}' not in answer:  # the end of Ripple's error body
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        waited = time.monotonic() - sent
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b'"request_timeout"' in answer and b"RIPPLE_BODY_TIMEOUT" in answer, answer
    assert 1.5 < waited < 8, waited
    # The server is fine, and a producer's next event goes through.
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/api/v1/health").status_code == 200
