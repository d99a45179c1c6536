"""The real PostgreSQL the tests run against, started at most once per test session.

`RIPPLE_TEST_DATABASE_URL` names a running server (scripts/check and CI start one with
`scripts/postgres start`); without it the first test that needs PostgreSQL starts a private one
through the same script, on a free port in a temporary directory, and the session stops it (fast
shutdown of that data directory) at the end. When PostgreSQL cannot be had, the test fails in CI
(env CI set) and is skipped elsewhere, with the way to start one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from tests.integration.server import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "postgres"
HOW_TO = (
    "start one with `scripts/postgres start` and set "
    "RIPPLE_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5433/ripple, or install Debian's "
    "postgresql package so the tests can start it themselves"
)


class PostgresService:
    def __init__(self) -> None:
        self._url: str | None = None
        self._problem: str | None = None
        self._env: dict[str, str] | None = None  # set when this session started the server
        self._home: Path | None = None

    def url(self) -> str:
        """The URL of a database that answers; fails (CI) or skips the calling test."""
        if self._url is None and self._problem is None:
            try:
                self._url = self._connect()
            except (OSError, RuntimeError, psycopg.Error) as exc:
                self._problem = str(exc)
        if self._url is None:
            message = f"PostgreSQL is not available ({self._problem}); {HOW_TO}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        return self._url

    def _connect(self) -> str:
        configured = os.environ.get("RIPPLE_TEST_DATABASE_URL")
        if configured:
            _check(configured)
            return configured
        self._home = Path(tempfile.mkdtemp(prefix="ripple-postgres-"))
        port = free_port()
        self._env = {**os.environ, "RIPPLE_PG_HOME": str(self._home), "RIPPLE_PG_PORT": str(port)}
        done = subprocess.run(
            [str(SCRIPT), "start"], env=self._env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"scripts/postgres start failed: {done.stderr.strip()[-2000:]}")
        url = f"postgresql://postgres@127.0.0.1:{port}/ripple"
        _check(url)
        return url

    def stop(self) -> None:
        """Stop the server this session started (its own data directory only), if any."""
        if self._env is not None:
            subprocess.run([str(SCRIPT), "stop"], env=self._env, capture_output=True, check=False)
            self._env = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None


def _check(url: str) -> None:
    with psycopg.connect(url, connect_timeout=10) as conn:
        conn.execute("SELECT 1")


def reset_events(url: str) -> None:
    """Drop the events table, so a test starts from an empty log."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS events")


SERVICE = PostgresService()
