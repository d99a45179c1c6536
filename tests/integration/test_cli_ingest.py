"""`ripple ingest` as a user runs it: files, directories and stdin in, a summary out that names
each rejected event's file:line and reason, exit status 1 when anything was rejected — and every
good event in the graph whatever its neighbours were."""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from ripple.config import Settings
from ripple.runtime import open_runtime
from tests.integration.server import RippleServer
from tests.unit.builders import DS_NS, run_event

RIPPLE = str(Path(sys.executable).parent / "ripple")


def _ripple(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([RIPPLE, *args], input=stdin, capture_output=True, timeout=120)
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def _jobs(data_dir: Path) -> set[str]:
    async def read() -> set[str]:
        runtime = await open_runtime(Settings(data_dir=data_dir), read_only=True)
        try:
            dump = await runtime.store.dump()
        finally:
            await runtime.close()
        return {node_id for node_id in dump["nodes"] if node_id.startswith("job:")}

    return asyncio.run(read())


def test_files_and_directories_with_bad_events_among_good_ones(tmp_path: Path) -> None:
    events = tmp_path / "events"
    (events / "more").mkdir(parents=True)
    nameless = run_event("nameless", ["a"], ["b"])
    del nameless["job"]["name"]
    (events / "day1.ndjson").write_bytes(
        b"\n".join(
            [
                orjson.dumps(run_event("load", ["raw"], ["staged"])),
                b"{not json",
                b"",
                orjson.dumps(nameless),
                orjson.dumps(run_event("build", ["staged"], ["mart"])),
            ]
        )
    )
    (events / "more" / "day2.json").write_bytes(
        orjson.dumps([run_event("report", ["mart"], ["report"])], option=orjson.OPT_INDENT_2)
    )
    (events / "notes.txt").write_text("not an event file: skipped")
    data = tmp_path / "data"

    done = _ripple("ingest", "--data-dir", str(data), str(events))

    assert done.returncode == 1, done.stderr
    assert "3 accepted, 2 rejected" in done.stderr
    assert f"{events / 'day1.ndjson'}:2: $: not valid JSON" in done.stderr
    assert "(got '{not json')" in done.stderr
    assert f"{events / 'day1.ndjson'}:5:" not in done.stderr  # line 3 is blank; 5 is good
    assert f"{events / 'day1.ndjson'}:4: $.job.name" in done.stderr
    assert _jobs(data) == {"job:jobs:load", "job:jobs:build", "job:jobs:report"}


def test_stdin_and_a_clean_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    body = b"\n".join(
        orjson.dumps(run_event(f"job_{i}", [f"t{i}"], [f"t{i + 1}"])) for i in range(3)
    )

    done = _ripple("ingest", "--data-dir", str(data), "-", stdin=body)

    assert done.returncode == 0, done.stderr
    assert "3 accepted, 0 rejected" in done.stderr
    assert _jobs(data) == {f"job:jobs:job_{i}" for i in range(3)}


def test_gzipped_files_and_stdin(tmp_path: Path) -> None:
    """Exports often come gzipped: read as they are, from a file or from stdin; a stream that is
    neither gzip nor UTF-8 is a rejection naming where, not a traceback."""
    data = tmp_path / "data"
    day = tmp_path / "day.ndjson.gz"
    day.write_bytes(gzip.compress(orjson.dumps(run_event("load", ["raw"], ["staged"])) + b"\n"))
    piped = gzip.compress(orjson.dumps(run_event("build", ["staged"], ["mart"])))

    from_file = _ripple("ingest", "--data-dir", str(data), str(day))
    from_stdin = _ripple("ingest", "--data-dir", str(data), "-", stdin=piped)
    garbled = _ripple("ingest", "--data-dir", str(data), "-", stdin=b"\xff\xfe not text")

    assert from_file.returncode == 0, from_file.stderr
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert _jobs(data) == {"job:jobs:load", "job:jobs:build"}
    assert garbled.returncode == 1
    assert "<stdin>:1: not UTF-8 text: byte 0xff at offset 0" in garbled.stderr
    assert "Traceback" not in garbled.stderr


def test_a_missing_path_is_an_error_that_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.ndjson"

    done = _ripple("ingest", "--data-dir", str(tmp_path / "data"), str(missing))

    assert done.returncode != 0
    assert f"{missing}: no such file or directory" in done.stderr


def test_a_running_server_answers_for_what_ripple_ingest_adds_to_its_data_dir(
    tmp_path: Path,
) -> None:
    """Loading history with `ripple ingest` while `ripple serve` runs on the same data directory:
    the server takes the events up from the shared log (within its one-second follow interval),
    and what it accepts afterwards lands after them."""
    data = tmp_path / "data"
    server = RippleServer(data)
    server.start()
    try:
        history = tmp_path / "history.ndjson"
        history.write_bytes(
            b"\n".join(
                orjson.dumps(run_event(name, [src], [dst]))
                for name, src, dst in (("load", "raw", "staged"), ("build", "staged", "mart"))
            )
        )
        done = _ripple("ingest", "--data-dir", str(data), str(history))
        assert done.returncode == 0, done.stderr

        root = f"dataset:{DS_NS}:raw"
        deadline = time.monotonic() + 15
        answer = httpx.get(f"{server.url}/api/v1/impact", params={"nodeId": root})
        while answer.status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.2)
            answer = httpx.get(f"{server.url}/api/v1/impact", params={"nodeId": root})
        assert answer.status_code == 200, answer.text
        impacted = {node["id"] for node in answer.json()["nodes"]}
        assert {"job:jobs:load", "job:jobs:build", f"dataset:{DS_NS}:mart"} <= impacted

        posted = httpx.post(
            f"{server.url}/api/v1/lineage", json=run_event("report", ["mart"], ["report"])
        )
        assert posted.status_code == 201, posted.text
        order = httpx.get(f"{server.url}/api/v1/order", params={"nodeId": root}).json()
        assert order["layers"] == [["job:jobs:load"], ["job:jobs:build"], ["job:jobs:report"]]
    finally:
        server.stop()
    assert _jobs(data) == {"job:jobs:load", "job:jobs:build", "job:jobs:report"}
