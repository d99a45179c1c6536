"""The Airflow REST adapter's failure handling: bounded, jittered retries, then a clear error.

Against real sockets on 127.0.0.1: a port nobody listens on (Airflow down) and a tiny server
that answers 503 (Airflow overloaded) or 403 (refused). The sleeps between attempts are recorded
instead of slept, so the test is fast and shows the backoff is bounded and jittered."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ripple.clients.airflow import AirflowRest, RetryBudget
from ripple.errors import SourceRefused, SourceUnavailable
from tests.integration.server import free_port


class Answers(BaseHTTPRequestHandler):
    status = 503
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"detail": "busy"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[Answers]]]:
    handler = type("Handler", (Answers,), {"hits": 0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def client(url: str, slept: list[float]) -> AirflowRest:
    async def record(seconds: float) -> None:
        slept.append(seconds)

    return AirflowRest(url, token="t", attempts=4, max_wait=2.0, sleep=record)


async def test_airflow_down_is_retried_a_bounded_number_of_times_then_named() -> None:
    slept: list[float] = []
    rest = client(f"http://127.0.0.1:{free_port()}", slept)
    with pytest.raises(SourceUnavailable) as caught:
        await rest.dags()
    assert rest.calls == 4
    assert len(slept) == 3 and all(0 <= s <= 2.0 for s in slept)
    assert "after 4 attempts" in str(caught.value)
    assert "api-server is running" in str(caught.value)


async def test_server_errors_are_retried_then_named(server: tuple[str, type[Answers]]) -> None:
    url, handler = server
    slept: list[float] = []
    with pytest.raises(SourceUnavailable, match="HTTP 503"):
        await client(url, slept).dags()
    assert handler.hits == 4
    assert len(slept) == 3


async def test_a_refusal_is_not_retried(server: tuple[str, type[Answers]]) -> None:
    url, handler = server
    handler.status = 403
    slept: list[float] = []
    with pytest.raises(SourceUnavailable, match="refused GET /api/v2/dags"):
        await client(url, slept).dags()
    assert handler.hits == 1 and slept == []


def test_credentials_are_required() -> None:
    with pytest.raises(SourceUnavailable, match="RIPPLE_AIRFLOW_USERNAME"):
        AirflowRest("http://127.0.0.1:1")


async def test_a_spent_retry_budget_stops_retries_across_calls(
    server: tuple[str, type[Answers]],
) -> None:
    url, handler = server
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    budget = RetryBudget(capacity=2, refill=0)
    rest = AirflowRest(url, token="t", attempts=4, sleep=record, budget=budget)
    for _ in range(2):
        with pytest.raises(SourceUnavailable):
            await rest.dags()
    # the first call spends both tokens (3 attempts); the second fails at its first attempt
    assert handler.hits == 4
    assert budget.spent == 2 and budget.denied == 2


async def test_a_refusal_carries_its_status(server: tuple[str, type[Answers]]) -> None:
    url, handler = server
    handler.status = 409
    with pytest.raises(SourceRefused) as caught:
        await client(url, []).dags()
    assert caught.value.status == 409
