"""Per-seed figures of finished simulation runs from two `--cache` directories, side by side.

    .venv/bin/python bench/sim_cache_compare.py --before var/simcache-8aa0b74 \
        --after var/simcache-e065a6d --policy sharefab --reference greedy-edd \
        --out bench/results/simulate-M8-e065a6d.md

A `sharefab simulate ... --cache DIR` run keeps each (policy, seed) run in DIR; this reads
them back (same world and seeds: the cache names a run by both) and prints, per seed, the
figures of `--policy` before and after a change, and `--reference` (a policy the change did not
touch) from `--before`. Only seeds present in both directories are shown. It also splits the
broken promises of `--policy` by what was promised: the due date itself, or a later date
(an order quoted late).
"""

from __future__ import annotations

import argparse
import pickle
import re
import statistics
import sys
from pathlib import Path
from typing import Any

from sharefab.optimize.live import merge_windows

FIGURES = (
    ("on_time_rate", "on time", 100, "%"),
    ("promises_kept_rate", "promises kept", 100, "%"),
    ("utilisation", "utilisation", 100, "%"),
    ("lateness_mean_h", "mean lateness", 1, " h"),
    ("lateness_p95_h", "p95 lateness", 1, " h"),
    ("moved_away_per_order", "moved to another provider, per order", 1, ""),
    ("orders_completed", "orders completed", 1, ""),
)


def runs(directory: Path, policy: str) -> dict[int, Any]:
    """seed -> the cached outcome of `policy` in `directory`."""
    out: dict[int, Any] = {}
    for path in sorted(directory.glob(f"{policy}-*.pickle")):
        m = re.fullmatch(rf"{re.escape(policy)}-(\d+)-[0-9a-f]+\.pickle", path.name)
        if m:
            with path.open("rb") as f:
                out[int(m.group(1))] = pickle.load(f)
    return out


def promises(outcome: Any) -> str:
    """Broken promises split by what was promised (the due date, or a later date)."""
    record = outcome[4]
    kept = {"due": [0, 0], "later": [0, 0]}
    past: list[int] = []  # minutes past the promise, of the broken ones delivered
    # every promise later than the due date, also those after the end (left out of the rate)
    after_due = [o.promised - o.due for o in record.orders.values() if o.promised is not None]
    after_due = [m for m in after_due if m > 0]
    beyond = sum(
        1
        for o in record.orders.values()
        if o.promised is not None and o.promised > record.end and o.promised > o.due
    )
    for o in record.orders.values():
        if o.promised is None or o.promised > record.end:
            continue
        kind = "due" if o.promised <= o.due else "later"
        kept[kind][0] += 1
        if o.delivered is None or o.delivered > o.promised:
            kept[kind][1] += 1
            if o.delivered is not None:
                past.append(o.delivered - o.promised)
    median = statistics.median(past) / 60 if past else 0.0
    return (
        f"{kept['due'][1]} of {kept['due'][0]} promised the due date, "
        f"{kept['later'][1]} of {kept['later'][0]} promised later; the broken ones delivered "
        f"came a median {median:.1f} h after the promise; {len(after_due)} promised after "
        f"the due date (a median "
        f"{(statistics.median(after_due) / 60 if after_due else 0.0):.1f} h after it), "
        f"{beyond} of them after the end"
    )


def work_done(outcome: Any, world: Any) -> tuple[float, float]:
    """(hours of work done inside the period counted on the fastest capable machine, planned
    hours over those fastest hours): how much work a policy got through, apart from which
    machines it used."""
    record = outcome[4]
    fastest = planned = 0.0
    for e in record.executions:
        inside = max(0, min(e.start + e.busy, world.end) - e.start)
        share = inside / e.busy if e.busy else 0.0
        fastest += share * min(m for _, m in world.modes[e.order][e.position])
        planned += share * e.planned
    return fastest / 60, planned / fastest if fastest else 0.0


def _overlap(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of merged spans `xs` that lie in merged spans `ys`."""
    out, i, j = [], 0, 0
    while i < len(xs) and j < len(ys):
        a, b = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if a < b:
            out.append((a, b))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return out


def idle_while_ready(outcome: Any, world: Any) -> float:
    """Hours machines stood idle inside their windows (in the period) while a step that later
    ran on them had its inputs there (the order had arrived and its predecessors' work had
    reached the machine's site): time lost to the plan, not to a lack of work. A greedy
    dispatcher loses some too (a step that may not pause needs a window that holds it)."""
    record = outcome[4]
    ran: dict[tuple[int, int], Any] = {(e.order, e.position): e for e in record.executions}
    waits: dict[int, list[tuple[int, int]]] = {}
    busy: dict[int, list[tuple[int, int]]] = {}
    for e in record.executions:
        busy.setdefault(e.resource, []).append((e.start, e.end))
        ready = record.orders[e.order].arrived
        here = world.resource_site[e.resource]
        for q in world.preds[e.order][e.position]:
            before = ran.get((e.order, q))
            if before is not None:
                there = world.resource_site[before.resource]
                ready = max(ready, before.end + world.site_minutes[there][here])
        waits.setdefault(e.resource, []).append((ready, min(e.start, world.end)))
    total = 0
    for r, spans in waits.items():
        windows = merge_windows([(a, min(b, world.end)) for a, b in world.windows[r]])
        waiting = _overlap(merge_windows(spans), windows)
        worked = _overlap(waiting, merge_windows(busy[r]))
        total += sum(b - a for a, b in waiting) - sum(b - a for a, b in worked)
    return total / 60


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True)
    ap.add_argument("--after", type=Path, required=True)
    ap.add_argument("--policy", default="sharefab")
    ap.add_argument("--reference", default="greedy-edd")
    ap.add_argument("--out", type=Path)
    ap.add_argument(
        "--world",
        help="SIZE,WEEKS,SEED of the runs' cluster (e.g. M,8,1): adds the work done in the "
        "period, in hours on the fastest capable machines, and the hours machines stood idle "
        "while work for them was ready (regenerates the cluster)",
    )
    args = ap.parse_args()
    before, after = runs(args.before, args.policy), runs(args.after, args.policy)
    reference = runs(args.before, args.reference)
    seeds = sorted(set(before) & set(after))
    if not seeds:
        print(f"no seed of {args.policy} is in both directories", file=sys.stderr)
        return 2
    lines = [
        "| figure | seed | "
        + f"{args.policy} ({args.before.name}) | {args.policy} ({args.after.name}) | "
        + f"{args.reference} ({args.before.name}) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for key, label, scale, unit in FIGURES:
        for seed in seeds:
            cells = []
            for source in (before, after, reference):
                value = source[seed][0].get(key) if seed in source else None
                cells.append("-" if value is None else f"{value * scale:,.1f}{unit}")
            lines.append(f"| {label} | {seed} | " + " | ".join(cells) + " |")
    if args.world:
        from sharefab.gen.cluster import SIZES
        from sharefab.sim.world import build_world, cluster_for

        size, weeks, seed = args.world.split(",")
        world = build_world(cluster_for(SIZES[size], int(weeks), int(seed)), int(weeks))
        for seed_ in seeds:
            cells = []
            for source in (before, after, reference):
                if seed_ not in source:
                    cells.append("-")
                    continue
                hours, slower = work_done(source[seed_], world)
                cells.append(f"{hours:,.0f} h (x{slower:.3f})")
            lines.append(
                f"| work done in the period, fastest-machine hours (planned/fastest) | {seed_} | "
                + " | ".join(cells)
                + " |"
            )
        for seed_ in seeds:
            cells = [
                "-" if seed_ not in source else f"{idle_while_ready(source[seed_], world):,.0f} h"
                for source in (before, after, reference)
            ]
            lines.append(
                "| machines idle in their windows while a step that later ran there was ready "
                f"| {seed_} | " + " | ".join(cells) + " |"
            )
    lines.append("")
    lines.append("Broken promises (delivered after the promised date, or not by the end):")
    lines.append("")
    for seed in seeds:
        lines.append(
            f"- seed {seed}: {args.before.name}: {promises(before[seed])}; "
            f"{args.after.name}: {promises(after[seed])}"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        command = " ".join(["python", *sys.argv])
        args.out.write_text(f"```\n{command}\n```\n\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
