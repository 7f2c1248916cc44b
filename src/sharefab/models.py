"""Every domain's tables, imported in one place for Alembic and the test schema."""

from __future__ import annotations


def import_all_models() -> None:
    """Import each domain's `models` module so its tables join the shared metadata."""
    import sharefab.audit.models
    import sharefab.capacity.models
    import sharefab.execution.models
    import sharefab.identity.models
    import sharefab.jobs.models
    import sharefab.kit.idempotency_models
    import sharefab.ledger.models
    import sharefab.market.models
    import sharefab.orders.models
    import sharefab.reputation.models  # noqa: F401
