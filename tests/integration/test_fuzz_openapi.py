"""Schemathesis against a real `ripple serve`: every operation of the complete OpenAPI document,
a bounded number of generated requests each (valid and invalid by the document), and two
verdicts — no 5xx, and no response the document does not describe (status code, content type,
body schema, headers). Run as schemathesis's own CLI, the way anyone would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.server import RippleServer

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
EXAMPLES_PER_OPERATION = 40


def test_no_5xx_and_no_undocumented_answer(tmp_path: Path) -> None:
    server = RippleServer(tmp_path / "data")
    server.start()
    try:
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                *("run", f"{server.url}/openapi.json"),
                *("--checks", CHECKS),
                *("--max-examples", str(EXAMPLES_PER_OPERATION)),
                *("--seed", "19"),
                *("--request-timeout", "30"),
                "--no-color",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,  # its cache of found crashes stays out of the checkout
            timeout=900,
            check=False,
        )
    finally:
        server.stop()
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert "passed" in run.stdout.lower(), report
