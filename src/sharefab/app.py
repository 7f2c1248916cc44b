"""Builds the FastAPI app from the domains' routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.engine import Engine

from sharefab import __version__
from sharefab.audit import recorder as audit_recorder
from sharefab.capacity.api import router as capacity_router
from sharefab.execution.api import router as execution_router
from sharefab.identity.api import auth_router
from sharefab.identity.api import router as identity_router
from sharefab.jobs.api import router as jobs_router
from sharefab.jobs.runner import Runner
from sharefab.kit.db import get_engine
from sharefab.kit.middleware import (
    BodyLimitMiddleware,
    RateLimitMiddleware,
    RequestIdMiddleware,
    RetryRacesMiddleware,
)
from sharefab.kit.migrate import current_revision, head_revision
from sharefab.kit.observability import MetricsMiddleware, configure_logging, metrics_response
from sharefab.kit.problems import install_problem_handlers, problem_response
from sharefab.kit.settings import get_settings
from sharefab.ledger.api import router as ledger_router
from sharefab.market import reoptimise_job
from sharefab.market.api import router as market_router
from sharefab.orders.api import router as orders_router
from sharefab.reputation.api import credit_router, ratings_router
from sharefab.web.routes import STATIC_DIR
from sharefab.web.routes import router as web_router

API_PREFIX = "/api/v1"


def create_app(engine: Engine | None = None) -> FastAPI:
    """The platform's web application, bound to `engine` (the configured database by default).

    Quotes and replans place orders on the process's live plan in the request (milliseconds);
    jobs (re-optimisation) run in threads of this process; with the setting
    `reoptimise_every_minutes` the app starts one that often while it serves.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        every = get_settings().reoptimise_every_minutes
        if every:
            runner.schedule(
                reoptimise_job.KIND, every, lambda: reoptimise_job.params(time_limit=None)
            )
        try:
            yield
        finally:
            runner.close()

    app = FastAPI(
        lifespan=lifespan,
        title="sharefab",
        version=__version__,
        summary="Shared manufacturing platform: pool idle factory capacity, match it to orders.",
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.engine = engine or get_engine()
    # Jobs run in threads of this process (see jobs/runner.py); each kind names its function.
    runner = Runner(app.state.engine, {reoptimise_job.KIND: reoptimise_job.run})
    app.state.jobs = runner
    install_problem_handlers(app)
    audit_recorder.install()
    settings = get_settings()
    app.add_middleware(RetryRacesMiddleware)  # innermost: a retry is not a new request
    # each of the server's processes keeps its own buckets: a client gets its share in each
    workers = settings.web_workers
    app.add_middleware(
        RateLimitMiddleware,
        per_minute=max(1, -(-settings.rate_limit_per_minute // workers)),
        burst=max(1, -(-settings.rate_limit_burst // workers)),
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    configure_logging()

    api = APIRouter(prefix=API_PREFIX)
    api.include_router(auth_router)
    api.include_router(identity_router)
    api.include_router(capacity_router)
    api.include_router(orders_router)
    api.include_router(ledger_router)
    api.include_router(credit_router)
    api.include_router(ratings_router)
    api.include_router(market_router)
    api.include_router(execution_router)
    api.include_router(jobs_router)
    app.include_router(api)
    app.include_router(web_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def metrics() -> Any:
        """Prometheus metrics: latency per route, solver runs, conflicts, idempotent replays."""
        return metrics_response()

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    def readyz() -> Any:
        """The database answers and its schema is at the newest migration."""
        eng: Engine = app.state.engine
        try:
            with eng.connect() as conn:
                conn.execute(text("SELECT 1"))
            current, head = current_revision(eng), head_revision(eng)
        except Exception as exc:  # the point of the probe is to report any failure
            return problem_response(
                {
                    "type": "about:blank",
                    "title": "Not ready",
                    "status": 503,
                    "detail": f"database unreachable: {exc.__class__.__name__}",
                }
            )
        if current != head:
            return problem_response(
                {
                    "type": "about:blank",
                    "title": "Not ready",
                    "status": 503,
                    "detail": f"database at migration {current}, code expects {head}; "
                    "run `sharefab db upgrade`",
                }
            )
        return {"status": "ready", "migration": current}

    return app
