"""Operability: metrics per route template, counters, and JSON logs with the request id."""

from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient

from sharefab.kit.observability import REQUEST_ID, JsonFormatter
from tests.factories import created, order_body


def test_metrics_use_route_templates(client: TestClient) -> None:
    """Requests are timed under their route template, never the raw id."""
    order = created(client.post("/api/v1/orders", json=order_body("M-1")))
    client.get(f"/api/v1/orders/{order['id']}")
    text = client.get("/metrics").text
    assert 'route="/api/v1/orders/{order_id}"' in text
    assert f'/api/v1/orders/{order["id"]}"' not in text
    assert "sharefab_http_request_duration_seconds_bucket" in text


def test_replays_are_counted(client: TestClient) -> None:
    """An idempotent replay increments its counter."""

    def replays() -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith("sharefab_idempotent_replays_total "):
                return float(line.split()[1])
        return 0.0

    before = replays()
    h = {"Idempotency-Key": "obs-1"}
    client.post("/api/v1/orders", json=order_body("M-2"), headers=h)
    client.post("/api/v1/orders", json=order_body("M-2"), headers=h)
    assert replays() == before + 1


def test_json_log_carries_request_id() -> None:
    """A log line written during a request is JSON with that request's id."""
    token = REQUEST_ID.set("req-42")
    try:
        record = logging.LogRecord(
            "sharefab.api", logging.INFO, __file__, 1, "hello %s", ("x",), None
        )
        line = json.loads(JsonFormatter().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["request_id"] == "req-42"
    assert line["message"] == "hello x"
    assert line["level"] == "info"
