"""The error answers every API route may give are documented in the OpenAPI."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_every_api_operation_documents_its_error_answers(app_client: TestClient) -> None:
    """401, 403, 413, 429 and 503 are listed as problem+json on every /api/v1 operation."""
    spec = app_client.get("/openapi.json").json()
    missing = []
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1/") or path.startswith("/api/v1/auth/"):
            continue
        for method, operation in operations.items():
            for status in ("401", "403", "413", "422", "429", "503"):
                answer = operation["responses"].get(status)
                if answer is None or "application/problem+json" not in answer.get("content", {}):
                    missing.append(f"{method.upper()} {path} {status}")
    assert not missing, missing
