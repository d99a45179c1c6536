"""Shared test setup: where the conformance corpus (../shared/fixtures) lies, and the real Neo4j
(tests/neo4j_service.py) and PostgreSQL (tests/postgres_service.py)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import postgres_service
from tests.neo4j_service import SERVICE

ROOT = Path(__file__).resolve().parent.parent


def conformance_dir() -> Path | None:
    configured = os.environ.get("RIPPLE_CONFORMANCE_DIR")
    path = Path(configured) if configured else ROOT.parent / "shared" / "fixtures"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The shared OpenLineage corpus; skipped on a user's clone, an error in CI."""
    path = conformance_dir()
    if path is None:
        message = (
            "conformance corpus not found: set RIPPLE_CONFORMANCE_DIR or place shared/fixtures "
            "beside the checkout"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session", autouse=True)
def _stop_services_at_exit() -> Iterator[None]:
    """Neo4j and PostgreSQL start on first use; stop whatever this session started at the end."""
    yield
    SERVICE.stop()
    postgres_service.SERVICE.stop()


@pytest.fixture(scope="session")
def neo4j_uri() -> str:
    """The Bolt URI of a real Neo4j (fails in CI, skips elsewhere, when there is none)."""
    return SERVICE.uri()


@pytest.fixture(scope="session")
def database_url() -> str:
    """The URL of a real PostgreSQL database (fails in CI, skips elsewhere, when there is none)."""
    return postgres_service.SERVICE.url()


def food_delivery_events(fixtures: Path) -> list[dict[str, Any]]:
    """Marquez's seed with its time placeholders filled, as Marquez's seed script does."""
    text = (fixtures / "marquez/seed/food_delivery.metadata.template.json").read_text()
    text = text.replace("{{RUN_START_TIME}}", "2024-01-01T00:00:00Z")
    text = re.sub(
        r"\{\{RUN_END_TIME_AFTER_(\d+)_MINUTES\}\}",
        lambda m: f"2024-01-01T{int(m.group(1)) // 60:02d}:{int(m.group(1)) % 60:02d}:00Z",
        text,
    )
    events: list[dict[str, Any]] = json.loads(text)
    return events
