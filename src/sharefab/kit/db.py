"""The database: declarative base, engines, sessions and the unit-of-work scope.

SQLite is the zero-set-up default (WAL mode, foreign keys on). Write transactions on SQLite
start with `BEGIN IMMEDIATE`, so two writers are serialised by the database itself instead of
failing half-way; readers keep using deferred transactions and WAL lets them run beside a writer.
PostgreSQL is chosen by `SHAREFAB_DATABASE_URL`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from sharefab.kit.settings import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WRITE_OPTION = "sharefab_write"


class Base(DeclarativeBase):
    """Base of every table; constraint names follow one convention so migrations can name them."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` as psycopg 3 URLs."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def build_engine(url: str, echo: bool = False) -> Engine:
    """An engine for `url`, with SQLite tuned for a safe single-file deployment."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        settings = get_settings()
        return create_engine(
            url,
            echo=echo,
            pool_pre_ping=True,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )

    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@lru_cache(maxsize=4)
def _engine_for(url: str, echo: bool) -> Engine:
    return build_engine(url, echo)


def get_engine() -> Engine:
    """The engine for the configured database (one per URL per process)."""
    settings = get_settings()
    return _engine_for(settings.database_url, settings.sql_echo)


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    """A session maker bound to `engine` (the configured one by default)."""
    return sessionmaker(bind=engine or get_engine(), expire_on_commit=False, autoflush=True)


@contextmanager
def unit_of_work(engine: Engine | None = None, *, write: bool = True) -> Iterator[Session]:
    """A session whose transaction commits when the block ends and rolls back on any error.

    Services never commit; this scope (or the request scope in the API) does. `write=True`
    takes SQLite's write lock at the start of the transaction.
    """
    session = session_factory(engine)()
    if write:
        session.connection(execution_options={WRITE_OPTION: True})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def begin_read_snapshot(session: Session) -> None:
    """Start the session's transaction as a read snapshot: on PostgreSQL a read-only, repeatable
    read transaction (one consistent view for a long computation); on SQLite a deferred one.

    Neither holds a write lock, so writers of other requests go on while it runs.
    """
    options: dict[str, Any] = {}
    if session.get_bind().dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    session.connection(execution_options=options)


def begin_write(session: Session) -> None:
    """End the session's read transaction and start a short write transaction in its place.

    For requests that compute from a read snapshot and then store the outcome: everything read
    before this call may have changed since, so the write phase re-checks what it relies on.
    The read phase must not have changed any row.
    """
    if session.new or session.dirty or session.deleted:
        raise RuntimeError(
            "the read phase of a request changed rows; change them after begin_write"
        )
    session.commit()
    session.expire_all()  # what the read phase loaded is reloaded, fresh, when used again
    session.connection(execution_options={WRITE_OPTION: True})


def is_sqlite(engine: Engine) -> bool:
    """Whether `engine` talks to SQLite."""
    return engine.dialect.name == "sqlite"


def database_label(url: str | None = None) -> str:
    """A URL safe to print: the password hidden."""
    url = normalise_url(url or get_settings().database_url)
    return make_url(url).render_as_string(hide_password=True)
