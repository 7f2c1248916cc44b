"""The `sharefab` command line: migrations, one-line errors, and a real server answering."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from sharefab.cli import app
from sharefab.seed import DEMO_PASSWORD

runner = CliRunner()


def test_db_upgrade_then_status(tmp_path: Path) -> None:
    """`db upgrade` creates the schema and taxonomy; `db status` then says it is current."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    up = runner.invoke(app, ["db", "upgrade", "--database", url])
    assert up.exit_code == 0, up.output
    assert "capabilities in the taxonomy" in up.output
    status = runner.invoke(app, ["db", "status", "--database", url])
    assert "current" in status.output


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    """A database that cannot be reached gives one error line, no traceback."""
    url = "postgresql://nobody@127.0.0.1:1/none"
    result = runner.invoke(app, ["db", "upgrade", "--database", url])
    assert result.exit_code == 1
    assert "cannot open the database" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_seed_rejects_bad_size(tmp_path: Path) -> None:
    """An unknown cluster size is one line naming the sizes."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    result = runner.invoke(app, ["seed", "--database", url, "--size", "huge"])
    assert result.exit_code == 1
    assert "demo, S, M, L, XL" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serving(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """`sharefab ARGS --port P` on a fresh SQLite database, once /readyz answers 200: the
    process and its base URL."""
    port = _free_port()
    env = {**os.environ, "SHAREFAB_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sharefab", *args, "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.5)
    _stop(proc)
    raise AssertionError(f"`sharefab {' '.join(args)}` did not come up within 90 s")


def _stop(proc: subprocess.Popen[str]) -> str:
    """Ctrl-C the server; what it printed."""
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def test_demo_serves_the_api(tmp_path: Path) -> None:
    """`sharefab demo --no-history` seeds, serves on 127.0.0.1 and answers GET
    /api/v1/resources (the history it plays by default is tested in tests/sim/test_demo.py)."""
    proc, base = _serving(tmp_path, "demo", "--no-history")
    try:
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": "buyer@sharefab.demo", "password": DEMO_PASSWORD},
        ).json()["access_token"]
        page = httpx.get(
            f"{base}/api/v1/capacity/search",
            params={
                "capability": "milling.cnc.3axis",
                "start": "2020-01-01T00:00:00Z",
                "end": "2100-01-01T00:00:00Z",
            },
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert page["total"] > 0
        provider = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": "provider@sharefab.demo", "password": DEMO_PASSWORD},
        ).json()["access_token"]
        resources = httpx.get(
            f"{base}/api/v1/resources", headers={"Authorization": f"Bearer {provider}"}
        )
        assert resources.status_code == 200
        assert resources.json()["total"] > 0
    finally:
        out = _stop(proc)
    assert "sharefab demo is up" in out
    assert "operator@sharefab.demo" in out


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def test_serve_with_two_processes_counts_every_request(tmp_path: Path) -> None:
    """`sharefab serve --workers 2` answers from two processes and /metrics counts the requests
    of both (the metrics of one process would miss the other's)."""
    proc, base = _serving(tmp_path, "serve", "--workers", "2")
    try:
        spawned = [c for c in _children(proc.pid) if b"spawn_main" in _cmdline(c)]
        assert len(spawned) == 2
        for _ in range(60):  # a new connection each: the kernel spreads them over the processes
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        text = httpx.get(f"{base}/metrics", timeout=5).text
        counted = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("sharefab_http_request_duration_seconds_count")
            and 'route="/healthz"' in line
        )
        assert counted == 60
    finally:
        out = _stop(proc)
    assert "2 processes" in out
