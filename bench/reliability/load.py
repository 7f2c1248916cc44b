"""Step the offered load on a sharefab server on PostgreSQL with Locust, then check integrity.

    flock /tmp/sharefab-bench.lock .venv/bin/python bench/reliability/load.py \
        --postgres postgresql+psycopg://postgres@127.0.0.1:PORT --rates 10,25,50,75,100 \
        --step-seconds 45 --out /tmp/load-run

What it does:
1. a database `sharefab_load_tpl` on that server, seeded once by `sharefab demo`
   (SHAREFAB_DEMO_NO_SERVE=1) plus one login per buyer organisation, is copied to a fresh
   database for the run (every run starts from the same state);
2. `sharefab serve` (`--server-workers` processes, default 1) is started on 127.0.0.1 with
   the client rate limit lifted (the run measures the server, not the limiter);
3. per step, Locust runs headless as its own process with users x rate = the offered
   requests/s (`jittered_pacing` in the locustfile; `--pacing constant` for Locust's
   `constant_throughput`), stats reset once all users are spawned; the server's own read
   latency histogram (`/metrics`) is read after the ramp and at the end of the step;
4. the server is stopped and `sharefab check` runs the integrity checks (no overlap, whole
   plans, ledger balanced, escrow once, audit chain);
5. a Markdown report (per step: throughput, p50/p95/p99 per endpoint as Locust saw them and
   reads as the server timed them, failures, 5xx; where it stops scaling; the check's output)
   goes to OUT/report.md and stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import select

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = Path(sys.executable).parent
TEMPLATE_DB = "sharefab_load_tpl"
USER_RATE = 0.25  # requests/s per simulated user
RAMP_SECONDS = 5
TARGETS = {"read_p95": 200.0, "read_p99": 500.0, "accept_p99": 1000.0}
SERVER_ENV = {
    "SHAREFAB_RATE_LIMIT_PER_MINUTE": "100000000",
    "SHAREFAB_RATE_LIMIT_BURST": "100000000",
}


def _dsn(sqlalchemy_url: str, database: str) -> str:
    base = sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    return f"{base}/{database}"


def _sa_url(sqlalchemy_url: str, database: str) -> str:
    return _dsn(sqlalchemy_url, database).replace("postgresql://", "postgresql+psycopg://")


def _admin(url: str, sql: str) -> None:
    with psycopg.connect(_dsn(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql)


def _exists(url: str, database: str) -> bool:
    with psycopg.connect(_dsn(url, "postgres"), autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
    return row is not None


def add_buyer_logins(url: str, count: int) -> list[dict[str, str]]:
    """One admin login per buyer organisation that has orders (made once, reused)."""
    from sharefab.identity.models import Membership, Organization, Role, User
    from sharefab.identity.security import hash_password
    from sharefab.kit.db import build_engine, unit_of_work
    from sharefab.orders.models import Order
    from sharefab.seed import DEMO_PASSWORD

    engine = build_engine(url)
    logins = []
    with unit_of_work(engine) as s:
        orgs = s.scalars(
            select(Organization)
            .where(Organization.is_buyer, Organization.id.in_(select(Order.organization_id)))
            .order_by(Organization.id)
            .limit(count)
        ).all()
        hashed = hash_password(DEMO_PASSWORD)
        for k, org in enumerate(orgs):
            email = f"load-buyer-{k + 1}@sharefab.demo"
            if s.scalar(select(User.id).where(User.email == email)) is None:
                user = User(email=email, full_name=f"Load Buyer {k + 1}", password_hash=hashed)
                s.add(user)
                s.flush()
                s.add(Membership(user_id=user.id, organization_id=org.id, role=Role.admin))
            logins.append({"email": email, "password": DEMO_PASSWORD})
    engine.dispose()
    return logins


def prepare(url: str, buyers: int) -> tuple[str, list[dict[str, str]]]:
    """A fresh copy of the seeded template database; its URL and the buyers' logins."""
    if not _exists(url, TEMPLATE_DB):
        _admin(url, f"CREATE DATABASE {TEMPLATE_DB}")
        env = {**os.environ, "SHAREFAB_DEMO_NO_SERVE": "1"}
        subprocess.run(
            [str(BIN / "sharefab"), "demo", "--database", _sa_url(url, TEMPLATE_DB)],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    logins = add_buyer_logins(_sa_url(url, TEMPLATE_DB), buyers)
    run_db = f"sharefab_load_{int(time.time())}"
    _admin(url, f"CREATE DATABASE {run_db} TEMPLATE {TEMPLATE_DB}")
    return _sa_url(url, run_db), logins


def start_server(url: str, port: int, log: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    """`sharefab serve` on 127.0.0.1:port (in `workers` processes); returns once /healthz
    answers."""
    proc = subprocess.Popen(
        [
            str(BIN / "sharefab"),
            "serve",
            "--database",
            url,
            "--port",
            str(port),
            "--no-upgrade",
            "--workers",
            str(workers),
        ],
        env={**os.environ, **SERVER_ENV},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the server exited; see {log}")
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit(f"the server did not answer /healthz in 60 s; see {log}")


@dataclass
class Step:
    """One load step's figures."""

    offered: float
    users: int
    seconds: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: dict[str, Any] = field(default_factory=dict)
    status: dict[str, dict[str, int]] = field(default_factory=dict)
    groups: dict[str, dict[str, float]] = field(default_factory=dict)
    load_avg: float = 0.0
    server_read: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Answers counted after the ramp per measured second. (Locust's own Requests/s
        divides by the time until the last answer, which includes the users' stop: the
        quotes still waiting in the solver's line when the step ends stretch it by seconds.)"""
        return float(self.total.get("Request Count", 0.0)) / self.seconds if self.seconds else 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for codes in self.status.values() for c, n in codes.items() if c >= "500")

    @property
    def failures(self) -> int:
        return int(self.total.get("Failure Count", 0))


def read_histogram(host: str) -> dict[float, float]:
    """The server's own latency histogram of answered reads (GET /api/v1/..., 2xx), summed
    over routes: upper bound in seconds -> requests answered within it (from /metrics)."""
    text = httpx.get(f"{host}/metrics", timeout=10).text
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if not line.startswith("sharefab_http_request_duration_seconds_bucket{"):
            continue
        labels, _, value = line.rpartition(" ")
        if 'method="GET"' not in labels or 'status="2xx"' not in labels:
            continue
        if 'route="/api/v1/' not in labels:
            continue
        le = labels.split('le="', 1)[1].split('"', 1)[0]
        bound = float("inf") if le == "+Inf" else float(le)
        buckets[bound] = buckets.get(bound, 0.0) + float(value)
    return buckets


def bucket_percentiles(before: dict[float, float], after: dict[float, float]) -> dict[str, float]:
    """p50/p95/p99 of the reads answered between two histogram reads, each as the upper bound
    (ms) of the bucket it falls in; empty when no read was answered."""
    counts = {b: after[b] - before.get(b, 0.0) for b in sorted(after)}
    total = counts.get(float("inf"), 0.0)
    if total <= 0:
        return {}
    return {
        name: next(1000 * b for b, n in counts.items() if n >= q * total)
        for name, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
    }


def run_step(
    host: str,
    rate: float,
    seconds: int,
    buyers_file: Path,
    out: Path,
    tags: list[str],
    profile_pid: int | None = None,
    pacing: str = "jittered",
) -> Step:
    """Locust headless, as its own process, offering `rate` requests/s for `seconds`."""
    users = max(1, math.ceil(rate / USER_RATE))
    prefix = out / f"step-{rate:g}"
    status_file = out / f"step-{rate:g}-status.json"
    cmd = [
        str(BIN / "locust"),
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "--host",
        host,
        "-u",
        str(users),
        "-r",
        str(max(1, math.ceil(users / RAMP_SECONDS))),
        "-t",
        f"{seconds}s",
        "--reset-stats",
        "--only-summary",
        "--stop-timeout",
        "15",
        "--csv",
        str(prefix),
        "--loglevel",
        "WARNING",
        *tags,
    ]
    env = {
        **os.environ,
        "SHAREFAB_LOAD_BUYERS": str(buyers_file),
        "SHAREFAB_LOAD_USER_RATE": str(USER_RATE),
        "SHAREFAB_LOAD_STATUS_FILE": str(status_file),
        "SHAREFAB_LOAD_PACING": pacing,
    }
    log = out / f"step-{rate:g}-locust.log"
    with log.open("wb") as fh:
        locust = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        time.sleep(RAMP_SECONDS)  # Locust resets its statistics once the users are started
        histogram = read_histogram(host)
        if profile_pid is not None:
            profile(profile_pid, seconds - RAMP_SECONDS - 1, out / f"step-{rate:g}-profile.txt")
        locust.wait()
    server_read = bucket_percentiles(histogram, read_histogram(host))
    load_avg = os.getloadavg()[0]  # the machine is shared: how busy it was over the last minute
    step = Step(
        offered=rate,
        users=users,
        seconds=seconds - RAMP_SECONDS,
        load_avg=load_avg,
        server_read=server_read,
    )
    with open(f"{prefix}_stats.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            parsed = {k: _num(v) for k, v in row.items()}
            if row["Name"] == "Aggregated":
                step.total = parsed
            elif not row["Name"].endswith("(setup)") and row["Name"] != "sign in":
                step.rows.append(parsed)
    if status_file.exists():
        data = json.loads(status_file.read_text())
        step.status = data.get("status", {})
        step.groups = data.get("groups", {})
    return step


def profile(pid: int, seconds: int, path: Path) -> None:
    """Sample the server with py-spy for `seconds`; write the functions most often on the
    stack (cumulative share of samples, all threads, idle ones left out) to `path`."""
    raw = path.with_suffix(".raw")
    subprocess.run(
        [str(BIN / "py-spy"), "record", "--pid", str(pid), "--duration", str(seconds),
         "--rate", "50", "--format", "raw", "--output", str(raw), "--nonblocking",
         "--subprocesses"],
        check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    if not raw.exists():
        path.write_text("py-spy found no samples\n")
        return
    total = 0
    cumulative: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        for frame in set(stack.split(";")):
            cumulative[frame] = cumulative.get(frame, 0) + n
    lines = [f"{n / total:6.1%}  {frame}" for frame, n in cumulative.items()]
    lines.sort(key=lambda x: -float(x.split("%")[0]))
    path.write_text(f"{total} samples (non-idle, all threads)\n" + "\n".join(lines[:80]) + "\n")


def _num(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value


def verdict(step: Step) -> list[str]:
    """Which targets a step misses (empty: all met)."""
    missed = []
    read = step.groups.get("read", {})
    accept = step.groups.get("accept", {})
    if read.get("p95", 0) > TARGETS["read_p95"]:
        missed.append(f"read p95 {read['p95']:.0f} ms > {TARGETS['read_p95']:.0f}")
    if read.get("p99", 0) > TARGETS["read_p99"]:
        missed.append(f"read p99 {read['p99']:.0f} ms > {TARGETS['read_p99']:.0f}")
    if accept.get("p99", 0) > TARGETS["accept_p99"]:
        missed.append(f"accept p99 {accept['p99']:.0f} ms > {TARGETS['accept_p99']:.0f}")
    if step.server_errors:
        missed.append(f"{step.server_errors} server errors")
    if step.throughput < 0.9 * step.offered:
        missed.append(f"throughput {step.throughput:.1f}/s < 90 % of offered")
    return missed


def server_read(step: Step) -> str:
    """The server's own read percentiles, as `<= bound` of their histogram buckets."""
    d = step.server_read
    if not d:
        return "-"
    return " / ".join(f"<={d[k]:g}" for k in ("p50", "p95", "p99"))


def report(steps: list[Step], check: str, meta: dict[str, str]) -> str:
    """The Markdown tables of a run."""
    out = [f"{k}: {v}  " for k, v in meta.items()]
    out.append("")
    out.append(
        "| offered req/s | users | achieved req/s | requests | failures | 5xx "
        "| read p50/p95/p99 ms | server's read p50/p95/p99 ms (bucket bound) "
        "| quote p50/p95/p99 ms | order p50/p95/p99 ms "
        "| accept p50/p95/p99 ms | quotes 201/409/429 | machine load (1 min) | targets |"
    )
    out.append("|---:|---:|---:|---:|---:|---:|---|---|---|---|---|---|---:|---|")
    for s in steps:

        def g(name: str, s: Step = s) -> str:
            d = s.groups.get(name)
            return f"{d['p50']:.0f} / {d['p95']:.0f} / {d['p99']:.0f}" if d else "-"

        missed = verdict(s)
        q = s.status.get("POST /orders/{id}/quotes", {})
        out.append(
            f"| {s.offered:g} | {s.users} | {s.throughput:.1f} "
            f"| {int(s.total.get('Request Count', 0))} "
            f"| {s.failures} | {s.server_errors} | {g('read')} | {server_read(s)} "
            f"| {g('quote')} | {g('order')} "
            f"| {g('accept')} | {q.get('201', 0)}/{q.get('409', 0)}/{q.get('429', 0)} "
            f"| {s.load_avg:.1f} | {'met' if not missed else '; '.join(missed)} |"
        )
    first_bad = next((s for s in steps if verdict(s)), None)
    out.append("")
    out.append(
        "Stops scaling at: "
        + (
            f"{first_bad.offered:g} req/s offered ({'; '.join(verdict(first_bad))})"
            if first_bad
            else "not within the steps run (every target met)"
        )
    )
    for s in steps:
        out.append("")
        out.append(f"Step {s.offered:g} req/s offered, {s.users} users, {s.seconds:g} s measured:")
        out.append("")
        out.append("| endpoint | requests | req/s | failures | p50 | p95 | p99 | max | answers |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in s.rows:
            codes = s.status.get(f"{r['Type']} {r['Name']}", {})
            answers = ", ".join(f"{c}: {n}" for c, n in sorted(codes.items()))
            out.append(
                f"| {r['Type']} {r['Name']} | {int(r['Request Count'])} "
                f"| {r['Requests/s']:.2f} | {int(r['Failure Count'])} | {r['50%']:.0f} "
                f"| {r['95%']:.0f} | {r['99%']:.0f} | {r['Max Response Time']:.0f} | {answers} |"
            )
    out.append("")
    out.append("Integrity checks after the run (`sharefab check`):")
    out.append("")
    out.append("```")
    out.append(check.strip())
    out.append("```")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", required=True, help="URL of a PostgreSQL server (any db)")
    parser.add_argument("--rates", default="10,25,50,75,100", help="offered requests/s per step")
    parser.add_argument("--step-seconds", type=int, default=45, help="seconds per step (<= 60)")
    parser.add_argument("--buyers", type=int, default=12, help="buyer organisations signed in")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", type=Path, default=Path("/tmp/sharefab-load"))
    parser.add_argument("--tags", default="", help="only these Locust task tags (comma list)")
    parser.add_argument("--exclude-tags", default="", help="leave these task tags out")
    parser.add_argument("--profile", action="store_true", help="py-spy the server per step")
    parser.add_argument(
        "--server-workers", type=int, default=1, help="processes the server answers in"
    )
    parser.add_argument(
        "--pacing",
        choices=("jittered", "constant"),
        default="jittered",
        help="users' request timing: spread (default) or Locust's constant_throughput, "
        "where each second's batch of users fires in step",
    )
    args = parser.parse_args()
    if not 10 <= args.step_seconds <= 60:
        parser.error("--step-seconds must be within 10..60")
    args.out.mkdir(parents=True, exist_ok=True)
    url, logins = prepare(args.postgres, args.buyers)
    buyers_file = args.out / "buyers.json"
    buyers_file.write_text(json.dumps(logins))
    server = start_server(url, args.port, args.out / "server.log", args.server_workers)
    steps: list[Step] = []
    tags = []
    if args.tags:
        tags += ["--tags", *args.tags.split(",")]
    if args.exclude_tags:
        tags += ["--exclude-tags", *args.exclude_tags.split(",")]
    try:
        for rate in [float(r) for r in args.rates.split(",")]:
            step = run_step(
                f"http://127.0.0.1:{args.port}",
                rate,
                args.step_seconds,
                buyers_file,
                args.out,
                tags,
                server.pid if args.profile else None,
                args.pacing,
            )
            steps.append(step)
            print(
                f"step {rate:g}/s: {step.throughput:.1f} req/s, {verdict(step) or 'targets met'}",
                flush=True,
            )
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    check = subprocess.run(
        [str(BIN / "sharefab"), "check", "--database", url],
        capture_output=True,
        text=True,
        check=False,
    )
    server_log = (args.out / "server.log").read_text(errors="replace")
    meta = {
        "database": url.rsplit("@", 1)[-1],
        "server": f"sharefab serve --workers {args.server_workers} (uvicorn processes; sync "
        "endpoints on their thread pools), rate limit lifted",
        "tracebacks in server log": str(server_log.count("Traceback")),
        "user rate": f"{USER_RATE} req/s per Locust user ({args.pacing} pacing)",
        "achieved req/s": "answers after the ramp / measured seconds",
        "locust tags": " ".join(tags) or "all (the full mix)",
    }
    text = report(steps, check.stdout + check.stderr, meta)
    (args.out / "report.md").write_text(text)
    print(text)
    if check.returncode != 0:
        raise SystemExit("integrity checks failed")


if __name__ == "__main__":
    main()
