"""FJSP benchmark: our solver (median of seeds) against best-known values and, optionally,
PyJobShop run alternately on the same instances with the same time and workers."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sharefab.optimize.io_fjs import read_fjs
from sharefab.optimize.solve import solve
from sharefab.optimize.validate import validate


@dataclass
class Run:
    objective: int | None
    lower_bound: int
    runtime_s: float
    valid: bool
    status: str


@dataclass
class Row:
    name: str
    bks: int | None
    ours: list[Run] = field(default_factory=list)
    peer: Run | None = None

    @property
    def median(self) -> int | None:
        values = [r.objective for r in self.ours if r.objective is not None]
        return int(statistics.median_low(values)) if values else None

    @property
    def median_run(self) -> Run | None:
        runs = sorted(
            (r for r in self.ours if r.objective is not None), key=lambda r: r.objective or 0
        )
        return runs[(len(runs) - 1) // 2] if runs else None


def run_ours(path: Path, time_limit: float, workers: int, seed: int) -> Run:
    t0 = time.perf_counter()
    data = read_fjs(path)
    result = solve(
        data, time_limit=time_limit - (time.perf_counter() - t0), workers=workers, seed=seed
    )
    runtime = time.perf_counter() - t0
    valid = bool(result.schedule) and not validate(data, result.schedule)
    return Run(result.objective, result.lower_bound, runtime, valid, result.status.value)


def run_pyjobshop(path: Path, time_limit: float, workers: int) -> Run:
    import pyjobshop

    t0 = time.perf_counter()
    data = pyjobshop.read(path)
    res = pyjobshop.solve(data, "ortools", time_limit=time_limit, num_workers=workers)
    runtime = time.perf_counter() - t0
    obj = None if res.objective is None or res.objective != res.objective else round(res.objective)
    return Run(obj, round(res.lower_bound), runtime, obj is not None, str(res.status.value))


def _gap(value: int | None, bks: int | None) -> float | None:
    if value is None or not bks:
        return None
    return 100.0 * (value - bks) / bks


def _fmt(x: float | int | None, spec: str = "") -> str:
    return "-" if x is None else format(x, spec)


def table(rows: list[Row], peer: bool) -> str:
    head = [
        "instance",
        "best known",
        "ours (median)",
        "seeds",
        "gap %",
        "lower bound",
        "time s",
        "valid",
    ]
    if peer:
        head += ["pyjobshop", "peer gap %", "ours/peer"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    gaps, peer_gaps = [], []
    for row in rows:
        med = row.median
        run = row.median_run
        gap = _gap(med, row.bks)
        if gap is not None:
            gaps.append(gap)
        cells = [
            row.name,
            _fmt(row.bks),
            _fmt(med),
            " ".join(_fmt(r.objective) for r in row.ours),
            _fmt(gap, ".2f"),
            _fmt(max((r.lower_bound for r in row.ours), default=None)),
            _fmt(run.runtime_s if run else None, ".1f"),
            "yes" if row.ours and all(r.valid for r in row.ours) else "NO",
        ]
        if peer:
            p = row.peer
            pg = _gap(p.objective if p else None, row.bks)
            if pg is not None:
                peer_gaps.append(pg)
            ratio = med / p.objective if (p and p.objective and med is not None) else None
            cells += [_fmt(p.objective if p else None), _fmt(pg, ".2f"), _fmt(ratio, ".3f")]
        lines.append("| " + " | ".join(cells) + " |")
    mean = statistics.fmean(gaps) if gaps else None
    footer = f"\nMean gap to best known (ours, median of seeds): {_fmt(mean, '.2f')} %"
    if peer:
        pmean = statistics.fmean(peer_gaps) if peer_gaps else None
        footer += f"; PyJobShop: {_fmt(pmean, '.2f')} %"
        worse = [
            r.name
            for r in rows
            if r.peer
            and r.peer.objective is not None
            and r.median is not None
            and r.median > r.peer.objective
        ]
        footer += f". Instances where ours is worse than PyJobShop: {', '.join(worse) or 'none'}."
    return "\n".join(lines) + "\n" + footer + "\n"


def run_bench(
    folder: Path,
    time_limit: float,
    workers: int,
    seeds: int,
    peer: str | None,
    out: Path | None,
    names: list[str] | None,
    command: str,
    echo: Callable[[str], None],
) -> list[Row]:
    bks_path = folder / "bks.json"
    bks = json.loads(bks_path.read_text()) if bks_path.exists() else {}
    files = sorted(folder.glob("*.fjs"))
    if names:
        files = [f for f in files if f.stem in names]
    rows: list[Row] = []
    started = dt.datetime.now(dt.UTC)
    for path in files:
        entry = bks.get(path.stem, {})
        row = Row(path.stem, entry.get("ub") if isinstance(entry, dict) else None)
        for seed in range(seeds):
            run = run_ours(path, time_limit, workers, seed)
            row.ours.append(run)
            echo(
                f"{path.stem} seed {seed}: {run.objective} (lb {run.lower_bound}, "
                f"{run.runtime_s:.1f} s, {run.status}, valid={run.valid})"
            )
            if peer == "pyjobshop" and seed == 0:
                row.peer = run_pyjobshop(path, time_limit, workers)
                echo(
                    f"{path.stem} pyjobshop: {row.peer.objective} (lb {row.peer.lower_bound}, "
                    f"{row.peer.runtime_s:.1f} s, {row.peer.status})"
                )
        rows.append(row)
    text = table(rows, peer is not None)
    echo(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        out.write_text(
            f"# FJSP benchmark: {folder.name}\n\n"
            f"Command: `{command}`\n\n"
            f"Started {started:%Y-%m-%d %H:%M} UTC, finished "
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node() or 'host'} "
            f"({os.cpu_count()} CPUs, load average at end {load[0]:.2f}). {time_limit:g} s and "
            f"{workers} workers per run, {seeds} seed(s) for ours (median reported); "
            + (
                "PyJobShop 0.0.9 (OR-Tools CP-SAT) once per instance, alternating with ours. "
                if peer
                else ""
            )
            + "Every plan of ours was checked by the independent validator (column valid). "
            "Gap = 100 (value - best known) / best known.\n\n" + text
        )
    return rows
