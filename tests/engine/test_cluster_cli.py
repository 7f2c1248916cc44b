"""`sharefab gen cluster` and `sharefab bench cluster` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sharefab.engine.cluster_cli import standalone_app

runner = CliRunner()
app = standalone_app()
SMALL = ["--factories", "6", "--resources", "40", "--orders", "40"]


def test_gen_cluster_same_seed_same_file(tmp_path: Path) -> None:
    """Two runs with one seed write byte-identical files; another seed differs."""
    paths = [tmp_path / f"{k}.json" for k in range(3)]
    for path, seed in zip(paths, ("4", "4", "5"), strict=True):
        result = runner.invoke(app, ["gen", "cluster", *SMALL, "--seed", seed, "-o", str(path)])
        assert result.exit_code == 0, result.output
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()
    doc = json.loads(paths[0].read_text())
    assert len(doc["orders"]) == 40
    assert len(doc["resources"]) == 40


def test_bench_cluster_json_reports_both_sides(tmp_path: Path) -> None:
    """--json prints one object with the baseline and sharefab side by side, both valid."""
    inst = tmp_path / "small.json"
    runner.invoke(app, ["gen", "cluster", *SMALL, "--seed", "5", "-o", str(inst)])
    png = tmp_path / "curve.png"
    result = runner.invoke(
        app,
        ["bench", "cluster", "--instance", str(inst), "--time-limit", "2", "--json",
         "--png", str(png)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output.strip().splitlines()[-1])
    assert doc["operations"] > 0
    assert doc["engine"].startswith("local")
    for side in ("baseline", "sharefab"):
        assert doc[side]["valid"] is True
        assert set(doc[side]) >= {
            "weighted_tardiness", "on_time_rate", "makespan", "total_cost", "utilisation",
            "first_feasible_s", "iterations", "peak_memory_mb", "valid",
        }  # fmt: skip
    assert doc["sharefab"]["weighted_tardiness"] <= doc["baseline"]["weighted_tardiness"]
    assert doc["lower_bound"]["weighted_tardiness"] <= doc["sharefab"]["weighted_tardiness"]
    assert png.stat().st_size > 0
    # the generated cluster lets piece work pause at a shift end, and the fcfs plan uses it
    assert doc["baseline"]["paused_operations"] > 0


def test_bench_refuses_a_precedence_cycle_by_name(tmp_path: Path) -> None:
    """A user-supplied cluster with a routing cycle is refused before solving, by name."""
    inst = tmp_path / "bad.json"
    runner.invoke(app, ["gen", "cluster", *SMALL, "--seed", "5", "-o", str(inst)])
    doc = json.loads(inst.read_text())
    order = doc["orders"][0]
    order["operations"][0]["predecessors"] = [order["operations"][-1]["seq"]]
    inst.write_text(json.dumps(doc))
    result = runner.invoke(app, ["bench", "cluster", "--instance", str(inst), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.output.strip().splitlines()[-1])["error"]
    assert f"order {order['reference']} has a precedence cycle" in error


def test_bench_with_dead_dask_address_fails_fast(tmp_path: Path) -> None:
    """--engine dask with an address nobody answers exits with a one-line error."""
    result = runner.invoke(
        app, ["bench", "cluster", "--size", "S", "--engine", "dask", "--address",
              "tcp://127.0.0.1:9", "--connect-timeout", "2"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "no Dask scheduler answers at tcp://127.0.0.1:9" in result.output


def test_gen_cluster_no_interruptible_writes_no_pausing_operation(tmp_path: Path) -> None:
    """--no-interruptible writes a cluster in which no operation may pause at a shift end; by
    default piece work may."""
    paths = {flag: tmp_path / f"{flag or 'default'}.json" for flag in ("", "--no-interruptible")}
    for flag, path in paths.items():
        args = ["gen", "cluster", *SMALL, "--seed", "5", "-o", str(path), *([flag] if flag else [])]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output

    def flags(path: Path) -> list[bool]:
        doc = json.loads(path.read_text())
        return [op["interruptible"] for o in doc["orders"] for op in o["operations"]]

    assert any(flags(paths[""]))
    off = flags(paths["--no-interruptible"])
    assert off
    assert not any(off)
    assert json.loads(paths["--no-interruptible"].read_text())["spec"]["interruptible"] is False


def test_gen_cluster_at_a_load_prints_the_load_per_family(tmp_path: Path) -> None:
    """--load calibrates the cluster: its most loaded capability family is at (just under) that
    load, and the command prints the load of every family, the most loaded first."""
    path = tmp_path / "loaded.json"
    result = runner.invoke(app, ["gen", "cluster", *SMALL, "--load", "0.8", "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["spec"]["load"] == 0.8
    lines = result.output.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("load per capability family"))
    rows = [line.split() for line in lines[start + 1 :] if line.startswith("  ")]
    assert len(rows) >= 3
    loads = [float(value.rstrip("%")) for _, value in rows]
    assert loads == sorted(loads, reverse=True)
    assert 60 < loads[0] <= 80


def test_gen_cluster_refuses_a_load_out_of_range(tmp_path: Path) -> None:
    """A load outside (0, 1.5] exits with status 2, one line naming it, and no file."""
    path = tmp_path / "never.json"
    result = runner.invoke(app, ["gen", "cluster", *SMALL, "--load", "1.7", "-o", str(path)])
    assert result.exit_code == 2
    assert result.output == (
        "error: --load 1.7: a load must be in (0, 1.5] (the share of its offered time the most "
        "loaded capability family gets)\n"
    )
    assert not path.exists()
