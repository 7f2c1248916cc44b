"""How much of a `sharefab` simulation is SQL: every statement's time, count and query plan.

    .venv/bin/python bench/sim_sql.py --size M --weeks 1 --seed 1 --top 30

Plays `sharefab simulate --size SIZE --weeks WEEKS --seed SEED --policy sharefab` in this
process with a timer around every statement the database driver runs (SQLAlchemy's cursor
events), then prints the process's CPU seconds, the seconds spent inside the driver, and the
`--top` statements by time with their count and SQLite's `EXPLAIN QUERY PLAN` (taken the first
time each statement runs). What is not SQL is Python: the services' ORM work and the planner.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

SECONDS: dict[str, float] = defaultdict(float)
COUNT: dict[str, int] = defaultdict(int)
PLAN: dict[str, list[str]] = {}


def _key(statement: str) -> str:
    return re.sub(r"\s+", " ", statement).strip()


@event.listens_for(Engine, "before_cursor_execute")
def _before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
    conn.info["sql_started"] = time.perf_counter()


@event.listens_for(Engine, "after_cursor_execute")
def _after(
    conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
) -> None:
    spent = time.perf_counter() - conn.info.pop("sql_started", time.perf_counter())
    key = _key(statement)
    SECONDS[key] += spent
    COUNT[key] += 1
    first = key.split(" ", 1)[0].upper()
    if key not in PLAN and not executemany and first in ("SELECT", "UPDATE", "DELETE"):
        try:
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, params)
            PLAN[key] = [str(row[-1]) for row in rows.fetchall()]
        except Exception as exc:  # a plan is a hint; a statement it cannot explain is shown so
            PLAN[key] = [f"(no plan: {exc})"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="M")
    ap.add_argument("--weeks", default="1")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    from sharefab.cli import app

    started = time.process_time()
    app(
        [
            "simulate",
            *("--size", args.size, "--weeks", args.weeks, "--seed", args.seed),
            *("--policy", "sharefab", "--json"),
        ],
        standalone_mode=False,
    )
    cpu = time.process_time() - started
    total = sum(SECONDS.values())
    print(
        f"\nCPU {cpu:.1f} s; inside the database driver {total:.1f} s ({100 * total / cpu:.0f} %)"
    )
    for key in sorted(SECONDS, key=SECONDS.__getitem__, reverse=True)[: args.top]:
        n = COUNT[key]
        print(f"{SECONDS[key]:8.2f} s {n:8d} x {1000 * SECONDS[key] / n:7.3f} ms  {key[:200]}")
        for line in PLAN.get(key, []):
            print(f"{'':30}{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
