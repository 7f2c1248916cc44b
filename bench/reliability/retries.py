"""Idempotency under retries: clients that time out and retry every create with the same key.

Each scenario is one create a client wants done: submit an order, ask for quotes, accept a
quote, report `started` or `completed` on a work order (which pays the provider out of escrow),
confirm delivery or close an order (which settles the escrow). The client sends it with a fresh
Idempotency-Key, gives up waiting after a random timeout (often while the first request is
still running, sometimes after the server already answered: the answer was lost), and retries
with the same key: one to three retries, one after the other or several at once, racing each
other and the original. A retry told 409 "still being processed" waits and retries again, as
documented. Work flows: orders get quoted, accepted, worked, delivered and closed, so every
kind of create meets real state.

Checked per scenario: every 2xx answer to one key is the same answer (status and body); at
most one of them was produced fresh (the others carry `Idempotent-Replayed: true`), else the
create ran twice; no 5xx. Checked at the end, in the database: as many orders as creates
answered 2xx, at most one set of quotes per answered quote request, no event recorded twice,
and `sharefab check` (no overlap, whole plans, one escrow funding and settlement, the ledger,
the audit chain).

Two targets: `--target asgi` (default) calls the app in-process (the original's answer is
always collected, even after the client stopped waiting for it); `--target server` runs the
real uvicorn server and times out with real socket timeouts (httpx), so an abandoned request
keeps running in the server while its retries arrive.

    .venv/bin/python bench/reliability/retries.py --scenarios 10000 --backend sqlite --seed 1
    .venv/bin/python bench/reliability/retries.py --scenarios 10000 --backend postgres
    .venv/bin/python bench/reliability/retries.py --scenarios 1000 --target server --backend both

Exit status 1 when any check failed (each failure is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from bench.reliability import crash  # noqa: E402

IN_FLIGHT = "still being processed"


@dataclass(frozen=True)
class Answer:
    """What one attempt got back: status, JSON body (or text), and whether it was a replay."""

    status: int
    body: Any
    replayed: bool

    @property
    def in_flight(self) -> bool:
        """The documented 409 for a retry that arrived while the first was still running."""
        return self.status == 409 and IN_FLIGHT in json.dumps(self.body)


Send = Callable[[str, str, Any, dict[str, str], float | None], Answer | None]


def _answer(r: httpx.Response) -> Answer:
    try:
        body = r.json()
    except ValueError:
        body = r.text
    return Answer(r.status_code, body, r.headers.get("Idempotent-Replayed") == "true")


# --- targets: how a request is sent ---------------------------------------------------------


@contextmanager
def asgi_target(
    url: str, headers_of: dict[str, dict[str, str]]
) -> Iterator[tuple[dict[str, Send], httpx.Client]]:
    """In-process: one app on `url`, one TestClient per role; timeouts are simulated."""
    from fastapi.testclient import TestClient

    from sharefab.app import create_app
    from sharefab.kit.db import build_engine

    engine = build_engine(url)
    app = create_app(engine)
    with TestClient(app, raise_server_exceptions=False) as base:
        clients = {
            role: TestClient(app, headers=h, raise_server_exceptions=False)
            for role, h in headers_of.items()
        }
        for c in clients.values():
            c.portal = base.portal

        def sender(role: str) -> Send:
            c = clients[role]

            def send(
                method: str, path: str, body: Any, headers: dict[str, str], timeout: float | None
            ) -> Answer:
                del timeout  # the caller stops waiting; the request itself runs to the end
                return _answer(c.request(method, "/api/v1" + path, json=body, headers=headers))

            return send

        admin = TestClient(
            app,
            base_url="http://testserver/api/v1",
            headers=headers_of["provider"],
            raise_server_exceptions=False,
        )
        admin.portal = base.portal
        yield {role: sender(role) for role in clients}, admin
    engine.dispose()


@contextmanager
def server_target(
    url: str, headers_of: dict[str, dict[str, str]], workdir: Path
) -> Iterator[tuple[dict[str, Send], httpx.Client]]:
    """A real server; a timeout closes the connection (the server keeps working on it)."""
    servers = crash.Servers(url, workdir)
    try:
        servers.start()
        local = threading.local()

        def sender(role: str) -> Send:
            def send(
                method: str, path: str, body: Any, headers: dict[str, str], timeout: float | None
            ) -> Answer | None:
                if not hasattr(local, role):
                    setattr(
                        local, role, httpx.Client(base_url=servers.base, headers=headers_of[role])
                    )
                c: httpx.Client = getattr(local, role)
                try:
                    r = c.request(
                        method,
                        "/api/v1" + path,
                        json=body,
                        headers=headers,
                        timeout=httpx.Timeout(60.0, read=max(timeout, 0.002))
                        if timeout is not None
                        else 60.0,
                    )
                except httpx.TimeoutException:
                    return None
                return _answer(r)

            return send

        with httpx.Client(
            base_url=servers.base + "/api/v1", headers=headers_of["provider"], timeout=60
        ) as admin:
            yield {role: sender(role) for role in headers_of}, admin
    finally:
        servers.close()


# --- the work that flows --------------------------------------------------------------------


@dataclass
class Flow:
    """What can be done next: orders to quote, quotes to accept, work orders to report on."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    to_quote: list[int] = field(default_factory=list)
    to_accept: list[tuple[int, int]] = field(default_factory=list)
    to_start: list[tuple[int, int]] = field(default_factory=list)
    to_complete: list[tuple[int, int]] = field(default_factory=list)
    to_confirm: list[int] = field(default_factory=list)
    to_close: list[int] = field(default_factory=list)
    later_steps: dict[int, list[int]] = field(default_factory=dict)
    references: int = 0

    def take(self, rng: random.Random) -> tuple[str, Any]:
        """The next scenario: advance work in progress first, else submit a new order."""
        with self.lock:
            options = [
                (name, pool)
                for name, pool in (
                    ("close", self.to_close),
                    ("confirm", self.to_confirm),
                    ("complete", self.to_complete),
                    ("start", self.to_start),
                    ("accept", self.to_accept),
                    ("quote", self.to_quote),
                )
                if pool
            ]
            if options and (rng.random() < 0.8 or len(self.to_quote) > 8):
                # quotes solve (slow): they come up half as often as other work
                weights = [0.5 if name == "quote" else 1.0 for name, _ in options]
                name, pool = rng.choices(options, weights)[0]
                return name, pool.pop(rng.randrange(len(pool)))
            self.references += 1
            return "order", self.references


@dataclass
class Tally:
    """Counts and failures over all scenarios."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    scenarios: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    timed_out_in_flight: int = 0
    lost_answers: int = 0
    in_flight_409: int = 0
    busy_429: int = 0
    replays: int = 0
    raced: int = 0
    reexecuted_after_error: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    orders_created: dict[int, str] = field(default_factory=dict)
    quoted: Counter[int] = field(default_factory=Counter)
    events: Counter[tuple[int, str]] = field(default_factory=Counter)


class Runner:
    """Runs scenarios from several threads against one target."""

    def __init__(
        self,
        send: dict[str, Send],
        flow: Flow,
        tally: Tally,
        pool: ThreadPoolExecutor,
        asgi: bool,
    ) -> None:
        self.send, self.flow, self.tally, self.pool, self.asgi = send, flow, tally, pool, asgi

    def attempt_until_answered(
        self, role: str, method: str, path: str, body: Any, key: str, rng: random.Random
    ) -> Answer | None:
        """One retry: resend while told 'still being processed' (as documented)."""
        for _ in range(400):
            timeout = rng.choice([None, None, 0.05, 0.5]) if not self.asgi else None
            a = self.send[role](method, path, body, {"Idempotency-Key": key}, timeout)
            with self.tally.lock:
                self.tally.attempts += 1
            if a is None:  # a real timeout again: retry once more with the same key
                with self.tally.lock:
                    self.tally.lost_answers += 1
                continue
            if a.in_flight:
                with self.tally.lock:
                    self.tally.in_flight_409 += 1
                time.sleep(rng.uniform(0.01, 0.05))
                continue
            if a.status == 429:  # "busy, ask again later": a client waits and asks again
                with self.tally.lock:
                    self.tally.busy_429 += 1
                time.sleep(rng.uniform(0.05, 0.2))
                continue
            return a
        return None

    def scenario(self, kind: str, role: str, method: str, path: str, body: Any, seed: int) -> Any:
        """Send, time out at random, retry with the same key; check the answers agree."""
        rng = random.Random(seed)
        key = uuid.uuid4().hex
        timeout = rng.choice([0.0, 0.002, 0.01, 0.03, 0.1, 0.3, 1.0])
        original: Future[Answer | None] = self.pool.submit(
            self.send[role], method, path, body, {"Idempotency-Key": key}, timeout
        )
        with self.tally.lock:
            self.tally.attempts += 1
        try:
            first = original.result(timeout=timeout) if self.asgi else original.result()
            timed_out = first is None
        except FutureTimeout:
            timed_out = True
        with self.tally.lock:
            self.tally.timed_out_in_flight += int(timed_out)
        retries = rng.randint(1, 3)
        racing = retries > 1 and rng.random() < 0.5
        answers: list[Answer | None] = []
        if racing:
            with self.tally.lock:
                self.tally.raced += 1
            futures = [
                self.pool.submit(self.attempt_until_answered, role, method, path, body, key, rng)
                for _ in range(retries)
            ]
            answers = [f.result() for f in futures]
        else:
            for _ in range(retries):
                time.sleep(rng.choice([0.0, 0.0, 0.005, 0.02]))
                answers.append(self.attempt_until_answered(role, method, path, body, key, rng))
        orig = original.result()
        seen = [a for a in [orig, *answers] if a is not None and not a.in_flight]
        return self.judge(kind, path, key, orig, answers, seen)

    def judge(
        self,
        kind: str,
        path: str,
        key: str,
        orig: Answer | None,
        answers: list[Answer | None],
        seen: list[Answer],
    ) -> Answer | None:
        """Record the outcome; a failure when answers differ, ran twice, or a 5xx came back."""
        t = self.tally
        ok = [a for a in seen if 200 <= a.status < 300]
        problems = []
        if any(a.status >= 500 for a in seen):
            problems.append(f"5xx: {[a.status for a in seen]}")
        if any(a is None for a in answers):
            problems.append("a retry never got an answer")
        if len({(a.status, json.dumps(a.body, sort_keys=True)) for a in ok}) > 1:
            problems.append(f"different 2xx answers to one key: {[a.body for a in ok]}")
        fresh = [a for a in ok if not a.replayed]
        if len(fresh) > 1:
            problems.append(f"the create ran {len(fresh)} times (answers not marked replayed)")
        if orig is not None and 200 <= orig.status < 300:
            for a in answers:
                if a is not None and (a.status, a.body) != (orig.status, orig.body):
                    problems.append(
                        f"a retry got {a.status} {a.body!r:.200}, the original got {orig.status}"
                    )
        elif ok and orig is not None and not orig.in_flight:
            with t.lock:
                t.reexecuted_after_error += 1
        with t.lock:
            t.scenarios[kind] += 1
            t.replays += sum(a.replayed for a in seen)
            outcome = ok[0].status if ok else (seen[0].status if seen else "none")
            t.outcomes[f"{kind} {outcome}"] += 1
            t.failures += [f"{kind} {path} key {key}: {p}" for p in problems]
        return ok[0] if ok else (seen[0] if seen else None)

    def step(self, rng: random.Random, buyers: list[str]) -> None:
        """Take the next piece of work and run it as a scenario; feed the flow with its result."""
        kind, item = self.flow.take(rng)
        seed = rng.randrange(1 << 30)
        f, t = self.flow, self.tally
        if kind == "order":
            buyer = rng.choice(buyers)
            body = crash.order_body(f"R-{item}", rng)
            a = self.scenario(kind, buyer, "POST", "/orders", body, seed)
            if a is not None and a.status == 201:
                with f.lock:
                    f.to_quote.append(a.body["id"])
                with t.lock:
                    t.orders_created[a.body["id"]] = buyer
        elif kind == "quote":
            buyer = t.orders_created[item]
            a = self.scenario(kind, buyer, "POST", f"/orders/{item}/quotes", None, seed)
            if a is not None and a.status == 201 and a.body:
                with t.lock:
                    t.quoted[item] += 1
                with f.lock:
                    f.to_accept.append((item, rng.choice(a.body)["id"]))
        elif kind == "accept":
            order_id, quote_id = item
            buyer = t.orders_created[order_id]
            a = self.scenario(kind, buyer, "POST", f"/quotes/{quote_id}/accept", None, seed)
            if a is not None and a.status == 201:
                steps = [b["id"] for b in sorted(a.body["bookings"], key=lambda b: b["starts_at"])]
                with f.lock:
                    f.to_start.append((order_id, steps[0]))
                    f.later_steps[order_id] = steps[1:]
            elif a is not None and a.status == 409:
                with f.lock:
                    f.to_quote.append(order_id)
        elif kind in ("start", "complete"):
            order_id, booking_id = item
            event = "started" if kind == "start" else "completed"
            path = f"/work-orders/{booking_id}/events"
            a = self.scenario(kind, "provider", "POST", path, {"type": event}, seed)
            if a is not None and a.status == 201:
                with t.lock:
                    t.events[(booking_id, event)] += 1
                with f.lock:
                    if kind == "start":
                        f.to_complete.append(item)
                    elif f.later_steps.get(order_id):
                        f.to_start.append((order_id, f.later_steps[order_id].pop(0)))
                    else:
                        f.to_confirm.append(order_id)
            elif a is not None and a.status == 409 and kind == "start":
                with f.lock:  # the machine is busy with other work: try again later
                    f.to_start.append(item)
        else:
            order_id = item
            buyer = t.orders_created[order_id]
            action = "confirm-delivery" if kind == "confirm" else "close"
            a = self.scenario(kind, buyer, "POST", f"/orders/{order_id}/{action}", None, seed)
            if a is not None and a.status == 200 and kind == "confirm":
                with f.lock:
                    f.to_close.append(order_id)


# --- checks in the database -----------------------------------------------------------------


def check_database_after(url: str, tally: Tally) -> list[str]:
    """No duplicate order, quote set, booking, event or transfer; `sharefab check` holds."""
    from sqlalchemy import func, select

    from sharefab.execution.models import Event
    from sharefab.integrity import check_database
    from sharefab.ledger.models import Transfer
    from sharefab.market.models import Quote
    from sharefab.orders.models import Order

    problems: list[str] = []
    with crash.snapshot_session(url) as s:
        problems += [str(v) for v in check_database(s)]
        orders = s.scalar(select(func.count()).select_from(Order)) or 0
        if orders != len(tally.orders_created):
            problems.append(
                f"{orders} orders stored, {len(tally.orders_created)} creates answered 201"
            )
        for order_id, n in s.execute(
            select(Quote.order_id, func.count()).group_by(Quote.order_id)
        ).all():
            if n > 3 * tally.quoted[order_id]:
                problems.append(
                    f"order {order_id} has {n} quotes from {tally.quoted[order_id]} quote "
                    "requests answered 201 (at most 3 each)"
                )
        for booking_id, kind, n in s.execute(
            select(Event.booking_id, Event.type, func.count())
            .group_by(Event.booking_id, Event.type)
            .having(func.count() > 1)
        ).all():
            problems.append(f"work order {booking_id} recorded '{kind.value}' {n} times")
        for kind, n in s.execute(select(Transfer.kind, func.count()).group_by(Transfer.kind)).all():
            expected = {
                "fund_escrow": tally.outcomes["accept 201"],
                "release": tally.outcomes["complete 201"],
            }.get(kind.value)
            if expected is not None and n != expected:
                problems.append(f"{n} {kind.value} transfers, {expected} answered 201")
    return problems


# --- the run --------------------------------------------------------------------------------


def run(
    backend: str,
    scenarios: int,
    seed: int,
    target: str = "asgi",
    workers: int = 4,
    postgres: str | None = None,
    progress: bool = False,
    max_seconds: float = float("inf"),
) -> dict[str, Any]:
    """Run `scenarios` retry scenarios from `workers` threads (no new one starts after
    `max_seconds`); return counts and failures."""
    t0 = time.monotonic()
    tally, flow = Tally(), Flow()
    with tempfile.TemporaryDirectory(prefix="sharefab-retries-") as tmp:
        wd = Path(tmp)
        with crash.database(backend, wd, postgres) as url:
            tenants = crash.make_tenants(url, 2)
            headers = {role: h for role, (_, h) in tenants.items()}
            ctx = asgi_target(url, headers) if target == "asgi" else server_target(url, headers, wd)
            with ctx as (send, admin):
                crash.publish_capacity_with(admin, 6, 3)
                counter = iter(range(scenarios))
                lock = threading.Lock()
                with ThreadPoolExecutor(max_workers=workers * 8) as pool:
                    runner = Runner(send, flow, tally, pool, target == "asgi")

                    def worker(i: int) -> None:
                        rng = random.Random(seed * 1000 + i)
                        while time.monotonic() - t0 < max_seconds:
                            with lock:
                                n = next(counter, None)
                            if n is None:
                                return
                            runner.step(rng, ["buyer0", "buyer1"])
                            if progress and n % 500 == 0:
                                print(
                                    f"{n}/{scenarios} scenarios, {len(tally.failures)} failures",
                                    file=sys.stderr,
                                    flush=True,
                                )

                    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
                    for th in threads:
                        th.start()
                    for th in threads:
                        th.join()
            db_problems = check_database_after(url, tally)
    return {
        "backend": backend,
        "target": target,
        "seed": seed,
        "scenarios": sum(tally.scenarios.values()),
        "by_kind": dict(tally.scenarios),
        "attempts": tally.attempts,
        "originals_timed_out_in_flight": tally.timed_out_in_flight,
        "raced": tally.raced,
        "in_flight_409": tally.in_flight_409,
        "busy_429": tally.busy_429,
        "lost_answers": tally.lost_answers,
        "replays": tally.replays,
        "reexecuted_after_error": tally.reexecuted_after_error,
        "outcomes": dict(tally.outcomes),
        "failures": tally.failures,
        "database_problems": db_problems,
        "orders": len(tally.orders_created),
        "seconds": round(time.monotonic() - t0, 1),
        "ok": not tally.failures and not db_problems,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse flags, run each backend, print a summary (JSON with --json)."""
    os.environ.update(crash.SERVER_ENV)  # before sharefab reads its settings
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--scenarios", type=int, default=500, help="retry scenarios per backend")
    p.add_argument("--target", choices=["asgi", "server"], default="asgi")
    p.add_argument("--workers", type=int, default=4, help="client threads")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--postgres", help="PostgreSQL server URL (default: a throwaway server)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument(
        "--max-seconds", type=float, default=float("inf"), help="start no scenario after this"
    )
    args = p.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        r = run(
            backend,
            args.scenarios,
            args.seed,
            target=args.target,
            workers=args.workers,
            postgres=args.postgres,
            progress=not args.json,
            max_seconds=args.max_seconds,
        )
        results.append(r)
        if not args.json:
            print(
                f"{backend} ({args.target}): {r['scenarios']} scenarios {r['by_kind']}, "
                f"{r['attempts']} requests; originals still running at the timeout "
                f"{r['originals_timed_out_in_flight']}, racing retries {r['raced']}, "
                f"409 in flight {r['in_flight_409']}, 429 busy {r['busy_429']}, "
                f"replayed answers {r['replays']}, "
                f"lost answers {r['lost_answers']}; {r['orders']} orders; "
                f"{len(r['failures'])} failures, {len(r['database_problems'])} database "
                f"problems; {r['seconds']} s"
            )
            for f in r["failures"][:30] + r["database_problems"][:30]:
                print("  FAIL", f)
    if args.json:
        print(json.dumps(results, indent=1))
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
