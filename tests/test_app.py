"""The app as a whole: health probes, OpenAPI, and problem answers for unknown routes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from sharefab.app import create_app
from tests.factories import problem


def test_probes(client: TestClient) -> None:
    """/healthz answers ok and /readyz reports the database at the newest migration."""
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_openapi_lists_every_resource(client: TestClient) -> None:
    """The OpenAPI document at /openapi.json covers each collection, and /docs serves it."""
    paths = client.get("/openapi.json").json()["paths"]
    for collection in [
        "organizations",
        "sites",
        "resources",
        "capacity-windows",
        "orders",
        "capabilities",
    ]:
        assert f"/api/v1/{collection}" in paths
        assert any(p.startswith(f"/api/v1/{collection}/{{") for p in paths)
    assert "/api/v1/capacity/search" in paths
    assert client.get("/docs").status_code == 200


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    """A wrong path or method answers problem+json that points at /docs."""
    assert "/docs" in problem(client.get("/api/v1/nothing-here"), 404)["detail"]
    assert "/docs" in problem(client.put("/api/v1/organizations"), 405)["detail"]


def test_malformed_id_is_named(client: TestClient) -> None:
    """A path id that is not a number is refused naming the path parameter."""
    body = problem(client.get("/api/v1/orders/abc"), 422)
    assert body["errors"][0]["field"] == "path.order_id"


def test_huge_ids_are_422(client: TestClient) -> None:
    """An id beyond 64 bits is a 422 saying a number is out of range, not a server error."""
    huge = 10**30
    for method, path in [
        ("GET", f"/api/v1/orders/{huge}"),
        ("PATCH", f"/api/v1/orders/{huge}"),
        ("GET", f"/api/v1/orders/{huge}/bookings"),
        ("POST", f"/api/v1/quotes/{huge}/accept"),
        ("DELETE", f"/api/v1/api-keys/{huge}"),
        ("GET", f"/api/v1/ledger/transfers?order_id={huge}"),
    ]:
        kwargs = {"json": {"title": "x"}} if method == "PATCH" else {}
        resp = client.request(method, path, **kwargs)
        assert "out of range" in problem(resp, 422)["detail"], path


def test_unexpected_errors_are_problems(engine: Engine) -> None:
    """A crash answers 500 problem+json without a traceback; a lost database answers 503."""
    app = create_app(engine)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/db-down")
    def db_down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    with TestClient(app, raise_server_exceptions=False) as c:
        crashed = c.get("/boom")
        assert "wrote nothing" in problem(crashed, 500)["detail"]
        assert "secret internals" not in crashed.text
        down = c.get("/db-down")
        assert "retry" in problem(down, 503)["detail"]
        assert down.headers["retry-after"] == "2"
