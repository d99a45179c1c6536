"""The command line's answers to the first mistakes people make: a mistyped data directory, a
port that another server holds."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

RIPPLE = str(Path(sys.executable).parent / "ripple")


@pytest.mark.parametrize(
    "command",
    [
        ["impact", "dataset:db:orders"],
        ["upstream", "dataset:db:orders"],
        ["order", "dataset:db:orders"],
        ["backfill", "list"],
    ],
)
def test_a_directory_without_an_event_log_is_named_not_searched(
    tmp_path: Path, command: list[str]
) -> None:
    """A mistyped --data-dir used to answer "node not found" and leave an empty log behind."""
    mistyped = tmp_path / "not-the-data-dir"

    done = subprocess.run(
        [RIPPLE, *command, "--data-dir", str(mistyped)], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 1
    assert f"No Ripple data in {mistyped} (no event log there)" in done.stderr
    assert "--data-dir or RIPPLE_DATA_DIR" in done.stderr
    assert not mistyped.exists()


def test_serve_on_a_port_already_taken_fails_at_once_and_names_it(tmp_path: Path) -> None:
    """It used to load the graph, announce "listening", and only then fail to bind."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()

        done = subprocess.run(
            [RIPPLE, "serve", "--data-dir", str(tmp_path / "data"), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert done.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "--port / RIPPLE_PORT" in done.stderr
    assert "listening" not in done.stderr
    assert "opening its graph" not in done.stderr  # failed before the graph was loaded
    assert time.monotonic() - started < 30
