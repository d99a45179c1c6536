"""`ripple backfill plan` caps plans at RIPPLE_DEFAULT_MAX_TASKS unless --max-tasks is given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from ripple.cli.main import main
from tests.unit.builders import run_event


def airflow(dag: str, task: str) -> dict[str, Any]:
    return {"airflow": {"dag": {"dag_id": dag}, "task": {"task_id": task}}}


def test_backfill_plan_is_capped_by_default(tmp_path: Path) -> None:
    events = tmp_path / "events.json"
    events.write_text(
        json.dumps(
            [
                run_event("shop.clean", ["raw"], ["stg"], run_facets=airflow("shop", "clean")),
                run_event("shop.publish", ["stg"], ["mart"], run_facets=airflow("shop", "publish")),
            ]
        )
    )
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(events), *data]).exit_code == 0
    plan = ["backfill", "plan", "dataset:db:raw", "--format", "json", *data]
    thousand_days = ["--from", "2023-01-01", "--to", "2025-09-26"]

    refused = runner.invoke(main, [*plan, *thousand_days])
    assert refused.exit_code != 0
    assert "'options.maxTasks'" in refused.output
    assert "2,000 task instances" in refused.output and "1,000 allowed by default" in refused.output

    cut = runner.invoke(main, [*plan, *thousand_days, "--truncate"])
    assert cut.exit_code == 0, cut.output
    assert len(json.loads(cut.output)["units"]) == 1_000

    wide = runner.invoke(main, [*plan, *thousand_days, "--max-tasks", "2000"])
    assert wide.exit_code == 0, wide.output
    assert len(json.loads(wide.output)["units"]) == 2_000

    one_day = ["--date", "2026-03-01"]
    setting = runner.invoke(main, [*plan, *one_day], env={"RIPPLE_DEFAULT_MAX_TASKS": "1"})
    assert setting.exit_code != 0 and "1 allowed by default" in setting.output
