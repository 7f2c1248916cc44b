"""Locust: buyers of a seeded sharefab platform browse, quote, order and accept.

Run as its own process against a running server, e.g.

    SHAREFAB_LOAD_BUYERS=buyers.json locust -f bench/reliability/locustfile.py --headless \
        --host http://127.0.0.1:8000 -u 100 -r 50 -t 45s --csv out/step

(`bench/reliability/load.py` does this per load step). The mix, by request weight:
70 % browse (order lists, order details, an order's quotes and bookings, capacity search,
resource list), 15 % quote, 10 % order submission, 5 % accept. The tasks are tagged `browse`,
`quote`, `order` and `accept` (Locust's `--tags` / `--exclude-tags` isolate a part).

Environment:
- SHAREFAB_LOAD_BUYERS: a JSON file, a list of buyers, each `{"email": ..., "password": ...}`
  (signed in once per buyer) or `{"authorization": "Bearer ..."}`.
- SHAREFAB_LOAD_USER_RATE: requests per second each simulated user offers (default 0.25);
  the offered load is users x rate, as long as answers come back within 1/rate seconds.
  Each user waits a random fraction of a cycle before its first request and draws each
  cycle's length from 0.5 to 1.5 times 1/rate (`jittered_pacing`), so the users' requests
  are spread in time: Locust starts each second's batch of users at the same instant, and
  with a fixed cycle (`constant_throughput`) each batch kept firing in step, e.g. 40 requests
  at once every second at 50 req/s.
- SHAREFAB_LOAD_PACING: `jittered` (the default, as above) or `constant` (Locust's
  `constant_throughput`, users of a batch in step: the pacing of the runs before 59fd939).
- SHAREFAB_LOAD_STATUS_FILE: where to write the count of answers per endpoint and status.

Business answers are not failures: 409 to an accept (the slot was taken since the quote, or a
newer quote superseded it), 409 to a quote (no free capacity fits) and 429 to a quote (the
solver's line is full; Retry-After) are counted apart in the status file. Every 5xx, every
other 4xx and every transport error is a failure.

Users are `FastHttpUser`s (geventhttpclient, Locust's lighter client for load generation;
the earlier `HttpUser` used python-requests).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from locust import FastHttpUser, constant_throughput, events, tag, task

API = "/api/v1"
USER_RATE = float(os.environ.get("SHAREFAB_LOAD_USER_RATE", "0.25"))
PACING = os.environ.get("SHAREFAB_LOAD_PACING", "jittered")
if PACING not in ("jittered", "constant"):
    raise SystemExit(f"SHAREFAB_LOAD_PACING must be jittered or constant, not {PACING!r}")
EXPECTED_CONFLICT = {"quote", "accept"}


class Buyer:
    """One buyer organisation's credentials and what its users have learnt about it."""

    def __init__(self, spec: dict[str, str]) -> None:
        self.spec = spec
        self.authorization: str | None = spec.get("authorization")
        self.lock = threading.Lock()
        self.order_ids: list[int] = []
        self.quotable: list[int] = []
        self.open_quotes: list[tuple[int, int]] = []  # (quote id, order id)
        self.templates: list[dict[str, Any]] = []
        self.capabilities: list[str] = []
        self.loaded = False


def jittered_pacing(rate: float) -> Callable[[Any], float]:
    """A wait_time: one task started per cycle, cycles of 1/rate seconds on average.

    Each cycle's length is drawn uniformly from 0.5 to 1.5 times 1/rate and counts the task's
    own run time (as Locust's `constant_pacing` does), so the mean rate stays `rate` while
    the answers come back within half a cycle, and users started together drift apart.
    """
    pace = 1.0 / rate

    def wait_time(user: Any) -> float:
        now = time.perf_counter()
        started = getattr(user, "_cycle_started", now)
        cycle = pace * random.uniform(0.5, 1.5)
        wait = max(0.0, cycle - (now - started))
        user._cycle_started = now + wait
        return wait

    return wait_time


def _load_buyers() -> list[Buyer]:
    path = os.environ.get("SHAREFAB_LOAD_BUYERS")
    if not path:
        raise SystemExit("set SHAREFAB_LOAD_BUYERS to a JSON file of buyer credentials")
    with open(path, encoding="utf-8") as fh:
        return [Buyer(spec) for spec in json.load(fh)]


BUYERS = _load_buyers()
_next_buyer = itertools.cycle(range(len(BUYERS)))
STATUS: Counter[tuple[str, int]] = Counter()
TIMES: dict[str, list[float]] = defaultdict(list)
GROUPS = {
    "/orders/{id}/quotes": "quote",
    "/orders": "order",
    "/quotes/{id}/accept": "accept",
}
_counter = itertools.count(1)
RUN_TAG = f"{os.getpid()}-{random.randrange(10**6)}"


def _group(request_type: str, name: str) -> str | None:
    if name.endswith("(setup)") or name == "sign in":
        return None
    return "read" if request_type == "GET" else GROUPS.get(name)


@events.request.add_listener
def _count(request_type: str, name: str, response_time: float, response: Any, **_: Any) -> None:
    code = getattr(response, "status_code", 0) if response is not None else 0
    STATUS[(f"{request_type} {name}", int(code or 0))] += 1
    group = _group(request_type, name)
    if group:
        TIMES[group].append(response_time)


@events.spawning_complete.add_listener
def _reset(**_: Any) -> None:
    STATUS.clear()
    TIMES.clear()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@events.quitting.add_listener
def _write_status(environment: Any, **_: Any) -> None:
    path = os.environ.get("SHAREFAB_LOAD_STATUS_FILE")
    if not path:
        return
    by_name: dict[str, dict[str, int]] = defaultdict(dict)
    for (name, code), n in sorted(STATUS.items()):
        by_name[name][str(code)] = n
    groups = {
        g: {
            "count": len(v),
            "p50": _pct(v, 0.50),
            "p95": _pct(v, 0.95),
            "p99": _pct(v, 0.99),
            "max": max(v),
        }
        for g, v in TIMES.items()
        if v
    }
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"status": by_name, "groups": groups}, fh, indent=1, sort_keys=True)


def _order_body(template: dict[str, Any]) -> dict[str, Any]:
    """A new order like `template` (one of the buyer's), released now, due in two weeks."""
    now = datetime.now(UTC).replace(microsecond=0)
    ops = [
        {
            "seq": op["seq"],
            "name": op["name"],
            "capability_code": op["capability_code"],
            "quantity": op["quantity"],
            "setup_minutes": op["setup_minutes"],
            "unit_seconds": op["unit_seconds"],
            "class_unit_seconds": op["class_unit_seconds"],
            "predecessors": op["predecessors"],
            "material": op["material"],
            "certifications": op["certifications"],
        }
        for op in template["operations"]
    ]
    return {
        "reference": f"LOAD-{RUN_TAG}-{next(_counter)}",
        "title": template["title"],
        "product_family": template["product_family"],
        "material": template["material"],
        "quantity": template["quantity"],
        "release_at": now.isoformat(),
        "due_at": (now + timedelta(days=14)).isoformat(),
        "weight": template["weight"],
        "currency": template["currency"],
        "delivery_site_id": template["delivery_site_id"],
        "operations": ops,
    }


class BuyerUser(FastHttpUser):
    """A buyer's employee working in the platform at a steady pace."""

    wait_time = (
        jittered_pacing(USER_RATE) if PACING == "jittered" else constant_throughput(USER_RATE)
    )

    def on_start(self) -> None:
        self.buyer = BUYERS[next(_next_buyer)]
        with self.buyer.lock:
            if self.buyer.authorization is None:
                res = self.client.post(
                    f"{API}/auth/token",
                    data={
                        "username": self.buyer.spec["email"],
                        "password": self.buyer.spec["password"],
                    },
                    name="sign in",
                )
                res.raise_for_status()
                self.buyer.authorization = f"Bearer {res.json()['access_token']}"
            self.client.auth_header = self.buyer.authorization
            if not self.buyer.loaded:
                self._learn()
                self.buyer.loaded = True
        if PACING == "jittered":
            # Begin at a random point of the first cycle: Locust starts a batch of users at once.
            # (Locust patches time.sleep to yield to the other users.)
            time.sleep(random.uniform(0, 1 / USER_RATE))
            self._cycle_started = time.perf_counter()

    def _learn(self) -> None:
        """The buyer's orders: templates for new ones, quotable ones, capabilities to search."""
        res = self.client.get(f"{API}/orders", params={"limit": 100}, name="orders (setup)")
        res.raise_for_status()
        items = res.json()["items"]
        b = self.buyer
        b.order_ids = [o["id"] for o in items]
        b.quotable = [o["id"] for o in items if o["status"] in ("draft", "quoted")]
        b.templates = [o for o in items if o["operations"]][:10]
        b.capabilities = sorted({op["capability_code"] for o in items for op in o["operations"]})

    # --- browse (70) ------------------------------------------------------------------------

    @task(20)
    @tag("browse")
    def list_orders(self) -> None:
        self.client.get(f"{API}/orders", params={"limit": 20}, name="/orders")

    @task(20)
    @tag("browse")
    def order_detail(self) -> None:
        if self.buyer.order_ids:
            oid = random.choice(self.buyer.order_ids)
            self.client.get(f"{API}/orders/{oid}", name="/orders/{id}")

    @task(8)
    @tag("browse")
    def order_quotes(self) -> None:
        if self.buyer.order_ids:
            oid = random.choice(self.buyer.order_ids)
            self.client.get(f"{API}/orders/{oid}/quotes", name="/orders/{id}/quotes")

    @task(7)
    @tag("browse")
    def order_bookings(self) -> None:
        if self.buyer.order_ids:
            oid = random.choice(self.buyer.order_ids)
            self.client.get(f"{API}/orders/{oid}/bookings", name="/orders/{id}/bookings")

    @task(10)
    @tag("browse")
    def capacity_search(self) -> None:
        if not self.buyer.capabilities:
            return
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start += timedelta(days=random.randint(0, 14))
        params = {
            "capability": random.choice(self.buyer.capabilities),
            "start": start.isoformat(),
            "end": (start + timedelta(days=3)).isoformat(),
            "limit": 20,
        }
        self.client.get(f"{API}/capacity/search", params=params, name="/capacity/search")

    @task(5)
    @tag("browse")
    def resources(self) -> None:
        self.client.get(f"{API}/resources", params={"limit": 20}, name="/resources")

    # --- quote (15), order (10), accept (5) ------------------------------------------------

    @task(15)
    @tag("quote")
    def quote(self) -> None:
        b = self.buyer
        if not b.quotable:
            return
        oid = random.choice(b.quotable[-20:])
        with self.client.post(
            f"{API}/orders/{oid}/quotes", name="/orders/{id}/quotes", catch_response=True
        ) as res:
            if res.status_code == 201:
                with b.lock:
                    b.open_quotes.extend((q["id"], q["order_id"]) for q in res.json())
                    del b.open_quotes[:-50]
                res.success()
            elif res.status_code == 429:
                res.success()  # the solver's line is full: asked to come back (Retry-After)
            elif res.status_code == 409:
                res.success()  # no capacity fits, or the order moved on: a business answer
                with b.lock:
                    if oid in b.quotable and "cannot become" in res.text:
                        b.quotable.remove(oid)
            else:
                res.failure(f"{res.status_code}: {res.text[:200]}")

    @task(10)
    @tag("order")
    def submit_order(self) -> None:
        b = self.buyer
        if not b.templates:
            return
        body = _order_body(random.choice(b.templates))
        with self.client.post(
            f"{API}/orders",
            json=body,
            headers={"Idempotency-Key": body["reference"]},
            name="/orders",
            catch_response=True,
        ) as res:
            if res.status_code == 201:
                with b.lock:
                    b.order_ids.append(res.json()["id"])
                    b.quotable.append(res.json()["id"])
                res.success()
            else:
                res.failure(f"{res.status_code}: {res.text[:200]}")

    @task(5)
    @tag("accept")
    def accept(self) -> None:
        b = self.buyer
        with b.lock:
            if not b.open_quotes:
                return
            qid, _ = b.open_quotes.pop(random.randrange(len(b.open_quotes)))
        with self.client.post(
            f"{API}/quotes/{qid}/accept",
            headers={"Idempotency-Key": f"accept-{RUN_TAG}-{qid}"},
            name="/quotes/{id}/accept",
            catch_response=True,
        ) as res:
            if res.status_code == 201:
                res.success()
                # the order is accepted: its users stop quoting it, its other quotes are void
                oid = res.json()["quote"]["order_id"]
                with b.lock:
                    if oid in b.quotable:
                        b.quotable.remove(oid)
                    b.open_quotes = [q for q in b.open_quotes if q[1] != oid]
            elif res.status_code == 409:
                res.success()  # 409: taken since the quote, superseded or expired
            else:
                res.failure(f"{res.status_code}: {res.text[:200]}")
