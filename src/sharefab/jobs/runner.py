"""Runs jobs off the request: one thread per job in the process that started it, a heartbeat
beside it, cancel by flag, and an optional schedule that starts a kind every N minutes.

The job's row is the truth every process shares. The runner claims a queued job (queued ->
running) and moves its heartbeat on every `job_heartbeat_seconds`; the heartbeat also brings
back a cancel requested from another process. A process that dies stops the heartbeat: once it
is older than `job_stale_seconds`, whoever lists jobs or starts one marks the job failed (see
`service.fail_stale`), and a new one can start. The job function's outcome is written in
`ctx.apply()`, one transaction that also marks the job succeeded and, committed when the
function returns, holds its result: a killed job applied everything (and shows succeeded
with its result) or nothing.

Threads, not the event loop: `submit` returns at once. Threads hold no state the database
does not also hold; the only process-local facts are which jobs this process runs (so it
never declares its own jobs dead) and a cancel flag set early when the cancel arrives here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from sharefab.audit.recorder import Actor, set_actor
from sharefab.jobs import repository, service
from sharefab.jobs.contract import JobCancelled, JobFunction, JobLost
from sharefab.jobs.models import Job, JobState, JobTrigger
from sharefab.kit.db import (
    WRITE_OPTION,
    begin_read_snapshot,
    is_sqlite,
    session_factory,
    unit_of_work,
)
from sharefab.kit.errors import Conflict, SharefabError
from sharefab.kit.settings import get_settings
from sharefab.kit.types import utcnow

log = logging.getLogger("sharefab.jobs")

PROGRESS_EVERY_S = 0.5  # progress reaches the database at most this often (the rest waits)
SCHEDULE_TICK_S = 15.0


def jsonable(value: Any) -> Any:
    """`value` as plain JSON values (datetimes as ISO text, dataclasses as objects)."""
    return to_jsonable_python(value, fallback=str)


class JobRun:
    """The context of one running job (see `contract.Context`), and its heartbeat."""

    def __init__(
        self, runner: Runner, job_id: int, params: Mapping[str, Any], actor: Actor
    ) -> None:
        self.runner = runner
        self._job_id = job_id
        self._params = dict(params)
        self.actor = actor
        self.stop = threading.Event()  # cancel requested, or the job was lost
        self.lost = threading.Event()
        self.done = threading.Event()
        self.applying = False
        self.final: tuple[Session, Job] | None = None  # the open final transaction
        self._lock = threading.Lock()
        self._pending: dict[str, Any] = {}
        self._written_at = 0.0

    @property
    def job_id(self) -> int:
        """The job's id."""
        return self._job_id

    @property
    def params(self) -> Mapping[str, Any]:
        """The parameters the job was started with."""
        return self._params

    def progress(
        self, fraction: float, message: str = "", best: Mapping[str, Any] | None = None
    ) -> None:
        """Report progress; written now if the last write is older than PROGRESS_EVERY_S,
        else with the next heartbeat."""
        values: dict[str, Any] = {"progress": min(1.0, max(0.0, float(fraction)))}
        if message:
            values["message"] = message[:500]
        if best is not None:
            values["best"] = jsonable(dict(best))
        with self._lock:
            self._pending.update(values)
            due = time.monotonic() - self._written_at >= PROGRESS_EVERY_S
        if due:
            self.beat()

    def cancelled(self) -> bool:
        """Whether the job should stop now."""
        return self.stop.is_set()

    def check(self) -> None:
        """Raise JobCancelled if the job should stop."""
        if self.lost.is_set():
            raise JobLost(f"job {self._job_id} was declared dead by another process")
        if self.stop.is_set():
            raise JobCancelled(f"job {self._job_id} was cancelled")

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read snapshot of the database for the job's computation."""
        with session_factory(self.runner.engine)() as session:
            begin_read_snapshot(session)
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def apply(self) -> Iterator[Session]:
        """The final write transaction. When the block ends the job is marked succeeded in it
        (refused if a cancel was requested or the job is no longer running: everything rolls
        back), and it commits with the job's result when the job function returns (so return
        right after the block). The outcome, "succeeded" and the result are one commit."""
        self.check()
        if self.final is not None:
            raise RuntimeError(f"job {self._job_id} applied once already")
        session = session_factory(self.runner.engine)()
        self.applying = True
        try:
            session.connection(execution_options={WRITE_OPTION: True})
            set_actor(session, self.actor)
            yield session
            self.check()  # a cancel that reached only this process (not yet the database)
            self.final = (session, service.mark_applied(session, self._job_id))
        except BaseException:
            session.rollback()
            session.close()
            self.applying = False
            raise

    def commit(self, result: dict[str, Any]) -> None:
        """Commit the final transaction with the job's result (after the function returned)."""
        assert self.final is not None
        session, job = self.final
        try:
            job.result = result
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            self.final = None
            self.applying = False

    def discard(self) -> None:
        """Roll back a final transaction the function left open (it failed after the block)."""
        if self.final is not None:
            session, _ = self.final
            session.rollback()
            session.close()
            self.final = None
            self.applying = False

    def beat(self) -> None:
        """Move the heartbeat on with any pending progress; bring back a cancel request."""
        if self.final is not None or (self.applying and self.runner.sqlite):
            # The final transaction holds this row (it marked the job succeeded) or SQLite's
            # write lock (so no other process can declare the job dead either): writing here
            # would wait for it; progress waits for its commit instead.
            return
        with self._lock:
            values, self._pending = self._pending, {}
            self._written_at = time.monotonic()
        try:
            with unit_of_work(self.runner.engine) as session:
                state = repository.beat(session, self._job_id, utcnow(), **values)
        except SQLAlchemyError as exc:  # a busy database: keep the values for the next beat
            log.warning("job %s: heartbeat not written: %s", self._job_id, exc)
            with self._lock:
                self._pending = {**values, **self._pending}
            return
        if state is None:
            self.lost.set()
            self.stop.set()
        elif state:
            self.stop.set()

    def heartbeat_loop(self) -> None:
        """Beat every `heartbeat_seconds` until the job is done."""
        while not self.done.wait(self.runner.heartbeat_seconds):
            self.beat()


class Runner:
    """Runs the jobs of one process (a server, or a CLI command)."""

    def __init__(
        self,
        engine: Engine,
        functions: Mapping[str, JobFunction],
        *,
        heartbeat_seconds: float | None = None,
        stale_seconds: float | None = None,
    ) -> None:
        settings = get_settings()
        self.engine = engine
        self.sqlite = is_sqlite(engine)
        self.functions = dict(functions)
        self.heartbeat_seconds = heartbeat_seconds or settings.job_heartbeat_seconds
        self.stale_seconds = stale_seconds or settings.job_stale_seconds
        self._runs: dict[int, JobRun] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._cancelled: set[int] = set()  # cancels that came before the run was set up
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._schedule: threading.Thread | None = None

    # --- what this process runs -----------------------------------------------------------

    def local_ids(self) -> set[int]:
        """The jobs this process is running (alive whatever their heartbeat says)."""
        with self._lock:
            return {i for i, t in self._threads.items() if t.is_alive()}

    def submit(self, job_id: int) -> threading.Thread:
        """Run the queued job `job_id` in a thread of this process; returns at once."""
        thread = threading.Thread(
            target=self._run, args=(job_id,), name=f"job-{job_id}", daemon=True
        )
        with self._lock:
            self._threads = {i: t for i, t in self._threads.items() if t.is_alive()}
            self._threads[job_id] = thread
        thread.start()
        return thread

    def cancel(self, job_id: int) -> None:
        """Stop a job this process runs at once (the flag in the database reaches the others
        with their next heartbeat)."""
        with self._lock:
            run = self._runs.get(job_id)
            thread = self._threads.get(job_id)
            if run is None and thread is not None and thread.is_alive():
                self._cancelled.add(job_id)  # its thread has not claimed it yet
        if run is not None:
            run.stop.set()

    def wait(self, job_id: int, timeout: float | None = None) -> bool:
        """Wait until this process's run of `job_id` ends; whether it did."""
        with self._lock:
            thread = self._threads.get(job_id)
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    # --- the database side -----------------------------------------------------------------

    def reap(self) -> list[int]:
        """Mark failed the jobs of processes that stopped; their ids. Best effort: a database
        too busy to take the write now is tried again on the next call."""
        spare = self.local_ids()
        try:
            with unit_of_work(self.engine, write=False) as session:
                # a cheap read first: most calls find nothing to write
                stale = repository.stale_ids(session, _ago(self.stale_seconds), spare)
            if not stale:
                return []
            with unit_of_work(self.engine) as session:
                return service.fail_stale(session, self.stale_seconds, spare)
        except OperationalError as exc:
            log.warning("stale jobs not reaped now: %s", exc)
            return []

    def start(
        self,
        kind: str,
        params: Mapping[str, Any],
        *,
        trigger: JobTrigger,
    ) -> int:
        """Start a job of `kind` outside a request (the CLI, the schedule): create it in its
        own transaction and run it here. Conflict when one is queued or running."""
        with unit_of_work(self.engine, write=False) as session:  # refused at once, unlocked
            service.ensure_free(
                session, kind, stale_after=self.stale_seconds, spare=self.local_ids()
            )
        with unit_of_work(self.engine) as session:
            job = service.start_job(
                session,
                kind,
                params,
                trigger=trigger,
                stale_after=self.stale_seconds,
                spare=self.local_ids(),
            )
            job_id = job.id
        self.submit(job_id)
        return job_id

    # --- one run ------------------------------------------------------------------------------

    def _run(self, job_id: int) -> None:
        try:
            with unit_of_work(self.engine) as session:
                job = service.claim(session, job_id)
                if job is None:
                    return  # cancelled while queued, or claimed elsewhere
                run = JobRun(
                    self,
                    job_id,
                    job.params,
                    Actor(job.started_by_user_id, job.organization_id, f"job-{job_id}"),
                )
                set_actor(session, run.actor)
                kind = job.kind
        except SQLAlchemyError:
            log.exception("job %s could not start", job_id)
            return
        with self._lock:
            self._runs[job_id] = run
            if job_id in self._cancelled:
                self._cancelled.discard(job_id)
                run.stop.set()
        beating = threading.Thread(target=run.heartbeat_loop, name=f"job-{job_id}-beat")
        beating.daemon = True
        beating.start()
        try:
            self._execute(run, kind)
        finally:
            run.done.set()
            beating.join()
            with self._lock:
                self._runs.pop(job_id, None)
                self._cancelled.discard(job_id)

    def _execute(self, run: JobRun, kind: str) -> None:
        fn = self.functions.get(kind)
        outcome: tuple[JobState, str, str | None, dict[str, Any] | None]
        try:
            if fn is None:
                raise Conflict(f"this process has no job function for kind '{kind}'")
            result = jsonable(fn(run))
            if run.final is not None:
                run.commit(result)  # the outcome, "succeeded" and the result, at once
                return
            cancelled = run.stop.is_set() and not run.lost.is_set()
            outcome = (
                (JobState.cancelled, "cancelled; nothing was changed", None, result)
                if cancelled
                else (JobState.succeeded, "finished", None, result)
            )
        except JobLost:
            return  # another process declared it dead; its row says so already
        except JobCancelled:
            outcome = (JobState.cancelled, "cancelled; nothing was changed", None, None)
        except SharefabError as exc:
            outcome = (JobState.failed, f"failed: {exc.detail}", exc.detail, None)
        except Exception as exc:  # a job's failure must end as its row's state, not a thread's
            log.exception("job %s (%s) failed", run.job_id, kind)
            detail = f"internal error: {exc.__class__.__name__}: {exc}"[:2000]
            outcome = (JobState.failed, "failed: internal error (logged)", detail, None)
        finally:
            run.discard()
        state, message, error, result = outcome
        self._write(
            lambda s: service.finish(
                s, run.job_id, state, message=message, error=error, result=result
            ),
            actor=run.actor,
        )

    def _write(self, change: Callable[[Session], object], actor: Actor | None = None) -> None:
        """A short transaction of the runner's own; retried while the database is busy."""
        for attempt in range(5):
            try:
                with unit_of_work(self.engine) as session:
                    if actor is not None:
                        set_actor(session, actor)
                    change(session)
                return
            except OperationalError as exc:
                log.warning("job state not written (attempt %s): %s", attempt + 1, exc)
                if self._closing.wait(1.0 + attempt):
                    return

    # --- the schedule ---------------------------------------------------------------------

    def schedule(
        self, kind: str, every_minutes: float, params: Callable[[], Mapping[str, Any]]
    ) -> None:
        """Start a job of `kind` whenever the newest one (by any process) is `every_minutes`
        old, and none is queued or running; checked at once, then a few times per interval."""

        def loop() -> None:
            tick = min(SCHEDULE_TICK_S, every_minutes * 60 / 4)
            while True:
                try:
                    self._scheduled(kind, every_minutes, params)
                except Exception:  # the schedule must outlive one bad round
                    log.exception("scheduled %s job not started", kind)
                if self._closing.wait(tick):
                    return

        self._schedule = threading.Thread(target=loop, name=f"schedule-{kind}", daemon=True)
        self._schedule.start()

    def _scheduled(
        self, kind: str, every_minutes: float, params: Callable[[], Mapping[str, Any]]
    ) -> None:
        with unit_of_work(self.engine, write=False) as session:
            latest = repository.latest_of_kind(session, kind)
            due = latest is None or latest.created_at <= _ago(every_minutes * 60)
            running = latest is not None and latest.active
        if not due or running:
            return
        try:
            job_id = self.start(kind, params(), trigger=JobTrigger.schedule)
        except Conflict:
            return  # another process started one first
        log.info("scheduled %s job %s started", kind, job_id)

    def close(self, timeout: float = 5.0) -> None:
        """Ask this process's jobs to stop and wait a little for them; stop the schedule.
        A job still running when the process exits is failed later by its stale heartbeat."""
        self._closing.set()
        with self._lock:
            runs = list(self._runs.values())
            threads = list(self._threads.values())
        for run in runs:
            run.stop.set()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._schedule is not None:
            self._schedule.join(timeout=1.0)


def _ago(seconds: float) -> datetime:
    return utcnow() - timedelta(seconds=seconds)
