"""Where a `sharefab` simulation's work went from one provider to another, and back.

    .venv/bin/python bench/sim_churn.py --size S --weeks 2 --seed 1

Plays `sharefab simulate --size SIZE --weeks WEEKS --seed SEED --policy sharefab` in this
process and, before the run's database is dropped, reads every operation's work orders in the
order they were made (a move to another provider cancels one and makes the next). Prints the
moves, how many took the step back to a provider (or the very machine) it had had before, the
reasons the moved work orders give, how long before its start each work order was moved
away, and how many times operations moved.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select

from sharefab.kit.db import unit_of_work
from sharefab.market.models import Booking
from sharefab.sim.policies import sharefab as policy


def churn(engine: Any) -> str:
    """The summary of the work orders in the run database behind ``engine``."""
    with unit_of_work(engine, write=False) as session:
        rows = session.execute(
            select(
                Booking.operation_id,
                Booking.provider_organization_id,
                Booking.resource_id,
                Booking.moved_reason,
                Booking.starts_at,
                Booking.moved_at,
            ).order_by(Booking.id)
        ).all()
    by_operation: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_operation[row.operation_id].append(row)
    moves = back_to_provider = back_to_machine = 0
    times: Counter[int] = Counter()
    reasons: Counter[str] = Counter()
    ahead: Counter[str] = Counter()  # how long before its start a work order was moved away
    bands = ((4, "under 4 h"), (24, "4 to 24 h"), (72, "1 to 3 days"), (10**9, "3 days or more"))
    for bookings in by_operation.values():
        providers = {bookings[0].provider_organization_id}
        machines = {bookings[0].resource_id}
        for b in bookings[1:]:
            moves += 1
            back_to_provider += b.provider_organization_id in providers
            back_to_machine += b.resource_id in machines
            providers.add(b.provider_organization_id)
            machines.add(b.resource_id)
        for b in bookings[:-1]:  # a moved-away work order says why
            reasons[(b.moved_reason or "").split(" at ")[0][:60]] += 1
            if b.moved_at is not None:
                hours = (b.starts_at - b.moved_at).total_seconds() / 3600
                ahead[next(label for limit, label in bands if hours < limit)] += 1
        times[min(len(bookings) - 1, 10)] += 1
    lines = [
        f"operations {len(by_operation)}, moves to another provider {moves}, back to a provider "
        f"it had had {back_to_provider}, back to the very machine {back_to_machine}",
        "operations by times moved (10: ten or more): "
        + ", ".join(f"{k}: {v}" for k, v in sorted(times.items())),
        "moved away this long before the work order's start: "
        + ", ".join(f"{label}: {ahead[label]}" for _, label in bands),
        "reasons:",
        *(f"{n:8d}  {why}" for why, n in reasons.most_common(8)),
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="S")
    ap.add_argument("--weeks", default="2")
    ap.add_argument("--seed", default="1")
    args = ap.parse_args()
    play = policy._Run.run

    def run(self: Any) -> Any:
        record = play(self)
        print(churn(self.engine), file=sys.stderr)
        return record

    policy._Run.run = run  # type: ignore[method-assign]
    from sharefab.cli import app

    app(
        [
            "simulate",
            *("--size", args.size, "--weeks", args.weeks, "--seed", args.seed),
            *("--policy", "sharefab", "--json"),
        ],
        standalone_mode=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
