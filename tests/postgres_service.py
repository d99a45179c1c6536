"""The real PostgreSQL the tests run against (see tests/script_service.py for how it is had):
`RIPPLE_TEST_DATABASE_URL`, or a private server from `scripts/postgres` on a free port."""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.integration.server import free_port
from tests.script_service import ScriptService


class PostgresService(ScriptService):
    name = "PostgreSQL"
    script = "postgres"
    configured_by = "RIPPLE_TEST_DATABASE_URL"
    how_to = (
        "start one with `scripts/postgres start` and set "
        "RIPPLE_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5433/ripple, or install "
        "Debian's postgresql package so the tests can start it themselves"
    )
    failures = (OSError, RuntimeError, psycopg.Error)

    def private_env(self, home: Path) -> tuple[dict[str, str], str]:
        port = free_port()
        settings = {"RIPPLE_PG_HOME": str(home), "RIPPLE_PG_PORT": str(port)}
        return settings, f"postgresql://postgres@127.0.0.1:{port}/ripple"

    def check(self, address: str) -> None:
        with psycopg.connect(address, connect_timeout=10) as conn:
            conn.execute("SELECT 1")

    def url(self) -> str:
        """The URL of a database that answers; fails (CI) or skips the calling test."""
        return self.address()


def reset_events(url: str) -> None:
    """Drop the events table, so a test starts from an empty log."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS events")


SERVICE = PostgresService()
