"""The real Neo4j the tests run against, started at most once per test session.

`RIPPLE_TEST_NEO4J_URI` names a running server (scripts/check and CI start one with
`scripts/neo4j start`); without it the first test that needs Neo4j starts a private one through
the same script, on free ports in a temporary home, and the session stops it by its PID at the
end. When Neo4j cannot be had, the test fails in CI (env CI set) and is skipped elsewhere, with
the way to start one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import DriverError, Neo4jError

from tests.integration.server import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "neo4j"
HOW_TO = (
    "start one with `scripts/neo4j start` and set RIPPLE_TEST_NEO4J_URI=bolt://127.0.0.1:7687, "
    "or install Java 17 and Maven so the tests can start it themselves"
)


class Neo4jService:
    def __init__(self) -> None:
        self._uri: str | None = None
        self._problem: str | None = None
        self._env: dict[str, str] | None = None  # set when this session started the server
        self._home: Path | None = None

    def uri(self) -> str:
        """The Bolt URI of a server that answers; fails (CI) or skips the calling test."""
        if self._uri is None and self._problem is None:
            try:
                self._uri = self._connect()
            except (OSError, RuntimeError, DriverError, Neo4jError) as exc:
                self._problem = str(exc)
        if self._uri is None:
            message = f"Neo4j is not available ({self._problem}); {HOW_TO}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        return self._uri

    def _connect(self) -> str:
        configured = os.environ.get("RIPPLE_TEST_NEO4J_URI")
        if configured:
            _check(configured)
            return configured
        self._home = Path(tempfile.mkdtemp(prefix="ripple-neo4j-"))
        bolt, http = free_port(), free_port()
        self._env = {
            **os.environ,
            "RIPPLE_NEO4J_HOME": str(self._home),
            "RIPPLE_NEO4J_BOLT_PORT": str(bolt),
            "RIPPLE_NEO4J_HTTP_PORT": str(http),
        }
        done = subprocess.run(
            [str(SCRIPT), "start"], env=self._env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            self.stop()
            raise RuntimeError(f"scripts/neo4j start failed: {done.stderr.strip()[-2000:]}")
        uri = f"bolt://127.0.0.1:{bolt}"
        _check(uri)
        return uri

    def stop(self) -> None:
        """Stop the server this session started (by its recorded PID), if any."""
        if self._env is not None:
            subprocess.run([str(SCRIPT), "stop"], env=self._env, capture_output=True, check=False)
            self._env = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None


def _check(uri: str) -> None:
    with GraphDatabase.driver(uri, auth=None, notifications_min_severity="OFF") as driver:
        driver.verify_connectivity()


SERVICE = Neo4jService()
