"""Alembic migrations for SQLite and PostgreSQL (run by `sharefab db upgrade`)."""
