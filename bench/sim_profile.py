"""Where a simulation's time goes: one policy, one seed, each handler and service call timed.

    .venv/bin/python bench/sim_profile.py --size M --weeks 1 --seed 1 --out /tmp/sim-profile.md

Plays `sharefab simulate --size SIZE --weeks WEEKS --seed SEED --policy sharefab` in this
process with a wall-clock timer around the simulator's event handlers and the platform calls
under them (quotes, accepts, events, idle pull, re-plans, the live plan's reloads), then prints
a table: seconds, calls, milliseconds a call, share of the run. Calls nest (idle pull runs
inside a completion, a re-plan inside idle pull), so the shares add up to more than 100 %.
The figures of the run are the same as without the timers (the timers only read the clock).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sharefab.execution import service as execution
from sharefab.gen.cluster import SIZES
from sharefab.market import live, replan
from sharefab.market import service as market
from sharefab.sim.policies import sharefab as policy
from sharefab.sim.runner import simulate
from sharefab.sim.world import build_world, cluster_for

SECONDS: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)
# the simulated week of each handler's calls: seconds per (week, handler)
WEEKLY: dict[tuple[int, str], float] = defaultdict(float)
MINUTES_PER_WEEK = 7 * 24 * 60


def _timed(owner: Any, name: str, label: str, handler: bool = False) -> None:
    inner: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent = time.perf_counter() - started
            SECONDS[label] += spent
            CALLS[label] += 1
            if handler:
                WEEKLY[(args[0].now // MINUTES_PER_WEEK, label)] += spent

    setattr(owner, name, wrapper)


def instrument() -> None:
    """Timers around the handlers of the `sharefab` policy and the calls under them."""
    for name, label in (
        ("_arrive", "arrival (create, quote, accept)"),
        ("_complete", "completion (event, idle pull, next start)"),
        ("_start", "start (event)"),
        ("_reoptimise", "re-optimisation"),
        ("_break", "breakdown (event, replan)"),
        ("_sync", "simulator reads back changed bookings"),
    ):
        _timed(policy._Run, name, label, handler=True)
    _timed(market, "request_quotes", "in arrival: quote")
    _timed(market, "accept_quote", "in arrival: accept")
    _timed(execution, "report_event", "in start, completion: report_event")
    _timed(replan, "pull", "in completion: idle pull")
    _timed(replan, "replan", "in pull, breakdown, start: re-plan of a few orders")
    _timed(live.LivePlan, "refresh", "in every call: the live plan catches up")


def main() -> None:
    parser = argparse.ArgumentParser(description="Where a simulation's time goes.")
    parser.add_argument("--size", default="M")
    parser.add_argument("--weeks", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    world = build_world(cluster_for(SIZES[args.size], args.weeks, args.seed), args.weeks)
    instrument()
    started = time.perf_counter()
    result = simulate(world, ["sharefab"], [args.seed])
    total = time.perf_counter() - started
    metrics = result.metrics["sharefab"][0]
    command = (
        f"python bench/sim_profile.py --size {args.size} --weeks {args.weeks} --seed {args.seed}"
    )
    lines = [
        "# Where a sharefab simulation's time goes",
        "",
        f"`{command}`: {len(world.cluster.orders)} orders, {total:.1f} s in all; on time "
        f"{100 * metrics['on_time_rate']:.1f} %.",
        "",
        "| call | s | calls | ms a call | share |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, seconds in sorted(SECONDS.items(), key=lambda kv: -kv[1]):
        n = CALLS[label]
        lines.append(
            f"| {label} | {seconds:.1f} | {n} | {1000 * seconds / n:.2f} | "
            f"{100 * seconds / total:.0f} % |"
        )
    weeks = sorted({w for w, _ in WEEKLY})
    if len(weeks) > 1:
        handlers = sorted({h for _, h in WEEKLY}, key=lambda h: -SECONDS[h])
        lines += [
            "",
            "Seconds per simulated week (handlers only; the tail after the last week is "
            "the run's wind-down):",
            "",
            "| handler | " + " | ".join(f"week {w + 1}" for w in weeks) + " |",
            "| --- |" + " ---: |" * len(weeks),
        ]
        for h in handlers:
            cells = " | ".join(f"{WEEKLY[(w, h)]:.1f}" for w in weeks)
            lines.append(f"| {h} | {cells} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
