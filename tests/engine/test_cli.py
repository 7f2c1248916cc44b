"""`sharefab solve` and `sharefab bench fjsp` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sharefab.cli import app

runner = CliRunner()
DOCS = Path(__file__).parents[2] / "docs" / "optimize"

TINY = "2 2\n2 1 1 3 1 2 2\n1 2 1 2 2 4\n"


def test_solve_fjs_json_and_plan(tmp_path: Path) -> None:
    """--json prints one object as the last line; --out writes 0-based plan indices.
    Job 0: 3 on M1 then 2 on M2; job 1: 2 on M1 or 4 on M2 -> optimum 5
    (job 1 on M1 [3, 5) or on M2 [0, 4) while job 0's second op runs [3, 5))."""
    inst = tmp_path / "tiny.fjs"
    inst.write_text(TINY)
    plan = tmp_path / "plan.json"
    result = runner.invoke(
        app, ["solve", str(inst), "--time-limit", "5", "--json", "--out", str(plan)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output.strip().splitlines()[-1])
    assert doc["status"] == "optimal"
    assert doc["objective"] == 5
    assert doc["valid"] is True
    assert {"lower_bound", "runtime_s"} <= doc.keys()
    ops = json.loads(plan.read_text())["operations"]
    assert {(o["job"], o["operation"]) for o in ops} == {(0, 0), (0, 1), (1, 0)}
    assert next(o for o in ops if (o["job"], o["operation"]) == (0, 1))["resource"] == 1


def test_solve_human_output_with_objective(tmp_path: Path) -> None:
    """The JSON example instance solves with an objective override and prints the status."""
    result = runner.invoke(
        app,
        ["solve", str(DOCS / "example-instance.json"), "--objective", "cost", "--time-limit", "5"],
    )
    assert result.exit_code == 0, result.output
    assert "status:" in result.output
    assert "valid:       True" in result.output


def test_bad_input_is_rejected_with_location(tmp_path: Path) -> None:
    """A malformed .fjs exits 2 with the line named; nothing is solved."""
    inst = tmp_path / "bad.fjs"
    inst.write_text("1 2\n1 1 3 5\n")
    result = runner.invoke(app, ["solve", str(inst), "--json"])
    assert result.exit_code == 2
    doc = json.loads(result.output.strip().splitlines()[-1])
    assert doc["status"] == "invalid_input"
    assert "line 2 (job 0)" in doc["error"]


def test_infeasible_instance_reports_reason(tmp_path: Path) -> None:
    """An operation longer than every window gives status infeasible and the reason."""
    inst = tmp_path / "inf.json"
    inst.write_text(
        json.dumps(
            {
                "resources": [{"windows": [[0, 4]]}],
                "jobs": [{"operations": [{"modes": [{"resource": 0, "duration": 9}]}]}],
            }
        )
    )
    result = runner.invoke(app, ["solve", str(inst), "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.output.strip().splitlines()[-1])
    assert doc["status"] == "infeasible"
    assert "longer than every capacity window" in doc["reason"]


def test_bench_fjsp_writes_table(tmp_path: Path) -> None:
    """bench fjsp runs each .fjs, reads bks.json and writes a Markdown table with the gap."""
    (tmp_path / "a.fjs").write_text(TINY)
    (tmp_path / "bks.json").write_text(json.dumps({"a": {"ub": 5, "lb": 5}}))
    out = tmp_path / "res.md"
    result = runner.invoke(
        app, ["bench", "fjsp", str(tmp_path), "--time-limit", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "| a | 5 | 5 | 5 | 0.00 |" in text
    assert "Command: `sharefab" in text
