"""Shared API shapes: date-times are ISO 8601 with a zone, never a guessed Unix timestamp."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import T0, created, iso, order_body, problem


@pytest.mark.parametrize(
    "value", ["283434", "1700000000.5", "-5", "-1.9436577821627332e-48", "1e9", "inf"]
)
def test_bare_number_is_not_a_date_time_in_a_query(client: TestClient, value: str) -> None:
    """GET /orders?due_before=283434 is 422 on query.due_before, not 'before 1970-01-04'."""
    body = problem(client.get("/api/v1/orders", params={"due_before": value}), 422)
    assert body["errors"][0]["field"] == "query.due_before"
    assert "ISO 8601" in body["errors"][0]["message"]


def test_bare_number_is_not_a_date_time_in_a_body(client: TestClient) -> None:
    """A JSON number as release_at is refused naming the field."""
    body = problem(client.post("/api/v1/orders", json=order_body(release_at=1_800_000_000)), 422)
    assert body["errors"][0]["field"] == "body.release_at"


def test_iso_date_times_still_work(client: TestClient) -> None:
    """The documented form keeps working as a filter."""
    created(client.post("/api/v1/orders", json=order_body()))
    response = client.get("/api/v1/orders", params={"due_after": iso(T0)})
    assert response.status_code == 200
    assert response.json()["total"] == 1


def test_padding_does_not_stretch_a_length_limit(client: TestClient) -> None:
    """A 203-character token (5 spaces + 198) is over maxLength 200 although it trims to 198."""
    body = problem(
        client.post("/api/v1/auth/logout", json={"refresh_token": " " * 5 + "a" * 198}), 422
    )
    assert body["errors"][0]["field"] == "body.refresh_token"
    assert "at most 200 characters" in body["errors"][0]["message"]


def test_padding_does_not_pass_a_pattern(client: TestClient) -> None:
    """Currency ' CNY' breaks the documented pattern ^[A-Z]{3}$ and is refused naming it."""
    body = problem(client.post("/api/v1/orders", json=order_body(currency=" CNY")), 422)
    assert body["errors"][0]["field"] == "body.currency"


def test_padded_text_within_limits_is_still_trimmed(client: TestClient) -> None:
    """A title with spaces around it that fits is accepted and stored trimmed."""
    order = created(client.post("/api/v1/orders", json=order_body(title="  Housing  ")))
    assert order["title"] == "Housing"
