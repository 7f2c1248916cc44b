"""CLI adapters for running the platform: `serve`, `db upgrade`, `seed`, `demo`.

Every failure a user can cause prints one line on stderr and exits non-zero; no traceback.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from sharefab.audit import recorder as audit_recorder
from sharefab.kit.db import build_engine, database_label, unit_of_work
from sharefab.kit.migrate import current_revision, head_revision, upgrade
from sharefab.kit.settings import get_settings
from sharefab.models import import_all_models

db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
console = Console(stderr=True, soft_wrap=True)

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="SQLAlchemy URL; default SHAREFAB_DATABASE_URL or the SQLite file var/sharefab.db.",
    ),
]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error and return the exit to raise."""
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def open_database(url: str | None) -> Engine:
    """An engine for `url` (or the configured one) that has answered a first query."""
    url = url or get_settings().database_url
    import_all_models()
    audit_recorder.install()
    try:
        engine = build_engine(url)
        with engine.connect():
            pass
    except (SQLAlchemyError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:200]
        raise fail(f"cannot open the database {database_label(url)}: {reason}") from None
    return engine


def migrate_and_load_taxonomy(engine: Engine) -> int:
    """Bring the schema to the newest migration and sync the capability taxonomy."""
    from sharefab.capacity.service import sync_taxonomy

    upgrade(engine)
    with unit_of_work(engine) as session:
        return sync_taxonomy(session)


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOption = None) -> None:
    """Create or migrate the schema to the newest version and load the capability taxonomy."""
    engine = open_database(database)
    try:
        count = migrate_and_load_taxonomy(engine)
    except OperationalError as exc:
        raise fail(f"migration failed: {str(exc.orig).splitlines()[0]}") from None
    console.print(
        f"database {database_label(str(engine.url))} at migration {current_revision(engine)}; "
        f"{count} capabilities in the taxonomy"
    )


@db_app.command("status")
def db_status(database: DatabaseOption = None) -> None:
    """Show the database's migration and whether it is current."""
    engine = open_database(database)
    current, head = current_revision(engine), head_revision(engine)
    state = (
        "current" if current == head else f"behind (newest is {head}); run `sharefab db upgrade`"
    )
    typer.echo(f"{database_label(str(engine.url))}: migration {current or 'none'}, {state}")


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database: DatabaseOption = None,
    upgrade_first: Annotated[
        bool, typer.Option("--upgrade/--no-upgrade", help="Migrate the schema before serving.")
    ] = True,
    keep_alive: Annotated[
        int,
        typer.Option(
            help="Seconds an idle keep-alive connection stays open. Longer than clients' pauses "
            "(and a proxy's idle timeout), so a request never races the server closing it."
        ),
    ] = 75,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Processes answering requests (default: the setting web_workers, 1). Each "
            "keeps its own live plan, kept current by the plan clock; /metrics sums them all; "
            "each allows a client its share of the rate limit.",
        ),
    ] = None,
) -> None:
    """Serve the API (and pages) with uvicorn."""
    import shutil
    import tempfile

    import uvicorn

    from sharefab.app import create_app
    from sharefab.kit.observability import MULTIPROCESS_DIR

    engine = open_database(database)
    if upgrade_first:
        migrate_and_load_taxonomy(engine)
    elif current_revision(engine) != head_revision(engine):
        raise fail("the database schema is not current; run `sharefab db upgrade` first")
    processes = workers or get_settings().web_workers
    # the app reads these: in this process, and in the worker processes uvicorn starts
    os.environ["SHAREFAB_WEB_WORKERS"] = str(processes)
    get_settings.cache_clear()
    console.print(
        f"sharefab serving on http://{host}:{port}  (API docs: /docs)"
        + (f", {processes} processes" if processes > 1 else "")
    )
    metrics = None
    if processes > 1:
        # each worker process builds the app from the settings: the database and where the
        # processes' metrics go (summed at /metrics) are passed in the environment
        os.environ["SHAREFAB_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
        engine.dispose()
        metrics = tempfile.mkdtemp(prefix="sharefab-metrics-")
        os.environ[MULTIPROCESS_DIR] = metrics
    try:
        uvicorn.run(
            create_app(engine) if metrics is None else "sharefab.app:create_app",
            factory=metrics is not None,
            workers=processes,
            host=host,
            port=port,
            log_level="info",
            timeout_keep_alive=keep_alive,
        )
    finally:
        if metrics is not None:
            shutil.rmtree(metrics, ignore_errors=True)


def seed_command(
    database: DatabaseOption = None,
    size: Annotated[str, typer.Option(help="Cluster size: demo, S, M, L or XL.")] = "demo",
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same cluster.")] = 7,
    start: Annotated[
        str | None,
        typer.Option(help="Horizon start date (YYYY-MM-DD, a Monday); default: next Monday."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Seed even if the database holds data.")] = False,
    book: Annotated[
        int, typer.Option(help="Quote and accept this many orders, so the plan has bookings.")
    ] = 0,
) -> None:
    """Fill the database with a realistic industrial cluster (factories, machines, windows,
    orders)."""
    from sharefab.seed import SeedError, seed_cluster

    engine = open_database(database)
    migrate_and_load_taxonomy(engine)
    try:
        summary = seed_cluster(engine, size=size, seed=seed, start=start, force=force, book=book)
    except SeedError as exc:
        raise fail(str(exc)) from None
    console.print(summary.describe())


def demo_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    database: DatabaseOption = None,
    seed: Annotated[int, typer.Option(help="Random seed of the demo cluster.")] = 7,
    history: Annotated[
        bool,
        typer.Option(
            help="Play the cluster's last two weeks through the platform before serving (a "
            "minute or two, once), so the pages open on a running cluster; --no-history "
            "seeds it starting next Monday with 30 orders booked."
        ),
    ] = True,
) -> None:
    """Migrate, seed a demo cluster (once) and serve the platform."""
    from sharefab.seed import seed_cluster

    engine = open_database(database)
    migrate_and_load_taxonomy(engine)
    if history and not os.environ.get("SHAREFAB_DEMO_NO_HISTORY"):
        from sharefab.seed import has_organizations, summarise
        from sharefab.sim.demo import play_history

        if not has_organizations(engine):
            with Progress(console=console, transient=True) as bar:
                task = bar.add_task("playing the last two weeks", total=14 * 1440)
                done = play_history(
                    engine, seed=seed, progress=lambda m: bar.update(task, completed=m)
                )
            console.print(done.describe())
        with unit_of_work(engine, write=False) as session:
            summary = summarise(session, already_seeded=True)
    else:
        summary = seed_cluster(
            engine, size="demo", seed=seed, start=None, force=False, skip_if_seeded=True, book=30
        )
    console.print(summary.describe())
    if os.environ.get("SHAREFAB_DEMO_NO_SERVE"):
        return
    url = f"http://{host}:{port}"
    console.print(
        f"\n[bold green]sharefab demo is up:[/bold green] {url}\n"
        f"  API docs      {url}/docs\n"
        f"  resources     {url}/api/v1/resources\n"
        f"  orders        {url}/api/v1/orders\n"
        "  stop with Ctrl-C",
        highlight=False,
    )
    sys.stdout.flush()
    serve_command(
        host=host, port=port, database=str(engine.url.render_as_string(False)), upgrade_first=False
    )


# --- the plan: re-optimisation jobs -------------------------------------------------------

plan_app = typer.Typer(
    no_args_is_help=True,
    help="The plan: re-optimise it (a job with a progress bar), follow, list and cancel jobs.",
)
POLL_SECONDS = 0.5


@plan_app.command("reoptimise")
def plan_reoptimise(
    database: DatabaseOption = None,
    time_limit: Annotated[
        float | None,
        typer.Option(min=0.001, help="Solver seconds (default: the reoptimise_seconds setting)."),
    ] = None,
    search: Annotated[
        bool,
        typer.Option(
            help="Hand a plan that still leaves orders late to the cluster planner's search "
            "for the rest of the time (on the solver's pool: SHAREFAB_PLAN_WORKERS, "
            "SHAREFAB_PLAN_ENGINE)."
        ),
    ] = False,
) -> None:
    """Re-optimise every booking not yet started (cut lateness and cost, keep promises), as a
    job run here: a progress bar until it ends; Ctrl-C cancels it and nothing changes."""
    from sharefab.jobs.models import JobTrigger
    from sharefab.jobs.runner import Runner
    from sharefab.kit.errors import SharefabError
    from sharefab.market import reoptimise_job

    engine = open_database(database)
    runner = Runner(engine, {reoptimise_job.KIND: reoptimise_job.run})
    try:
        job_id = runner.start(
            reoptimise_job.KIND, reoptimise_job.params(time_limit, search), trigger=JobTrigger.cli
        )
    except SharefabError as exc:
        raise fail(exc.detail) from None
    _finish(_follow(engine, job_id, runner, here=True))


@plan_app.command("watch")
def plan_watch(
    job_id: Annotated[int, typer.Argument(help="The job to follow (see `sharefab plan jobs`).")],
    database: DatabaseOption = None,
) -> None:
    """Follow a job (started by the server, the schedule or another command) until it ends;
    Ctrl-C cancels it."""
    from sharefab.jobs.runner import Runner

    engine = open_database(database)
    _finish(_follow(engine, job_id, Runner(engine, {}), here=False))


@plan_app.command("cancel")
def plan_cancel(
    job_id: Annotated[int, typer.Argument(help="The job to cancel.")],
    database: DatabaseOption = None,
) -> None:
    """Cancel a job: a queued one ends now, a running one stops at its next check."""
    from sharefab.jobs import service as jobs
    from sharefab.kit.errors import SharefabError

    engine = open_database(database)
    try:
        with unit_of_work(engine) as session:
            job = jobs.request_cancel(session, None, job_id)
            state, message = job.state.value, job.message
    except SharefabError as exc:
        raise fail(exc.detail) from None
    console.print(f"job {job_id}: {state}, {message}", highlight=False)


@plan_app.command("jobs")
def plan_jobs(
    database: DatabaseOption = None,
    kind: Annotated[str | None, typer.Option(help="Only jobs of this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 20,
) -> None:
    """List jobs, newest first (a job whose process stopped shows as failed)."""
    from rich.table import Table

    from sharefab.jobs.repository import list_jobs
    from sharefab.jobs.runner import Runner

    engine = open_database(database)
    Runner(engine, {}).reap()  # jobs of processes that stopped show as failed
    with unit_of_work(engine, write=False) as session:
        rows = list(session.scalars(list_jobs(kind=kind).limit(limit)))
    table = Table(title=f"{len(rows)} jobs" if rows else "no jobs yet")
    for column in ("id", "kind", "state", "progress", "started", "by", "message"):
        table.add_column(column, justify="right" if column in ("id", "progress") else "left")
    for j in rows:
        by = j.trigger.value + (f" (org {j.organization_id})" if j.organization_id else "")
        table.add_row(
            str(j.id),
            j.kind,
            j.state.value + (" (cancel requested)" if j.cancel_requested and j.active else ""),
            f"{j.progress:.0%}",
            f"{j.started_at or j.created_at:%Y-%m-%d %H:%M}",
            by,
            j.message,
        )
    Console().print(table)


def _follow(engine: Engine, job_id: int, runner: Any, *, here: bool) -> Any:
    """A Rich progress bar over the job until it ends; the first Ctrl-C cancels it (and waits
    for it to stop), a second one stops following. Returns the finished job row.

    `here`: `runner` runs the job in this process; otherwise it only declares the job failed
    if the process running it stops."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from sharefab.jobs import service as jobs
    from sharefab.kit.errors import Conflict, SharefabError

    def read() -> Any:
        with unit_of_work(engine, write=False) as session:
            return jobs.get_job(session, None, job_id)

    try:
        job = read()
    except SharefabError as exc:
        raise fail(exc.detail) from None
    cancelling = False
    columns = (
        TextColumn(f"job {job_id} ({job.kind})"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(job.message, total=1.0)
        while True:
            try:
                if not here:
                    runner.reap()
                job = read()
                best = ", ".join(f"{k} {v}" for k, v in (job.best or {}).items())
                line = job.message + (f"  [best: {best}]" if best else "")
                bar.update(task, completed=job.progress, description=line)
                if not job.active:
                    break
                _pause(POLL_SECONDS)
            except KeyboardInterrupt:
                if cancelling:
                    raise fail(
                        f"stopped following job {job_id}; it goes on "
                        f"(`sharefab plan cancel {job_id}` cancels it)",
                        code=130,
                    ) from None
                cancelling = True
                bar.update(task, description="cancelling (Ctrl-C again to stop following) ...")
                if here:
                    runner.cancel(job_id)  # it runs here: it stops now
                    continue
                try:
                    with unit_of_work(engine) as session:
                        jobs.request_cancel(session, None, job_id)
                except Conflict:
                    pass  # it finished meanwhile
        if job.state.value != "succeeded":
            bar.update(task, completed=job.progress)
    if here:
        runner.wait(job_id, timeout=10)
    return job


def _pause(seconds: float) -> None:
    """Wait between two looks at a followed job (where Ctrl-C usually lands)."""
    time.sleep(seconds)


def _finish(job: Any) -> None:
    """Print the finished job's outcome; exit 1 unless it succeeded."""
    from rich.table import Table

    if job.state.value == "cancelled":
        raise fail(f"job {job.id} was cancelled; the plan is unchanged")
    if job.state.value != "succeeded":
        raise fail(f"job {job.id} {job.state.value}: {job.error or job.message}")
    report = job.result or {}
    moved = report.get("moved", [])
    table = Table(title=f"job {job.id}: {len(moved)} bookings moved")
    for column in (
        "order",
        "operation",
        "from resource",
        "to resource",
        "starts",
        "other provider",
    ):
        table.add_column(column)
    for m in moved:
        table.add_row(
            str(m["order_id"]),
            str(m["operation_id"]),
            str(m["from_resource_id"]),
            str(m["to_resource_id"]),
            str(m["starts_at"])[:16],
            "yes" if m["other_provider"] else "",
        )
    Console().print(table)
    for p in report.get("promised_dates_changed", []):
        console.print(f"order {p['order_id']}: promised date moved to {p['new_promised_at']}")
    for u in report.get("unplaced", []):
        console.print(f"not placed: {u.get('reason', u)}", highlight=False)
