"""CLI adapters over the optimiser: ``sharefab solve`` and ``sharefab bench fjsp``."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from sharefab.optimize.data import Objective, ProblemData, ProblemDataError
from sharefab.optimize.io_fjs import read_fjs
from sharefab.optimize.io_json import plan_to_dict, read_json
from sharefab.optimize.params import SolveParams
from sharefab.optimize.solve import solve
from sharefab.optimize.validate import validate

bench_app = typer.Typer(no_args_is_help=True)


def read_instance(path: Path) -> ProblemData:
    """Read a ``.fjs`` or ``.json`` instance (raises ``ProblemDataError`` with a located
    message)."""
    if path.suffix.lower() == ".fjs":
        return read_fjs(path)
    if path.suffix.lower() == ".json":
        return read_json(path)
    raise ProblemDataError(f"{path}: unknown instance format (expected .fjs or .json)")


def solve_command(
    file: Annotated[Path, typer.Argument(help="Instance file (.fjs or .json).")],
    objective: Annotated[
        str | None,
        typer.Option(help="makespan | tardiness | cost | lex:T1,T2 | mix:T1=W1,T2=W2"),
    ] = None,
    time_limit: Annotated[float, typer.Option(help="Seconds for the whole solve.")] = 10.0,
    workers: Annotated[int, typer.Option(help="Worker threads/processes.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object as the last line.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write the plan as JSON here.")] = None,
    params: Annotated[Path | None, typer.Option(help="Solver parameters (TOML).")] = None,
) -> None:
    """Solve an instance file (.fjs or .json) and print status, objective, bound and time."""
    t0 = time.perf_counter()
    try:
        data = read_instance(file)
        if objective is not None:
            data = dataclasses.replace(data, objective=Objective.parse(objective))
        solve_params = SolveParams.from_file(params) if params else SolveParams()
    except (ProblemDataError, OSError, ValueError) as exc:
        if json_output:
            print(json.dumps({"status": "invalid_input", "error": str(exc)}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    remaining = max(0.1, time_limit - (time.perf_counter() - t0))
    result = solve(data, solve_params, time_limit=remaining, workers=workers, seed=seed)
    violations = validate(data, result.schedule) if result.schedule else []
    valid = bool(result.schedule) and not violations
    runtime = time.perf_counter() - t0
    if out is not None and result.schedule:
        out.write_text(json.dumps(plan_to_dict(result.schedule), indent=1) + "\n")
    if json_output:
        print(
            json.dumps(
                {
                    "status": result.status.value,
                    "objective": result.objective,
                    "objectives": list(result.objectives),
                    "lower_bound": result.lower_bound,
                    "runtime_s": round(runtime, 3),
                    "valid": valid,
                    "reason": result.reason,
                    "violations": [str(v) for v in violations],
                }
            )
        )
    else:
        print(f"status:      {result.status.value}")
        print(f"objective:   {result.objective}")
        print(f"lower bound: {result.lower_bound}")
        print(f"time:        {runtime:.2f} s")
        print(f"valid:       {valid}")
        if result.reason:
            print(f"reason:      {result.reason}")
        for v in violations:
            print(f"violation:   {v}")


@bench_app.command("fjsp")
def bench_fjsp_command(
    folder: Annotated[Path, typer.Argument(help="Folder of .fjs files (bks.json optional).")],
    time_limit: Annotated[float, typer.Option(help="Seconds per run.")] = 30.0,
    workers: Annotated[int, typer.Option(help="Workers per run.")] = 2,
    seeds: Annotated[int, typer.Option(help="Seeds per instance (median reported).")] = 1,
    peer: Annotated[str | None, typer.Option(help="Also run a peer: pyjobshop.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the table as Markdown here.")] = None,
    only: Annotated[str | None, typer.Option(help="Comma-separated instance names to run.")] = None,
) -> None:
    """Run every .fjs in FOLDER and print instance, best known, ours, gap %, bound, time."""
    from sharefab.engine.bench_fjsp import run_bench

    if peer is not None and peer != "pyjobshop":
        print(f"error: unknown peer {peer!r} (supported: pyjobshop)", file=sys.stderr)
        raise typer.Exit(code=2)
    names = [n.strip() for n in only.split(",")] if only else None
    command = " ".join(["sharefab", *sys.argv[1:]])
    run_bench(folder, time_limit, workers, seeds, peer, out, names, command, echo=print)
