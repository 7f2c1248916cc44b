"""Crash safety: SIGKILL the real server at random points while clients work, restart, check.

Several client threads drive the marketplace over HTTP against a real uvicorn server on
127.0.0.1 (buyers submit orders, ask for quotes, accept them, confirm delivery and close; a
provider reports `started` and `completed` on its work orders), every create carrying an
Idempotency-Key. At a random moment the server process is killed with SIGKILL; a new one is
started on the same port and the same database; clients whose request was cut off retry it with
the same key, as real clients would. After every restart the harness checks, on a consistent
snapshot of the database:

- every order a client got 2xx for exists, with the reference, title, quantity and operations
  it sent; no create was done twice (no two orders share a reference); and, once the clients
  have stopped, no order exists that no client asked for (at most one per client in doubt);
- every acceptance answered 2xx left the order booked, every event answered 2xx is visible,
  every close answered 2xx left the order closed;
- `sharefab check` (sharefab.integrity): no overlap, all-or-nothing plans, the ledger balances,
  escrows settle once, the audit chain verifies.

Servers are forked from a pre-imported parent process (a "zygote", forked from the harness
before any client thread starts: importing sharefab takes seconds, once; each server it forks
runs exactly what `sharefab serve --no-upgrade` runs, `serve_command`: uvicorn on the app), so a
kill point costs a fork and an app start rather than the imports; `--cold` starts
`sharefab serve` afresh as its own program instead.

    .venv/bin/python bench/reliability/crash.py --backend sqlite --kills 200 --seed 1
    .venv/bin/python bench/reliability/crash.py --backend postgres --kills 200 --seed 1 \
        [--postgres URL]   # default: a throwaway server from scripts/pg-throwaway

Exit status 1 when any check failed (each failure is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[2]
SECRET = "crash-harness-signing-key-0123456789abcdef"
SERVER_ENV = {
    "SHAREFAB_SECRET_KEY": SECRET,
    "SHAREFAB_ACCESS_TOKEN_MINUTES": "1440",
    "SHAREFAB_RATE_LIMIT_PER_MINUTE": "1000000",
    "SHAREFAB_RATE_LIMIT_BURST": "1000000",
}

import httpx  # noqa: E402

BOOKED = {"scheduled", "in_production", "completed", "delivered", "closed", "disputed"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the database ---------------------------------------------------------------------------


@contextmanager
def database(backend: str, workdir: Path, postgres: str | None) -> Iterator[str]:
    """A fresh, migrated database URL on `backend` (a SQLite file, or a new PostgreSQL DB)."""
    from sqlalchemy import create_engine, text

    from sharefab.kit.db import build_engine, normalise_url
    from sharefab.platform_cli import migrate_and_load_taxonomy

    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'crash.db'}"
        engine = build_engine(url)
        migrate_and_load_taxonomy(engine)
        engine.dispose()
        yield url
        return
    state = None
    if postgres is None:
        state = workdir / "pg.state"
        postgres = subprocess.run(
            [str(ROOT / "scripts/pg-throwaway"), "start"],
            env={**os.environ, "SHAREFAB_PG_STATE": str(state)},
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    name = f"sharefab_crash_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    base = normalise_url(postgres)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    engine = build_engine(url)
    migrate_and_load_taxonomy(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if state is not None:
            subprocess.run(
                [str(ROOT / "scripts/pg-throwaway"), "stop"],
                env={**os.environ, "SHAREFAB_PG_STATE": str(state)},
                check=False,
            )


# --- servers --------------------------------------------------------------------------------


def zygote_loop(commands: TextIO, replies: TextIO) -> None:
    """A pre-imported parent: for each `spawn PORT URL LOG` line, fork a server, reply its pid.

    Each child runs `serve_command`, exactly what `sharefab serve --no-upgrade` runs.
    """
    import uvicorn  # noqa: F401  (imported here once, not in every server)

    import sharefab.app  # noqa: F401
    from sharefab.models import import_all_models
    from sharefab.platform_cli import serve_command

    import_all_models()

    def reap(_signum: int, _frame: Any) -> None:
        with suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass

    signal.signal(signal.SIGCHLD, reap)
    for line in commands:
        _, port, url, log = line.split()
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setsid()
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            try:
                serve_command(host="127.0.0.1", port=int(port), database=url, upgrade_first=False)
            finally:
                os._exit(0)
        replies.write(f"{pid}\n")
        replies.flush()


def fork_zygote() -> tuple[int, TextIO, TextIO]:
    """Fork the zygote from this process (before any client thread starts): pid, in, out."""
    to_child_r, to_child_w = os.pipe()
    to_parent_r, to_parent_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(to_child_w)
        os.close(to_parent_r)
        try:
            zygote_loop(os.fdopen(to_child_r), os.fdopen(to_parent_w, "w"))
        finally:
            os._exit(0)
    os.close(to_child_r)
    os.close(to_parent_w)
    return pid, os.fdopen(to_child_w, "w"), os.fdopen(to_parent_r)


class Servers:
    """Starts and kills the server processes of one run (all on one port, one at a time)."""

    def __init__(self, url: str, workdir: Path, cold: bool = False) -> None:
        self.url, self.cold = url, cold
        self.port = free_port()
        self.log = workdir / "server.log"
        self.pid: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.zygote: tuple[int, TextIO, TextIO] | None = None if cold else fork_zygote()
        self.generation = 0
        self.up = threading.Event()
        self.changed = threading.Condition()
        self.env = {**os.environ, **SERVER_ENV}

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> float:
        """Start a server and wait until it answers /healthz; returns the seconds it took."""
        t0 = time.monotonic()
        if self.cold:
            proc = subprocess.Popen(
                [
                    str(ROOT / ".venv/bin/sharefab"),
                    "serve",
                    "--no-upgrade",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--database",
                    self.url,
                ],
                stdout=self.log.open("a"),
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
            self.proc, self.pid = proc, proc.pid
        else:
            assert self.zygote is not None
            _, commands, replies = self.zygote
            commands.write(f"spawn {self.port} {self.url} {self.log}\n")
            commands.flush()
            self.pid = int(replies.readline())
        while time.monotonic() - t0 < timeout:
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError(f"the server did not come up in {timeout:.0f} s; see {self.log}")
        with self.changed:
            self.generation += 1
            self.up.set()
            self.changed.notify_all()
        return time.monotonic() - t0

    def kill(self) -> None:
        """SIGKILL the running server and wait until it is gone."""
        assert self.pid is not None
        self.up.clear()
        os.kill(self.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()
        else:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(self.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.01)
        self.pid = None

    def wait_up(self, after_generation: int, stop: threading.Event) -> int:
        """Block until a server newer than `after_generation` is up (or `stop`)."""
        with self.changed:
            while not stop.is_set() and (
                self.generation <= after_generation or not self.up.is_set()
            ):
                self.changed.wait(0.2)
            return self.generation

    def close(self) -> None:
        """Kill the server (if any) and the zygote."""
        if self.pid is not None:
            with suppress(ProcessLookupError):
                self.kill()
        if self.zygote is not None:
            pid, commands, replies = self.zygote
            commands.close()
            replies.close()
            os.waitpid(pid, 0)
            self.zygote = None
        with self.changed:
            self.changed.notify_all()


# --- tenants --------------------------------------------------------------------------------


def make_tenants(url: str, buyers: int) -> dict[str, tuple[int, dict[str, str]]]:
    """A provider and `buyers` buyer organisations, each with an admin and a bearer token."""
    from sharefab.audit import recorder
    from sharefab.identity.models import Membership, Organization, Role, User
    from sharefab.identity.security import issue_access_token
    from sharefab.kit.db import build_engine, unit_of_work
    from sharefab.models import import_all_models

    import_all_models()
    recorder.install()
    engine = build_engine(url)
    out: dict[str, tuple[int, dict[str, str]]] = {}
    names = ["provider"] + [f"buyer{i}" for i in range(buyers)]
    for name in names:
        with unit_of_work(engine) as s:
            org = Organization(
                name=f"Crash {name}", slug=f"crash-{name}", is_provider=True, is_buyer=True
            )
            s.add(org)
            s.flush()
            user = User(email=f"{name}@crash.example", full_name=name, password_hash="!")
            s.add(user)
            s.flush()
            s.add(Membership(user_id=user.id, organization_id=org.id, role=Role.admin))
            ids = (user.id, org.id)
        token = issue_access_token(*ids)
        out[name] = (ids[1], {"Authorization": f"Bearer {token}"})
    engine.dispose()
    return out


def publish_capacity(base: str, headers: dict[str, str], mills: int = 4, lines: int = 2) -> None:
    """The provider's site, mills and anodising lines, each open round the clock for 60 days."""
    with httpx.Client(base_url=base + "/api/v1", headers=headers, timeout=30) as c:
        publish_capacity_with(c, mills, lines)


def publish_capacity_with(c: httpx.Client, mills: int, lines: int) -> None:
    """`publish_capacity` through a client whose base URL ends in /api/v1."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    site = c.post("/sites", json={"name": "Plant", "latitude": 31.38, "longitude": 120.98})
    site.raise_for_status()
    kinds = [("milling.cnc.5axis", "machine")] * mills + [("coating.anodize", "line")] * lines
    for i, (code, kind) in enumerate(kinds):
        r = c.post(
            "/resources",
            json={
                "site_id": site.json()["id"],
                "name": f"{kind} {i}",
                "kind": kind,
                "hourly_rate_minor": 20000 + 1000 * i,
                "capabilities": [{"code": code, "materials": []}],
            },
        )
        r.raise_for_status()
        w = c.post(
            "/capacity-windows",
            json={
                "resource_id": r.json()["id"],
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(days=60)).isoformat(),
            },
        )
        w.raise_for_status()


def order_body(reference: str, rng: random.Random) -> dict[str, Any]:
    """A two-step order (mill, then anodise) of a few parts, due in 30 days."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return {
        "reference": reference,
        "title": f"Housing {reference}",
        "material": "AL6061",
        "quantity": rng.randint(1, 6),
        "release_at": now.isoformat(),
        "due_at": (now + timedelta(days=30)).isoformat(),
        "operations": [
            {"capability_code": "milling.cnc.5axis", "setup_minutes": 30, "unit_seconds": 600},
            {"capability_code": "coating.anodize", "setup_minutes": 15, "unit_seconds": 60},
        ],
    }


# --- clients --------------------------------------------------------------------------------


class Stopped(Exception):
    """The run is over."""


@dataclass
class Ledger:
    """What clients were told (2xx answers), the harness's record of promises made."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    orders: dict[int, tuple[int, str, str, int, int]] = field(default_factory=dict)
    accepted: set[int] = field(default_factory=set)
    events: dict[int, str] = field(default_factory=dict)
    closed: set[int] = field(default_factory=set)
    in_doubt: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    replayed: int = 0

    def snapshot(self) -> dict[str, Any]:
        """A copy of the promises, taken before the database snapshot is."""
        with self.lock:
            return {
                "orders": dict(self.orders),
                "accepted": set(self.accepted),
                "events": dict(self.events),
                "closed": set(self.closed),
            }


class Client:
    """One client thread's HTTP session: retries a cut-off request with the same key."""

    def __init__(
        self, servers: Servers, headers: dict[str, str], book: Ledger, stop: threading.Event
    ) -> None:
        self.servers, self.headers, self.book, self.stop = servers, headers, book, stop
        self.http = httpx.Client(headers=headers, timeout=60)
        self.doubt: str | None = None

    def call(self, method: str, path: str, body: Any = None, key: bool = False) -> httpx.Response:
        """Send until answered; after a cut-off, wait for the next server and resend."""
        headers = {"Idempotency-Key": uuid.uuid4().hex} if key else {}
        label = f"{method} {re.sub(r'/[0-9]+', '/{id}', path.split('?')[0])}"
        generation = self.servers.wait_up(0, self.stop)
        cut_off = False
        while True:
            if self.stop.is_set():
                raise Stopped
            try:
                r = self.http.request(
                    method, self.servers.base + "/api/v1" + path, json=body, headers=headers
                )
            except httpx.TransportError:
                if not cut_off:
                    with self.book.lock:
                        self.book.in_doubt[label] += 1
                cut_off = True
                self.doubt = label
                generation = self.servers.wait_up(generation, self.stop)
                continue
            if r.status_code == 409 and "still being processed" in r.text:
                time.sleep(0.1)
                continue
            if r.status_code >= 500:
                with self.book.lock:
                    self.book.server_errors.append(f"{method} {path}: {r.status_code} {r.text}")
                time.sleep(0.2)
                continue
            self.doubt = None
            with self.book.lock:
                self.book.answers[f"{label} {r.status_code}"] += 1
                if r.headers.get("Idempotent-Replayed") == "true":
                    self.book.replayed += 1
            return r


def buyer_loop(client: Client, org_id: int, name: str, seed: int) -> None:
    """Submit orders, quote, accept, confirm delivery and close, at random."""
    rng = random.Random(seed)
    book, n = client.book, 0
    mine: dict[int, str] = {}
    try:
        while not client.stop.is_set():
            drafts = [o for o, s in mine.items() if s in ("draft", "quoted")]
            done = [o for o, s in mine.items() if s in ("completed", "delivered")]
            if done and rng.random() < 0.5:
                order_id = rng.choice(done)
                if mine[order_id] == "completed":
                    r = client.call("POST", f"/orders/{order_id}/confirm-delivery", key=True)
                    if r.status_code == 200:
                        mine[order_id] = "delivered"
                r = client.call("POST", f"/orders/{order_id}/close", key=True)
                state = r.json().get("status") if r.status_code == 200 else None
                if state is None:  # a retry of a close that went through, or not yet delivered
                    state = client.call("GET", f"/orders/{order_id}").json()["status"]
                    if state != "closed":
                        mine[order_id] = state
                        continue
                mine[order_id] = "closed"
                with book.lock:
                    book.closed.add(order_id)
            elif len(drafts) < 3 or rng.random() < 0.3:
                n += 1
                body = order_body(f"{name}-{n}", rng)
                r = client.call("POST", "/orders", body, key=True)
                if r.status_code == 201:
                    o = r.json()
                    mine[o["id"]] = o["status"]
                    with book.lock:
                        book.orders[o["id"]] = (
                            org_id,
                            body["reference"],
                            body["title"],
                            body["quantity"],
                            len(body["operations"]),
                        )
            else:
                order_id = rng.choice(drafts)
                r = client.call("POST", f"/orders/{order_id}/quotes", key=True)
                if r.status_code != 201 or not r.json():
                    continue
                quote = rng.choice(r.json())
                r = client.call("POST", f"/quotes/{quote['id']}/accept", key=True)
                if r.status_code == 201:
                    mine[order_id] = "scheduled"
                    with book.lock:
                        book.accepted.add(order_id)
                else:
                    mine[order_id] = "quoted"
            for order_id, state in list(mine.items()):
                if state in ("scheduled", "in_production") and rng.random() < 0.2:
                    mine[order_id] = client.call("GET", f"/orders/{order_id}").json()["status"]
    except Stopped:
        return


def provider_loop(client: Client, seed: int) -> None:
    """Start and complete the provider's work orders, earliest first."""
    rng = random.Random(seed)
    book = client.book
    try:
        while not client.stop.is_set():
            running = client.call("GET", "/work-orders?status=in_progress&limit=20").json()
            waiting = client.call("GET", "/work-orders?status=committed&limit=20").json()
            items = running["items"] + waiting["items"]
            if not items:
                time.sleep(0.2)
                continue
            wo = rng.choice(items)
            kind = "completed" if wo["status"] == "in_progress" else "started"
            r = client.call("POST", f"/work-orders/{wo['id']}/events", {"type": kind}, key=True)
            if r.status_code == 201:
                with book.lock:
                    if book.events.get(wo["id"]) != "completed":
                        book.events[wo["id"]] = kind
    except Stopped:
        return


# --- checks ---------------------------------------------------------------------------------


@contextmanager
def snapshot_session(url: str) -> Iterator[Any]:
    """A read-only session on one consistent snapshot (repeatable read on PostgreSQL)."""
    from sharefab.kit.db import build_engine, session_factory

    engine = build_engine(url)
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    session = session_factory(engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
        engine.dispose()


def check_promises(url: str, promised: dict[str, Any], settled: bool = False) -> list[str]:
    """Whether the database keeps every 2xx answer given before the snapshot, and integrity.

    `settled`: the clients have stopped, so the orders stored can be counted against the
    answers (while they run, creates answered between the two snapshots would count too).
    """
    from sqlalchemy import func, select

    from sharefab.integrity import check_database
    from sharefab.market.models import Booking
    from sharefab.orders.models import Operation, Order

    problems: list[str] = []
    with snapshot_session(url) as s:
        problems += [str(v) for v in check_database(s)]
        rows = {
            o.id: o for o in s.scalars(select(Order).where(Order.id.in_(list(promised["orders"]))))
        }
        ops = dict(
            s.execute(
                select(Operation.order_id, func.count())
                .where(Operation.order_id.in_(list(promised["orders"])))
                .group_by(Operation.order_id)
            ).all()
        )
        for order_id, (org, ref, title, qty, n_ops) in promised["orders"].items():
            o = rows.get(order_id)
            if o is None:
                problems.append(f"order {order_id} ({ref}) was answered 201 but is gone")
                continue
            got = (o.organization_id, o.reference, o.title, o.quantity, ops.get(order_id, 0))
            if got != (org, ref, title, qty, n_ops):
                problems.append(
                    f"order {order_id} was sent as {(org, ref, title, qty)} "
                    f"with {n_ops} operations, is stored as {got}"
                )
            if order_id in promised["accepted"] and o.status.value not in BOOKED | {"cancelled"}:
                problems.append(f"order {order_id} was accepted (201) but is {o.status.value}")
            if order_id in promised["closed"] and o.status.value != "closed":
                problems.append(f"order {order_id} was closed (200) but is {o.status.value}")
        orgs = {org for org, *_ in promised["orders"].values()}
        per_org = Counter(org for org, *_ in promised["orders"].values())
        stored = dict(
            s.execute(
                select(Order.organization_id, func.count())
                .where(Order.organization_id.in_(list(orgs)))
                .group_by(Order.organization_id)
            ).all()
        )
        for org in orgs if settled else ():
            # each buyer thread has at most one create in doubt (sent, never answered)
            if stored.get(org, 0) > per_org[org] + 1:
                problems.append(
                    f"organisation {org} holds {stored[org]} orders; clients were answered for "
                    f"{per_org[org]} (a duplicate create)"
                )
        # every create carries its own reference: two orders with one reference are one create
        # done twice, even where the count above still allows an answer in flight
        twice = s.execute(
            select(Order.organization_id, Order.reference, func.count())
            .where(Order.organization_id.in_(list(orgs)))
            .group_by(Order.organization_id, Order.reference)
            .having(func.count() > 1)
        ).all()
        for org, ref, n in twice:
            problems.append(f"organisation {org} holds {n} orders with reference {ref!r}")
        statuses = dict(
            s.execute(
                select(Booking.id, Booking.status).where(Booking.id.in_(list(promised["events"])))
            ).all()
        )
        for booking_id, kind in promised["events"].items():
            st = statuses.get(booking_id)
            ok = {"started": {"in_progress", "done"}, "completed": {"done"}}[kind]
            if st is None or st.value not in ok:
                problems.append(f"work order {booking_id} got '{kind}' (201) but is {st}")
    return problems


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
    orders: int = 0
    accepted: int = 0
    events: int = 0
    closed: int = 0
    in_doubt: dict[str, int] = field(default_factory=dict)
    replayed: int = 0
    server_errors: list[str] = field(default_factory=list)
    restart_seconds: list[float] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether every check held and no request got a 5xx."""
        return not self.failures and not self.server_errors


def run(
    backend: str,
    kills: int,
    seed: int,
    buyers: int = 3,
    min_delay: float = 0.2,
    max_delay: float = 2.5,
    postgres: str | None = None,
    cold: bool = False,
    workdir: Path | None = None,
    progress: bool = False,
) -> RunResult:
    """Kill the server `kills` times at random moments under load; check after each restart."""
    rng = random.Random(seed)
    result = RunResult(backend, kills, seed)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sharefab-crash-") as tmp:
        wd = workdir or Path(tmp)
        with database(backend, wd, postgres) as url:
            tenants = make_tenants(url, buyers)
            servers = Servers(url, wd, cold=cold)
            stop = threading.Event()
            book = Ledger()
            threads: list[threading.Thread] = []
            try:
                result.restart_seconds.append(servers.start())
                publish_capacity(servers.base, tenants["provider"][1])
                provider = Client(servers, tenants["provider"][1], book, stop)
                threads.append(
                    threading.Thread(target=provider_loop, args=(provider, seed), daemon=True)
                )
                for i in range(buyers):
                    org, headers = tenants[f"buyer{i}"]
                    c = Client(servers, headers, book, stop)
                    threads.append(
                        threading.Thread(
                            target=buyer_loop,
                            args=(c, org, f"b{i}", seed * 100 + i + 1),
                            daemon=True,
                        )
                    )
                for t in threads:
                    t.start()
                for k in range(kills):
                    time.sleep(rng.uniform(min_delay, max_delay))
                    servers.kill()
                    result.kill_points += 1
                    result.restart_seconds.append(servers.start())
                    promised = book.snapshot()
                    found = check_promises(url, promised)
                    result.checks += 1
                    result.failures += [f"after kill {k + 1}: {p}" for p in found]
                    if progress:
                        print(
                            f"kill {k + 1}/{kills}: {len(promised['orders'])} orders, "
                            f"{len(found)} problems",
                            file=sys.stderr,
                            flush=True,
                        )
                stop.set()
                for t in threads:
                    t.join(timeout=90)
                promised = book.snapshot()
                found = check_promises(url, promised, settled=True)
                result.failures += [f"at the end: {p}" for p in found]
                result.checks += 1
            finally:
                stop.set()
                servers.close()
            result.orders = len(book.orders)
            result.accepted = len(book.accepted)
            result.events = len(book.events)
            result.closed = len(book.closed)
            result.in_doubt = dict(book.in_doubt)
            result.replayed = book.replayed
            result.server_errors = book.server_errors
            result.answers = dict(book.answers)
    result.seconds = time.monotonic() - t0
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse flags, run each backend, print a summary (JSON with --json)."""
    if argv is None:
        argv = sys.argv[1:]
    os.environ.update(SERVER_ENV)  # before sharefab reads its settings
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--kills", type=int, default=10, help="kill points per backend")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--buyers", type=int, default=3, help="buyer client threads (plus 1 provider)")
    p.add_argument("--min-delay", type=float, default=0.2, help="seconds before a kill, at least")
    p.add_argument("--max-delay", type=float, default=2.5, help="seconds before a kill, at most")
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
            buyers=args.buyers,
            min_delay=args.min_delay,
            max_delay=args.max_delay,
            postgres=args.postgres,
            cold=args.cold,
            progress=not args.json,
        )
        results.append(r)
        if not args.json:
            restarts = sorted(r.restart_seconds[1:]) or [0.0]
            print(
                f"{backend}: {r.kill_points} kill points survived, {r.checks} checks, "
                f"{len(r.failures)} failures, {len(r.server_errors)} 5xx; "
                f"{r.orders} orders answered 201, {r.accepted} accepted, {r.events} work-order "
                f"events, {r.closed} closed; requests cut off by a kill: "
                f"{sum(r.in_doubt.values())} {dict(r.in_doubt)}; replayed answers {r.replayed}; "
                f"restart median {restarts[len(restarts) // 2]:.2f} s; {r.seconds:.0f} s"
            )
            for f in r.failures[:50] + r.server_errors[:20]:
                print("  FAIL", f)
    if args.json:
        print(json.dumps([r.__dict__ | {"ok": r.ok} for r in results], indent=1, default=str))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
