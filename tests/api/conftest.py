from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ripple.api.app import create_app
from ripple.config import Settings
from tests.http import local_client


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(max_body_bytes=64 * 1024)
    with local_client(create_app(settings, in_memory=True)) as test_client:
        yield test_client
