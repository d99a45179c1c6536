"""The in-process HTTP client the API tests share: a loopback Host (the only names Ripple answers
to by default) and a JSON Content-Type (what state-changing requests must declare)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

JSON = {"content-type": "application/json"}


def local_client(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1", headers=JSON)
