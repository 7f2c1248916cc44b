"""The migrations build the schema the models describe, on each backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from sharefab.kit.db import Base
from sharefab.models import import_all_models


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    """A database migrated to head has every table, column and index the models declare, and
    no other: a model change without its migration (or the reverse) fails here."""
    import_all_models()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
