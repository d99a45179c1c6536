"""A real service the tests run against, started at most once per test session by its script.

An environment variable may name a running one (scripts/check and CI start them); without it the
first test that needs the service starts a private one through the same script, on free ports in
a temporary home, and the session stops it at the end. When the service cannot be had, the test
fails in CI (env CI set) and is skipped elsewhere, with the way to start one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


class ScriptService(ABC):
    name: str  # "Neo4j"
    script: str  # "neo4j": scripts/<script> start|stop
    configured_by: str  # the env var naming a running service
    how_to: str
    failures: tuple[type[Exception], ...] = (OSError, RuntimeError)

    def __init__(self) -> None:
        self._address: str | None = None
        self._problem: str | None = None
        self._env: dict[str, str] | None = None  # set when this session started the server
        self._home: Path | None = None

    @abstractmethod
    def private_env(self, home: Path) -> tuple[dict[str, str], str]:
        """Script settings for a private server in `home`, and the address it will answer on."""

    @abstractmethod
    def check(self, address: str) -> None:
        """Raise unless the service answers at `address`."""

    def address(self) -> str:
        """The address of a service that answers; fails (CI) or skips the calling test."""
        if self._address is None and self._problem is None:
            try:
                self._address = self._connect()
            except self.failures as exc:
                self._problem = str(exc)
        if self._address is None:
            message = f"{self.name} is not available ({self._problem}); {self.how_to}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        return self._address

    def _connect(self) -> str:
        configured = os.environ.get(self.configured_by)
        if configured:
            self.check(configured)
            return configured
        self._home = Path(tempfile.mkdtemp(prefix=f"ripple-{self.script}-"))
        settings, address = self.private_env(self._home)
        self._env = {**os.environ, **settings}
        done = subprocess.run(
            [str(self._script()), "start"],
            env=self._env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            self.stop()
            message = done.stderr.strip()[-2000:]
            raise RuntimeError(f"scripts/{self.script} start failed: {message}")
        self.check(address)
        return address

    def _script(self) -> Path:
        return ROOT / "scripts" / self.script

    def stop(self) -> None:
        """Stop the server this session started (through its script), if any."""
        if self._env is not None:
            subprocess.run(
                [str(self._script()), "stop"], env=self._env, capture_output=True, check=False
            )
            self._env = None
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None
