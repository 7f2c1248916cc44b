"""Errors as problem+json: bodies the server cannot even decode are refused naming the body."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import problem


def test_undecodable_json_body_is_422_naming_the_body(client: TestClient) -> None:
    """Bytes that are not UTF-8 under a JSON content type get 422 on `body`, not a bare 400."""
    response = client.post(
        "/api/v1/orders",
        content=b'{"reference": "\xff"}',
        headers={"content-type": "application/json"},
    )
    body = problem(response, 422)
    assert body["errors"][0]["field"] == "body"
    assert "UTF-8 JSON" in body["detail"]


def test_broken_json_is_still_reported_with_the_parser_error(client: TestClient) -> None:
    """Valid UTF-8 that is not JSON keeps the parser's position and reason."""
    response = client.post(
        "/api/v1/orders", content=b'{"reference": ', headers={"content-type": "application/json"}
    )
    body = problem(response, 422)
    assert body["errors"][0]["field"].startswith("body")
    assert "not valid JSON" in body["detail"]
