"""Quote and accept latency on the live plan, beside the CP-SAT quote it replaced.

    .venv/bin/python bench/quote.py --size demo --history --book 0 --quotes 100 --reoptimise \
        --out bench/results/quote-demo.md
    .venv/bin/python bench/quote.py --size L --orders 5600 --book all --quotes 60 --cpsat 20 \
        --reoptimise --out bench/results/quote-L.md

What it does, on a fresh SQLite database in /dev/shm (or `--postgres URL`):

1. seeds a generated cluster of `--size` (the demo's or a benchmark size; `--orders N` generates
   N orders instead of the size's own count) without bookings; or, with `--history`, the demo
   database as `sharefab demo` builds it (its last two weeks played: bookings running and
   ahead, the orders released after now as drafts);
2. books orders through the marketplace services, one after another by release date: each is
   quoted (all four options) on a read snapshot, as the API does, and its balanced quote is
   accepted in a write transaction of its own; `--book all` books every order but the last
   `--quotes` ones (size L has 5,000 orders and about 28,900 operations; with `--orders 5600`,
   more than 30,000 are booked);
3. times `--quotes` more orders the same way (quote, then accept), and on the first `--cpsat`
   of them also the quote as it was made before the live plan (`bench/cpsat_quote.py`: the
   candidates and free spans read from the database, one CP-SAT solve per option, 2 s at
   most), comparing the delivery each promises for the fastest and the balanced option;
4. with `--reoptimise`, times a re-optimisation of the whole plan (to the plan, then applied).

The first quote of a process loads the live plan; its time is reported on its own. Figures are
wall-clock times in this process on this machine (noisy: compare the two columns of one run).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import Progress
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpsat_quote import cpsat_quote
from sharefab.capacity.service import sync_taxonomy
from sharefab.identity.models import Role
from sharefab.identity.principal import Principal
from sharefab.kit.db import build_engine, unit_of_work
from sharefab.kit.errors import SharefabError
from sharefab.kit.migrate import upgrade
from sharefab.market import service as market
from sharefab.market.models import Booking, BookingStatus
from sharefab.models import import_all_models
from sharefab.orders.models import Order, OrderStatus
from sharefab.seed import seed_cluster
from sharefab.sim.metrics import reason_group


def percentile(values: list[float], q: float) -> float:
    xs = sorted(values)
    if not xs:
        return 0.0
    pos = (len(xs) - 1) * q / 100
    lo, hi = int(pos), min(len(xs) - 1, int(pos) + 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _reasons(refused: Counter[str]) -> str:
    if not refused:
        return ""
    return " (" + "; ".join(f"{n}: {why}" for why, n in refused.most_common(3)) + ")"


def _buyer(org_id: int) -> Principal:
    return Principal(
        organization_id=org_id, role=Role.admin, is_operator=False, is_provider=False, is_buyer=True
    )


def quote_and_accept(engine: Engine, order_id: int, org_id: int) -> tuple[float, float, Any]:
    """(quote ms, accept ms, the quote plan) of one order: quoted on a read snapshot, its
    balanced quote accepted in a write transaction (as the API does)."""
    buyer = _buyer(org_id)
    started = time.perf_counter()
    with unit_of_work(engine, write=False) as session:
        plan = market.plan_quotes(session, buyer, order_id)
    quoted = time.perf_counter()
    with unit_of_work(engine) as session:
        quotes = market.record_quotes(session, buyer, plan)
        chosen = next((q for q in quotes if q.option == "balanced"), quotes[0])
        market.accept_quote(session, buyer, chosen.id)
    accepted = time.perf_counter()
    return (quoted - started) * 1000, (accepted - quoted) * 1000, plan


def run(args: argparse.Namespace) -> str:
    import_all_models()
    tmp = tempfile.mkdtemp(
        prefix="sharefab-quote-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
    )
    url = args.postgres or f"sqlite:///{tmp}/bench.db"
    engine = build_engine(url)
    upgrade(engine)
    with unit_of_work(engine) as session:
        sync_taxonomy(session)
    print(f"database: {url}", file=sys.stderr)
    if args.history:
        from sharefab.sim.demo import play_history

        play_history(engine, seed=args.seed)
    else:
        seed_cluster(engine, size=args.size, seed=args.seed, start=args.start, orders=args.orders)
    with unit_of_work(engine, write=False) as session:
        drafts = list(
            session.execute(
                select(Order.id, Order.organization_id)
                .where(Order.status == OrderStatus.draft)
                .order_by(Order.release_at, Order.id)
            )
        )
    book = len(drafts) - args.quotes if args.book == "all" else min(int(args.book), len(drafts))
    booking, measured = drafts[:book], drafts[book : book + args.quotes]
    cold_ms = 0.0
    book_quote: list[float] = []
    book_accept: list[float] = []
    refused: Counter[str] = Counter()  # the first clause of each refusal's message
    with Progress() as progress:
        task = progress.add_task("booking the plan", total=len(booking))
        for k, (order_id, org_id) in enumerate(booking):
            try:
                q, a, _ = quote_and_accept(engine, order_id, org_id)
            except SharefabError as e:
                refused[reason_group(str(e))] += 1
                progress.advance(task)
                continue
            if k == 0:
                cold_ms = q
            else:
                book_quote.append(q)
            book_accept.append(a)
            progress.advance(task)
    with unit_of_work(engine, write=False) as session:
        booked_ops = session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.status == BookingStatus.committed)
        )
    new_quote: list[float] = []
    new_accept: list[float] = []
    old_quote: list[float] = []
    compare: dict[str, list[str]] = {"fastest": [], "balanced": []}
    with Progress() as progress:
        task = progress.add_task("timing quotes", total=len(measured))
        for k, (order_id, org_id) in enumerate(measured):
            if k < args.cpsat:
                with unit_of_work(engine, write=False) as session:
                    order = session.get(Order, order_id)
                    assert order is not None
                    started = time.perf_counter()
                    old = cpsat_quote(session, order, datetime.now(UTC))
                    old_quote.append((time.perf_counter() - started) * 1000)
            try:
                q, a, plan = quote_and_accept(engine, order_id, org_id)
            except SharefabError as e:
                refused[reason_group(str(e))] += 1
                progress.advance(task)
                continue
            if not cold_ms:
                cold_ms = q
            else:
                new_quote.append(q)
            new_accept.append(a)
            if k < args.cpsat:
                for p, _ in plan.options:
                    for option in [p.option, *p.breakdown.get("also_best_for", [])]:
                        if option in compare and old.get(option) is not None:
                            ours, theirs = p.planned_delivery_at, old[option]
                            assert theirs is not None
                            compare[option].append(
                                "same"
                                if abs((ours - theirs).total_seconds()) < 60
                                else "earlier"
                                if ours < theirs
                                else "later"
                            )
            progress.advance(task)

    reopt_lines: list[str] = []
    if args.reoptimise:
        from sharefab.market import replan

        marks: list[tuple[float, str]] = []
        started = time.perf_counter()

        def heard(fraction: float, message: str, best: dict[str, Any] | None) -> None:
            marks.append((time.perf_counter() - started, message))

        with unit_of_work(engine) as session:
            report = replan.reoptimise(session, progress=heard)
        total = time.perf_counter() - started
        first = next((t for t, m in marks if m == "planned"), total)
        values = report.values
        reopt_lines = [
            "",
            f"Re-optimisation of the whole plan (in this process, SQLite write transaction): "
            f"planned after {first:.1f} s, applied and committed after {total:.1f} s; "
            f"{len(report.moves)} noticeable moves; objective before "
            f"{values.get('before')}, after {values.get('after')}, "
            f"{'applied' if values.get('applied') else 'not better: times brought up to date'}.",
        ]

    def row(name: str, xs: list[float]) -> str:
        if not xs:
            return f"| {name} | - | - | - | - | 0 |"
        return (
            f"| {name} | {percentile(xs, 50):.1f} | {percentile(xs, 95):.1f} | "
            f"{percentile(xs, 99):.1f} | {max(xs):.1f} | {len(xs)} |"
        )

    first_quote = (
        "first quote after the history (the live plan was loaded while playing it)"
        if args.history
        else "first quote of the process (loads the live plan)"
    )
    lines = [
        f"Size `{args.size}` (seed {args.seed}"
        f"{', the last two weeks played as `sharefab demo` does' if args.history else ''}"
        f"{f', {args.orders:,} orders' if args.orders else ''}), "
        f"{'PostgreSQL' if args.postgres else 'SQLite'}; "
        f"{booked_ops:,} committed booked operations when the timed quotes start; "
        f"{refused.total()} orders refused{_reasons(refused)}; {first_quote}: {cold_ms:.0f} ms.",
        "",
        "| latency (ms) | p50 | p95 | p99 | max | n |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        row("quote, live plan (4 options), while booking", book_quote),
        row("accept, while booking", book_accept),
        row("quote, live plan (4 options), timed orders", new_quote),
        row("accept, timed orders", new_accept),
        row("quote, CP-SAT as before (3 options), same orders", old_quote),
        "",
        "Delivery the live plan's quote plans against the CP-SAT quote's, same order, same plan:",
        "",
        "| option | earlier | same | later |",
        "| --- | ---: | ---: | ---: |",
    ]
    for option, results in compare.items():
        lines.append(
            f"| {option} | {results.count('earlier')} | {results.count('same')} | "
            f"{results.count('later')} |"
        )
    return "\n".join(lines + reopt_lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default=None, help="day the cluster starts (next Monday)")
    parser.add_argument("--orders", type=int, default=None, help="orders instead of the size's")
    parser.add_argument(
        "--history",
        action="store_true",
        help="the demo database as `sharefab demo` builds it: its last two weeks played",
    )
    parser.add_argument("--book", default="30", help="orders to book first, or 'all'")
    parser.add_argument("--quotes", type=int, default=100, help="orders to time")
    parser.add_argument("--cpsat", type=int, default=30, help="of those, also quoted by CP-SAT")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL instead of SQLite")
    parser.add_argument("--reoptimise", action="store_true", help="then time a re-optimisation")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    report = run(args)
    command = "bench/quote.py " + " ".join(sys.argv[1:])
    text = f"# Quote latency\n\n```\n.venv/bin/python {command}\n```\n\n{report}"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
