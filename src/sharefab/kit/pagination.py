"""Offset pagination shared by every list endpoint."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from sharefab.kit.errors import InvalidInput, field_error
from sharefab.kit.settings import get_settings

T = TypeVar("T")


class PageParams(BaseModel):
    """Which slice of a list the caller wants."""

    limit: int
    offset: int


def page_params(
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            description="Items per page (at most the server's maximum).",
            json_schema_extra={"maximum": get_settings().max_page_size},
        ),
    ] = None,
    offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
) -> PageParams:
    """Parse `limit` and `offset`, capping `limit` at the configured maximum."""
    settings = get_settings()
    if limit is None:
        limit = settings.default_page_size
    if limit > settings.max_page_size:
        raise InvalidInput(
            f"limit {limit} is larger than the maximum page size {settings.max_page_size}; "
            "ask for fewer items and page with offset",
            errors=[field_error("query.limit", f"at most {settings.max_page_size}")],
        )
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, the total matching count, and the slice asked for."""

    items: list[T]
    total: int
    limit: int
    offset: int
