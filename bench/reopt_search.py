"""The re-optimisation's search against its list-scheduling passes, on the simulator's plans.

    .venv/bin/python bench/reopt_search.py --size S --weeks 2 --seed 1 --at 25,45,70 \
        --budgets 6,12 --out bench/results/reopt-search-S.md

Plays `sharefab simulate --size SIZE --weeks WEEKS --seed SEED --policy sharefab` in this
process until its re-optimisation number max(--at), keeping the inputs of the re-optimisations
numbered in --at (the live plan's free time, the orders still to place, the plan as it stands).
On each it then compares, side by side: the plan as it stands (re-timed), the best of the
list-scheduling passes (`market.replan.reoptimise` without search), and the cluster planner's
search from that best (`optimize.polish`) at each budget of --budgets neighbourhoods
(deterministic, in this process). Plans compare by (weighted orders late, promises broken,
minutes late); the search's plan counts only when it has fewer orders late or promises broken.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

from sharefab.gen.cluster import SIZES
from sharefab.kit.settings import get_settings
from sharefab.market import replan
from sharefab.optimize.polish import POLISH_WORK, polish
from sharefab.optimize.rolling import Replanned, best_of_passes
from sharefab.sim.arrivals import make_scenario
from sharefab.sim.policies import get_policy
from sharefab.sim.world import DEFAULT_LOAD, build_world, cluster_for


class _Enough(Exception):
    """The last re-optimisation wanted has been kept: stop the simulation."""


def capture(size: str, weeks: int, seed: int, at: set[int]) -> dict[int, tuple[Any, ...]]:
    """The inputs of the re-optimisations numbered `at` (1 = the first) of one run."""
    kept: dict[int, tuple[Any, ...]] = {}
    calls = [0]
    real = replan.best_of_passes

    def spy(
        timelines: Any, network: Any, pending: Any, now: int, current: Any, *a: Any, **kw: Any
    ) -> Any:
        calls[0] += 1
        out = real(timelines, network, pending, now, current, *a, **kw)
        if calls[0] in at:
            copies = [t.copy() for t in timelines]
            kept[calls[0]] = (copies, network, list(pending), now, current, kw.get("stay"))
            if len(kept) == len(at):
                raise _Enough
        return out

    replan.best_of_passes = spy  # type: ignore[assignment]
    try:
        world = build_world(cluster_for(SIZES[size], weeks, seed, DEFAULT_LOAD), weeks)
        get_policy("sharefab")(world, make_scenario(world, seed, None), None, None)
    except _Enough:
        pass
    finally:
        replan.best_of_passes = real
    return kept


def _best(snapshot: tuple[Any, ...]) -> tuple[Replanned, Replanned]:
    """(the plan as it stands, re-timed; the best of the list-scheduling passes)."""
    timelines, network, pending, now, kept, stay = snapshot
    share = get_settings().replan_slack_share
    rounds = replan.REOPTIMISE_ROUNDS
    return kept, best_of_passes(timelines, network, pending, now, kept, rounds, share, stay)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="S", choices=sorted(SIZES))
    ap.add_argument("--weeks", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--at", default="25,45,70", help="re-optimisation numbers to compare on")
    ap.add_argument("--budgets", default="6,12", help="neighbourhoods of the search")
    ap.add_argument("--out", type=Path, default=None, help="also write the table as Markdown")
    args = ap.parse_args()
    at = {int(x) for x in args.at.split(",")}
    budgets = [int(x) for x in args.budgets.split(",")]
    t0 = time.perf_counter()
    snapshots = capture(args.size, args.weeks, args.seed, at)
    played = time.perf_counter() - t0
    head = "| re-optimisation | orders | steps | plan as it stands | passes (best) |"
    head += "".join(f" search {n} | s |" for n in budgets)
    rows = [head, "|" + "---|" * (5 + 2 * len(budgets))]
    for number in sorted(snapshots):
        snap = snapshots[number]
        timelines, network, pending, now = snap[:4]
        kept, best = _best(snap)
        cells = [
            f"{number}",
            f"{len(pending)}",
            f"{sum(len(p.steps) for p in pending)}",
            f"{kept.values}",
            f"{best.values}",
        ]
        for n in budgets:
            work = dataclasses.replace(POLISH_WORK, neighbourhoods=n)
            t = time.perf_counter()
            got = polish(timelines, network, pending, now, best, work=work)
            taken = got.values[:2] < best.values[:2]
            cells += [
                f"{got.values}{' **taken**' if taken else ''}",
                f"{time.perf_counter() - t:.2f}",
            ]
        rows.append("| " + " | ".join(cells) + " |")
    command = (
        f".venv/bin/python bench/reopt_search.py --size {args.size} --weeks {args.weeks} "
        f"--seed {args.seed} --at {args.at} --budgets {args.budgets}"
        + (f" --out {args.out}" if args.out else "")
    )
    text = "\n".join(
        [
            "# The re-optimisation's search against its list-scheduling passes",
            "",
            f"`{command}`",
            "",
            "Values: (weighted orders late against due, weighted promises broken, weighted "
            "minutes late); 's': seconds of the search in this process (deterministic budgets; "
            f"the simulation up to the last re-optimisation took {played:.0f} s).",
            "",
            *rows,
            "",
        ]
    )
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
