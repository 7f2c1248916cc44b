"""`sharefab simulate` on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sharefab.cli import app


def test_json_has_mean_and_ci_per_policy_and_metric(tmp_path: Path) -> None:
    """--json prints one object: per policy, each metric's mean and 95 % interval; the seeds."""
    runner = CliRunner()
    args = ["simulate", "--size", "S", "--weeks", "1", "--seed", "4", "--seeds", "2"]
    result = runner.invoke(app, [*args, "--policy", "greedy", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["seeds"] == [4, 5]
    cell = doc["policies"]["greedy"]["on_time_rate"]
    lo, hi = cell["ci95"]
    assert lo <= cell["mean"] <= hi
    again = runner.invoke(app, [*args, "--policy", "greedy", "--json"])
    assert again.stdout == result.stdout


def test_charts_are_written(tmp_path: Path) -> None:
    """--charts writes the utilisation-over-time and lateness PNGs."""
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--size",
            "S",
            "--weeks",
            "1",
            "--policy",
            "isolated",
            "--charts",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "utilisation.png").stat().st_size > 1000
    assert (tmp_path / "lateness.png").stat().st_size > 1000


def test_unknown_policy_is_refused() -> None:
    """A policy name that does not exist exits with status 2 and names the choices."""
    result = CliRunner().invoke(app, ["simulate", "--size", "S", "--weeks", "1", "--policy", "x"])
    assert result.exit_code == 2


def test_a_cluster_file_shorter_than_the_run_repeats_its_windows(tmp_path: Path) -> None:
    """A one-week cluster file simulated for two weeks: its capacity repeats, work continues."""
    import dataclasses

    from sharefab.gen import SIZES, cluster_to_json, generate_cluster

    spec = dataclasses.replace(SIZES["S"], factories=8, resources=40, orders=10, horizon_days=7)
    path = tmp_path / "cluster.json"
    path.write_text(cluster_to_json(generate_cluster(spec, 2)))
    result = CliRunner().invoke(
        app,
        ["simulate", "--cluster", str(path), "--weeks", "2", "--policy", "isolated,greedy"],
    )
    assert result.exit_code == 0, result.output
    assert "isolated" in result.stdout
    assert "greedy" in result.stdout
    assert "sharefab" not in result.stdout


def test_markdown_results_name_the_command(tmp_path: Path) -> None:
    """--markdown writes the table with the command that reproduces it."""
    out = tmp_path / "results.md"
    args = ["simulate", "--size", "S", "--weeks", "1", "--policy", "greedy", "--markdown", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "| on-time rate" in text
    assert "greedy" in text
    assert "--weeks" in text


def _small_cluster_file(path: Path) -> dict[str, Any]:
    import dataclasses

    from sharefab.gen import SIZES, cluster_to_dict, generate_cluster

    spec = dataclasses.replace(SIZES["S"], factories=8, resources=40, orders=10, horizon_days=7)
    doc = cluster_to_dict(generate_cluster(spec, 2))
    path.write_text(json.dumps(doc))
    return doc


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--load", "0"], "error: --load 0: a load must be in (0, 1.5]"),
        (["--load", "1.6"], "error: --load 1.6: a load must be in (0, 1.5]"),
        (
            ["--policy", "greedy,fifo"],
            "error: unknown policy 'fifo'; choose from isolated, greedy, greedy-edd, sharefab, "
            "clairvoyant",
        ),
        (["--sweep-load", "0.5,2"], "error: --sweep-load 2: a load must be in (0, 1.5]"),
        (["--sweep-load", "0.5,high"], "error: --sweep-load 'high': not a number; give loads in"),
        (
            ["--load", "0.7", "--sweep-load", "0.5,0.9"],
            "error: --load and --sweep-load: give one of them",
        ),
        (["--engine", "spark"], "error: --engine 'spark': choose one of local, dask"),
        (
            ["--address", "tcp://127.0.0.1:9"],
            "error: --address is the Dask scheduler: add --engine dask",
        ),
        (
            ["--engine", "dask", "--address", "tcp://127.0.0.1:9"],
            "error: no Dask scheduler answers at tcp://127.0.0.1:9",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """A bad option value exits with status 2 and one line naming the value and what is
    allowed; no chart, table or Markdown is written."""
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["simulate", "--size", "S", "--weeks", "1", "--policy", "greedy", *args,
         "--charts", str(out), "--markdown", str(out / "results.md")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output.startswith(message), result.output
    assert result.output.count("\n") == 1
    assert not out.exists()


def test_a_cluster_file_is_used_as_it_is(tmp_path: Path) -> None:
    """--load or --sweep-load with a --cluster file is refused: the file's orders and windows
    are what is simulated."""
    path = tmp_path / "cluster.json"
    _small_cluster_file(path)
    for option in (["--load", "0.5"], ["--sweep-load", "0.5,0.7"]):
        result = CliRunner().invoke(
            app, ["simulate", "--cluster", str(path), "--weeks", "1", "--policy", "greedy", *option]
        )
        assert result.exit_code == 2
        assert result.output.startswith(
            f"error: {option[0]} applies to generated clusters (--size); a --cluster file is used "
            "as it is"
        ), result.output


def test_a_cluster_file_needing_a_capability_nobody_has_is_refused(tmp_path: Path) -> None:
    """An order of a cluster file that names a capability no resource offers is refused by
    name (order, operation, capability) with the capabilities the cluster does offer."""
    path = tmp_path / "cluster.json"
    doc = _small_cluster_file(path)
    order = doc["orders"][3]
    order["operations"][1]["capability_code"] = "telepathy.remote"
    path.write_text(json.dumps(doc))
    out = tmp_path / "charts"
    result = CliRunner().invoke(
        app,
        ["simulate", "--cluster", str(path), "--weeks", "1", "--policy", "greedy",
         "--charts", str(out)],
    )  # fmt: skip
    assert result.exit_code == 2
    seq = order["operations"][1]["seq"]
    assert (
        f"order {order['reference']} operation {seq} needs capability 'telepathy.remote', which "
        "no resource of the cluster offers; offered: " in result.output
    )
    assert "inspection.cmm" in result.output or "turning.cnc" in result.output
    assert result.output.count("\n") == 1
    assert not out.exists()


def test_load_sets_the_generated_world(tmp_path: Path) -> None:
    """--load generates the cluster at that load: a busier world has more orders, and the JSON
    names its load."""
    runner = CliRunner()
    docs = {}
    for load in ("0.5", "0.95"):
        args = ["simulate", "--size", "S", "--weeks", "1", "--policy", "greedy", "--load", load]
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        docs[load] = json.loads(result.stdout.strip().splitlines()[-1])
    assert docs["0.5"]["load"] == 0.5
    assert docs["0.95"]["load"] == 0.95
    arrived = {k: d["policies"]["greedy"]["orders_arrived"]["mean"] for k, d in docs.items()}
    assert arrived["0.95"] > arrived["0.5"]


def test_the_sweep_writes_the_chart_and_the_table(tmp_path: Path) -> None:
    """--sweep-load runs the comparison at each load and writes on-time rate against load: a
    PNG, a Markdown table (one row per load, one column per policy) and the JSON."""
    result = CliRunner().invoke(
        app,
        ["simulate", "--size", "S", "--weeks", "1", "--policy", "greedy,greedy-edd",
         "--sweep-load", "0.9,0.5", "--seeds", "2", "--charts", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "on-time-vs-load.png").stat().st_size > 1000
    page = (tmp_path / "on-time-vs-load.md").read_text()
    assert "| load | utilisation ceiling | greedy | greedy-edd |" in page
    rows = [line for line in page.splitlines() if line.startswith(("| 0.5 |", "| 0.9 |"))]
    assert [r.split(" | ")[0] for r in rows] == ["| 0.5", "| 0.9"]  # by load
    assert all(r.count("%") >= 3 for r in rows)
    doc = json.loads((tmp_path / "on-time-vs-load.json").read_text())["sweep"]
    assert doc["loads"] == [0.5, 0.9]
    for policy in ("greedy", "greedy-edd"):
        points = doc["points"][policy]
        assert [p["load"] for p in points] == [0.5, 0.9]
        for p in points:
            lo, hi = p["ci95"]
            assert lo <= p["mean"] <= hi
    assert "--sweep-load 0.5,0.9" in page
    assert "0.5" in result.stdout
    assert "0.9" in result.stdout


def test_compare_adds_clairvoyant_only_when_it_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """--compare runs isolated, greedy, greedy-edd and sharefab, and the clairvoyant reference
    when its module can be imported."""
    import sys

    from sharefab.sim.policies import compared

    monkeypatch.setitem(sys.modules, "sharefab.sim.policies.clairvoyant", None)
    assert compared() == ("isolated", "greedy", "greedy-edd", "sharefab")
    monkeypatch.undo()
    try:
        import sharefab.sim.policies.clairvoyant  # noqa: F401
    except ImportError:
        assert compared() == ("isolated", "greedy", "greedy-edd", "sharefab")
    else:
        assert compared() == ("isolated", "greedy", "greedy-edd", "sharefab", "clairvoyant")
