"""Query helpers every repository uses: fetch-or-404 and counted pages."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sharefab.kit.errors import NotFound
from sharefab.kit.pagination import PageParams

ModelT = TypeVar("ModelT")


def get_or_404(session: Session, model: type[ModelT], key: Any, label: str) -> ModelT:
    """The row of `model` with primary key `key`, or NotFound naming `label` and the key."""
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"{label} {key} does not exist; check the id (list them with GET)")
    return row


def paginate(session: Session, stmt: Select[Any], page: PageParams) -> tuple[list[Any], int]:
    """One page of `stmt`'s rows and the total count of rows it matches."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(session.scalars(stmt.limit(page.limit).offset(page.offset)))
    return rows, int(total)


def paginate_rows(
    session: Session, stmt: Select[*tuple[Any, ...]], page: PageParams
) -> tuple[list[Any], int]:
    """Like `paginate`, for statements that select several entities per row."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = list(session.execute(stmt.limit(page.limit).offset(page.offset)).all())
    return rows, int(total)
