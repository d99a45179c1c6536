"""Command-line queries pointed at a directory that holds no Ripple data."""

from __future__ import annotations

import subprocess
import sys
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
