"""Kill safety of jobs: SIGKILL the server while it runs a re-optimisation job, restart, check.

A provider publishes mills and anodising lines (round the clock, at different hourly rates); a
buyer books orders through quotes. Then, at each kill point: the buyer books one more order and
cancels an older one (freed, cheaper capacity gives the re-optimisation something to move); the
plan (every booking, every promised date) is read; the operator starts a re-optimisation job
(`POST /api/v1/plans/reoptimise`, 202); after a random delay (0 to 1.3 times a job's length,
measured on an undisturbed first job: before the job is claimed, during the solve, inside its
final transaction, after its commit) the server is killed with SIGKILL; a new one starts on
the same port and database, and the harness checks:

- the job ends `failed` with the reason ("the process running it stopped"; it is declared so
  once its heartbeat is older than `job_stale_seconds`, here 3 s, when jobs are listed), or
  `succeeded` (its final transaction committed before the kill) with its result stored;
- the plan is exactly as before the job unless the job shows `succeeded`;
- `sharefab check` holds (no overlap, whole plans, ledger, escrows, audit chain);
- a new job starts (the next kill point's, 202; a 409 there is a failure). At the end one job
  runs to completion undisturbed and must succeed.

Servers are forked from a pre-imported parent (see crash.py), with the job settings below.

    .venv/bin/python bench/reliability/crash_jobs.py --backend sqlite --kills 50 --seed 1
    .venv/bin/python bench/reliability/crash_jobs.py --backend postgres --kills 50 --seed 1 \
        [--postgres URL]   # default: a throwaway server from scripts/pg-throwaway

Exit status 1 when any check failed (each failure is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[2]
if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from bench.reliability import crash  # noqa: E402

JOB_ENV = {
    "SHAREFAB_JOB_HEARTBEAT_SECONDS": "0.5",
    "SHAREFAB_JOB_STALE_SECONDS": "3",
}
FINAL = {"succeeded", "failed", "cancelled"}


def fork_zygote(env: dict[str, str]) -> tuple[int, TextIO, TextIO]:
    """crash.py's pre-imported server parent, with `env` in its environment and settings."""
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(to_child_w)
        os.close(to_parent_r)
        try:
            os.environ.update(env)
            from sharefab.kit.settings import get_settings

            get_settings.cache_clear()  # the parent may have read them already
            crash.zygote_loop(os.fdopen(to_child_r), os.fdopen(to_parent_w, "w"))
        finally:
            os._exit(0)
    os.close(to_child_r)
    os.close(to_parent_w)
    return pid, os.fdopen(to_child_w, "w"), os.fdopen(to_parent_r)


class JobServers(crash.Servers):
    """crash.Servers whose servers run with the job settings of this harness."""

    def __init__(self, url: str, workdir: Path, cold: bool = False) -> None:
        super().__init__(url, workdir, cold=True)  # no zygote of crash.py's
        self.env.update(JOB_ENV)
        self.cold = cold
        self.zygote = None if cold else fork_zygote(JOB_ENV)


# --- tenants and the plan -------------------------------------------------------------------


def make_tenants(url: str) -> dict[str, dict[str, str]]:
    """The operator, a provider and a buyer, each with an admin and a bearer token."""
    from sharefab.audit import recorder
    from sharefab.identity.models import Membership, Organization, Role, User
    from sharefab.identity.security import issue_access_token
    from sharefab.kit.db import build_engine, unit_of_work
    from sharefab.models import import_all_models

    import_all_models()
    recorder.install()
    engine = build_engine(url)
    out: dict[str, dict[str, str]] = {}
    kinds = {
        "operator": {"is_operator": True},
        "provider": {"is_provider": True},
        "buyer": {"is_buyer": True},
    }
    for name, flags in kinds.items():
        with unit_of_work(engine) as s:
            org = Organization(name=f"Jobs {name}", slug=f"jobs-{name}", **flags)
            s.add(org)
            s.flush()
            user = User(email=f"{name}@jobs.example", full_name=name, password_hash="!")
            s.add(user)
            s.flush()
            role = Role.operator if name == "operator" else Role.admin
            s.add(Membership(user_id=user.id, organization_id=org.id, role=role))
            ids = (user.id, org.id)
        out[name] = {"Authorization": f"Bearer {issue_access_token(*ids)}"}
    engine.dispose()
    return out


class Api:
    """One tenant's HTTP client against whichever server is up (retries while one restarts)."""

    def __init__(self, servers: crash.Servers, headers: dict[str, str]) -> None:
        self.servers = servers
        self.http = httpx.Client(headers=headers, timeout=120)

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Send until a server answers (a 5xx is an answer, reported by the caller)."""
        for _ in range(600):
            try:
                return self.http.request(method, self.servers.base + "/api/v1" + path, **kw)
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"{method} {path}: no server answered for a minute")


def book_order(buyer: Api, reference: str, rng: random.Random) -> int | None:
    """Order, quote and accept one of the options; the order id, or None if it found no plan."""
    r = buyer.call("POST", "/orders", json=crash.order_body(reference, rng))
    if r.status_code != 201:
        return None
    order_id = int(r.json()["id"])
    quotes = buyer.call("POST", f"/orders/{order_id}/quotes")
    if quotes.status_code != 201 or not quotes.json():
        return None
    quote = rng.choice(quotes.json())
    accepted = buyer.call("POST", f"/quotes/{quote['id']}/accept")
    return order_id if accepted.status_code == 201 else None


def plan_of(url: str) -> dict[str, Any]:
    """Every booking (where, when, state) and every order's promised date, on one snapshot."""
    from sqlalchemy import select

    from sharefab.market.models import Booking
    from sharefab.orders.models import Order

    with crash.snapshot_session(url) as s:
        bookings = [
            (b.id, b.order_id, b.operation_id, b.resource_id, b.starts_at, b.ends_at, b.status)
            for b in s.scalars(select(Booking).order_by(Booking.id))
        ]
        promised = [(o.id, o.promised_at) for o in s.scalars(select(Order).order_by(Order.id))]
    return {"bookings": bookings, "promised": promised}


def job_row(url: str, job_id: int) -> dict[str, Any]:
    """The job as the database holds it (no reaping: what the kill left)."""
    from sharefab.jobs.models import Job

    with crash.snapshot_session(url) as s:
        job = s.get(Job, job_id)
        assert job is not None
        return {"state": job.state.value, "result": job.result}


def integrity(url: str) -> list[str]:
    """`sharefab check`'s violations."""
    from sharefab.integrity import check_database

    with crash.snapshot_session(url) as s:
        return [str(v) for v in check_database(s)]


# --- the run --------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What one run did and found."""

    backend: str
    kills: int
    seed: int
    kill_points: int = 0
    checks: int = 0
    failures: list[str] = field(default_factory=list)
    at_kill: dict[str, int] = field(default_factory=dict)  # the job's state when killed
    after: dict[str, int] = field(default_factory=dict)  # its state after the restart
    moved_by_succeeded: int = 0
    bookings: int = 0
    restart_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether every check held."""
        return not self.failures


def settle(operator: Api, job_id: int, timeout: float = 90.0) -> dict[str, Any]:
    """Follow the job over the API (which fails a dead job) until it is queued or running no
    more; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        r = operator.call("GET", f"/jobs/{job_id}")
        if r.status_code == 200 and r.json()["state"] in FINAL:
            return dict(r.json())
        if time.monotonic() > deadline:
            return {"state": "stuck", "answer": r.text[:300]}
        time.sleep(0.2)


def _seconds(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def run(
    backend: str,
    kills: int,
    seed: int,
    orders: int = 12,
    time_limit: float = 2.0,
    spread: float = 1.3,
    postgres: str | None = None,
    cold: bool = False,
    progress: bool = False,
) -> RunResult:
    """Kill the server `kills` times while it runs a re-optimisation job; check each time."""
    rng = random.Random(seed)
    result = RunResult(backend, kills, seed)
    at_kill: Counter[str] = Counter()
    after: Counter[str] = Counter()
    t0 = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="sharefab-crash-jobs-") as tmp,
        crash.database(backend, Path(tmp), postgres) as url,
    ):
        tenants = make_tenants(url)
        servers = JobServers(url, Path(tmp), cold=cold)
        try:
            result.restart_seconds.append(servers.start())
            buyer = Api(servers, tenants["buyer"])
            operator = Api(servers, tenants["operator"])
            crash.publish_capacity(servers.base, tenants["provider"], mills=4, lines=2)
            booked = [o for i in range(orders) if (o := book_order(buyer, f"o{i}", rng))]
            # One undisturbed job first: how long a job takes here, so kills land within one.
            started = time.monotonic()
            first = operator.call("POST", "/plans/reoptimise", params={"time_limit": time_limit})
            settle(operator, int(first.json()["id"]))
            length = time.monotonic() - started
            for k in range(kills + 1):
                last = k == kills  # the last job runs undisturbed
                if booked and rng.random() < 0.7:
                    victim = booked.pop(rng.randrange(len(booked)))
                    buyer.call("POST", f"/orders/{victim}/cancel")
                if (new := book_order(buyer, f"k{k}", rng)) is not None:
                    booked.append(new)
                before = plan_of(url)
                r = operator.call("POST", "/plans/reoptimise", params={"time_limit": time_limit})
                result.checks += 1
                if r.status_code != 202:
                    result.failures.append(f"round {k}: a new job did not start: {r.text[:300]}")
                    break
                job_id = int(r.json()["id"])
                if not last:
                    time.sleep(rng.uniform(0.0, spread * length))
                    servers.kill()
                    result.kill_points += 1
                    at_kill[job_row(url, job_id)["state"]] += 1
                    result.restart_seconds.append(servers.start())
                job = settle(operator, job_id)
                after[job["state"]] += 1
                now = plan_of(url)
                problems = [f"integrity: {v}" for v in integrity(url)]
                if job["state"] == "succeeded":
                    took = _seconds(job["finished_at"]) - _seconds(job["created_at"])
                    length = 0.7 * length + 0.3 * took
                    if job.get("result") is None:
                        problems.append(f"job {job_id} succeeded without its result")
                    else:
                        result.moved_by_succeeded += len(job["result"].get("moved", []))
                elif last:
                    problems.append(f"the undisturbed job {job_id} ended {job['state']}: {job}")
                elif job["state"] != "failed":
                    problems.append(f"killed job {job_id} ended {job['state']}: {job}")
                elif "the process running it stopped" not in (job.get("error") or ""):
                    problems.append(f"job {job_id} failed without the reason: {job}")
                if job["state"] != "succeeded" and now != before:
                    changed = len(set(now["bookings"]) ^ set(before["bookings"]))
                    problems.append(
                        f"job {job_id} ended {job['state']} but {changed} booking rows differ "
                        "from the plan before it"
                    )
                result.failures += [f"round {k}: {p}" for p in problems]
                if progress:
                    print(
                        f"round {k + 1}/{kills + 1}: job {job_id} "
                        f"{'killed, ' if not last else ''}ended {job['state']}, "
                        f"{len(problems)} problems",
                        file=sys.stderr,
                        flush=True,
                    )
            result.bookings = len(plan_of(url)["bookings"])
        finally:
            servers.close()
    result.at_kill = dict(at_kill)
    result.after = dict(after)
    result.seconds = time.monotonic() - t0
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse flags, run each backend, print a summary (JSON with --json)."""
    if argv is None:
        argv = sys.argv[1:]
    os.environ.update(crash.SERVER_ENV)  # before sharefab reads its settings
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--kills", type=int, default=10, help="kill points per backend")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--orders", type=int, default=12, help="orders booked before the first job")
    p.add_argument("--time-limit", type=float, default=2.0, help="each job's solver seconds")
    p.add_argument(
        "--spread",
        type=float,
        default=1.3,
        help="a kill comes after 0 to spread x a job's length (measured on the first job)",
    )
    p.add_argument("--postgres", help="PostgreSQL server URL (default: a throwaway server)")
    p.add_argument("--cold", action="store_true", help="start `sharefab serve` afresh each time")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        r = run(
            backend,
            args.kills,
            args.seed,
            orders=args.orders,
            time_limit=args.time_limit,
            spread=args.spread,
            postgres=args.postgres,
            cold=args.cold,
            progress=not args.json,
        )
        results.append(r)
        if not args.json:
            restarts = sorted(r.restart_seconds[1:]) or [0.0]
            print(
                f"{backend}: {r.kill_points} kill points, {r.checks} checks, "
                f"{len(r.failures)} failures; job state when killed {r.at_kill}, "
                f"after the restart {r.after}; {r.moved_by_succeeded} bookings moved by jobs "
                f"that succeeded; {r.bookings} booking rows; restart median "
                f"{restarts[len(restarts) // 2]:.2f} s; {r.seconds:.0f} s"
            )
            for f in r.failures[:50]:
                print("  FAIL", f)
    if args.json:
        print(json.dumps([r.__dict__ | {"ok": r.ok} for r in results], indent=1, default=str))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
