"""A client hanging up mid-request is logged as information, not as a server failure."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from tests.factories import Tenants
from tests.servers import serving


@pytest.fixture
def server_port(engine: Engine) -> Iterator[int]:
    """The app served by uvicorn on 127.0.0.1 in a thread."""
    with serving(engine) as url:
        yield int(url.rsplit(":", 1)[1])


def test_hang_up_before_body_is_not_an_error(
    server_port: int, tenants: Tenants, caplog: pytest.LogCaptureFixture
) -> None:
    """A POST that announces a body and hangs up before sending it (a client timeout, a load
    tester stopping) leaves an INFO line 'client disconnected', no ERROR and no traceback."""
    caplog.set_level(logging.INFO)
    auth = tenants["buyer2"].headers["Authorization"]
    with socket.create_connection(("127.0.0.1", server_port)) as sock:
        sock.sendall(
            (
                "POST /api/v1/orders/1/quotes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: {auth}\r\nIdempotency-Key: hang-up-1\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            ).encode()
        )
        time.sleep(0.5)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if any("client disconnected" in r.getMessage() for r in caplog.records):
            break
        time.sleep(0.1)
    gone = [r for r in caplog.records if "client disconnected" in r.getMessage()]
    assert gone, [r.getMessage() for r in caplog.records]
    assert gone[0].levelno == logging.INFO
    assert not gone[0].exc_info
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
