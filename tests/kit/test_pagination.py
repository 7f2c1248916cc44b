"""Page sizes: the cap is enforced with a clear 422 and published in the OpenAPI."""

from __future__ import annotations

from fastapi.testclient import TestClient

from sharefab.kit.settings import get_settings
from tests.factories import problem


def test_limit_maximum_is_in_the_schema(app_client: TestClient) -> None:
    """A client can read the page-size cap from the OpenAPI instead of discovering it by 422."""
    spec = app_client.get("/openapi.json").json()
    params = spec["paths"]["/api/v1/orders"]["get"]["parameters"]
    limit = next(p for p in params if p["name"] == "limit")
    assert limit["schema"]["maximum"] == get_settings().max_page_size


def test_huge_page_size_is_refused_naming_the_limit(client: TestClient) -> None:
    """limit=10**12 gets 422 on query.limit at once, not a giant query."""
    body = problem(client.get("/api/v1/orders", params={"limit": 10**12}), 422)
    assert body["errors"] == [{"field": "query.limit", "message": "at most 500"}]
