"""One `Settings` object, read from the environment (prefix `SHAREFAB_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/sharefab.db"


class Settings(BaseSettings):
    """Platform settings; every field can be set as `SHAREFAB_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="SHAREFAB_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: a SQLite file by default, or postgresql+psycopg://...",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    max_page_size: int = 500
    default_page_size: int = 50
    currency: str = "CNY"
    sql_echo: bool = False
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_max_concurrency: int = Field(
        default=25,
        description="Requests holding a database session at once; the rest wait without "
        "taking a worker thread. Keep it below pool size + overflow.",
    )

    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs access tokens and session cookies. Unset: one is made and "
        "kept in var/secret.key (fine for one host; set it explicitly for several replicas).",
    )
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    session_hours: int = 12
    jwt_issuer: str = "sharefab"
    jwt_audience: str = "sharefab-api"
    argon2_memory_kib: int = Field(default=19456, ge=19456, description="OWASP minimum 19 MiB")
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_parallelism: int = Field(default=1, ge=1)
    max_failed_logins_per_hour: int = 100
    max_body_bytes: int = 1_000_000
    rate_limit_per_minute: int = 600
    rate_limit_burst: int = 120
    web_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes `sharefab serve` answers requests in (each its own live plan; "
        "each allows a client its share of the rate limit)",
    )
    max_solver_seconds: float = Field(
        default=60.0, description="Most solver time one request may use (quotes, re-planning)"
    )
    max_operations_per_order: int = Field(
        default=200,
        ge=1,
        description="Most routing steps one order may have (read at start-up; it is in the "
        "OpenAPI). Longer routings are refused with 422 before they are parsed further.",
    )
    max_precedence_links: int = Field(
        default=2000,
        ge=1,
        description="Most predecessor links (edges of the routing) one order may have in total",
    )
    quote_ttl_minutes: int = Field(default=30, ge=1, description="How long a quote stays open")
    replan_slack_share: float = Field(
        default=0.25,
        ge=-1,
        le=2,
        description="Re-planning books a step at its ready time plus this share of its order's "
        "slack (urgent work first; below 0: by deadline)",
    )
    promise_level: float = Field(
        default=0.95,
        gt=0,
        lt=1,
        description="Share of the promises of orders quoted late the platform means to keep: "
        "such a promise allows for this quantile of how far recent late plans slipped",
    )
    duration_cv: float = Field(
        default=0.15,
        ge=0,
        le=2,
        description="How much a step's real duration varies (coefficient of variation): sets "
        "the slack a balanced quote keeps and the buffers of the safest one",
    )
    solver_deterministic_time: float | None = Field(
        default=None,
        gt=0,
        description="Reproducible plans: quotes and replans stop on this much CP-SAT "
        "deterministic time per solve (one worker, fixed seed) instead of the wall clock, so "
        "the same state gives the same plan on any load (the simulator sets it).",
    )
    job_heartbeat_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often a running job proves its process is alive (and picks up a "
        "cancel requested elsewhere).",
    )
    job_stale_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A queued or running job whose heartbeat is older than this is failed "
        "('the process running it stopped') when jobs are listed or one is started.",
    )
    idle_pull: bool = Field(
        default=True,
        description="When a step is reported complete, ready work booked later on other "
        "machines (and the order's next steps) may move onto the machine that fell free, if it "
        "ends sooner there.",
    )
    reoptimise_seconds: float = Field(
        default=20.0,
        gt=0,
        description="Solver seconds of a re-optimisation job started without a time limit "
        "(the schedule's, the operator page's).",
    )
    reoptimise_search: int = Field(
        default=0,
        ge=0,
        description="After the list-scheduling passes, a re-optimisation that still leaves "
        "orders late hands the plan to the cluster planner's search (CP-SAT neighbourhoods): "
        "a job searches for the rest of its time limit, a call without one (the simulator) "
        "tries this many neighbourhoods. 0: no search (on the simulator it kept a few more "
        "promises, moved more work and was not on time more often; docs/engine.md).",
    )
    plan_engine: str = Field(
        default="local",
        pattern="^(local|dask)$",
        description="Where a re-optimisation job's search runs: local (this process, or a "
        "process pool of plan_workers) or dask (a LocalCluster of plan_workers, or the "
        "scheduler at plan_address).",
    )
    plan_workers: int = Field(
        default=1, ge=1, le=64, description="Worker processes of a re-optimisation's search."
    )
    plan_address: str | None = Field(
        default=None, description="Dask scheduler (tcp://HOST:PORT) with plan_engine=dask."
    )
    reoptimise_every_minutes: float | None = Field(
        default=None,
        gt=0,
        description="`sharefab serve` starts a re-optimisation job this often (unset: never; "
        "the operator starts one by hand).",
    )
    cookie_secure: bool = Field(
        default=False, description="Send session cookies over HTTPS only (set behind TLS)."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache after changing the env)."""
    return Settings()
