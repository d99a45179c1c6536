"""`ripple retract` as an admin runs it: the run's events leave the graph, the ingest CLI's
run check refuses a run re-pointed to another job, and the answer is the tombstone as JSON."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson

from tests.integration.test_cli_ingest import _jobs, _ripple
from tests.integration.test_retraction import event


def test_ripple_retract_a_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = str(uuid.uuid4())
    events = tmp_path / "events.ndjson"
    lines = [event("load", str(uuid.uuid4()), "a"), event("evil", bad, "b"), event("x", bad, "c")]
    events.write_bytes(b"\n".join(lines) + b"\n")
    ingested = _ripple("ingest", "--data-dir", str(data), str(events))
    assert ingested.returncode == 1  # the third line claims the run for another job
    assert "belongs to job:etl:evil" in ingested.stderr
    assert _jobs(data) == {"job:etl:load", "job:etl:evil"}

    done = _ripple("retract", "--data-dir", str(data), "--run-id", bad, "--reason", "forged")
    assert done.returncode == 0, done.stderr
    answer = orjson.loads(done.stdout)
    assert answer["retracted"] == [2] and answer["actor"].startswith("cli")
    assert _jobs(data) == {"job:etl:load"}
    again = _ripple("retract", "--data-dir", str(data), "--run-id", bad, "--reason", "again")
    assert orjson.loads(again.stdout) == answer

    unknown = str(uuid.uuid4())
    missing = _ripple("retract", "--data-dir", str(data), "--run-id", unknown, "--reason", "x")
    assert missing.returncode == 1 and "No event of run" in missing.stderr
    neither = _ripple("retract", "--data-dir", str(data), "--reason", "x")
    assert neither.returncode == 2
