"""The hardened HTTP service every recaudo web service runs on (webhooks,
portal, desk): probes, body limits, and never an access line."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from recaudo.process.http_service import BodyTooLarge, HttpService, plain, probe_routes, read_body

LIMIT = 16


async def _echo(request: Request) -> Response:
    try:
        body = await read_body(request, LIMIT, timeout_s=5)
    except BodyTooLarge:
        return plain(413, "too large", close=True)
    return Response(body, 200)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def service() -> Iterator[HttpService]:
    app = Starlette(
        routes=[
            *probe_routes(lambda: True, lambda: {"recaudo_test_total": 3.0}),
            Route("/p/{token}", _echo, methods=["GET", "POST"]),
        ]
    )
    with HttpService("test-service", app, host="127.0.0.1", port=0, header_timeout_s=5) as s:
        yield s


def test_no_access_line_even_when_the_access_logger_has_a_handler(service: HttpService) -> None:
    # uvicorn writes an access line whenever its access logger has a handler,
    # whatever access_log=False says; the line would carry the URL's token.
    access = logging.getLogger("uvicorn.access")
    handler = _Collect()
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.DEBUG)
    try:
        reply = httpx.get(f"{service.url}p/SECRET-TOKEN?verify=SECRET-QUERY", timeout=5)
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert reply.status_code == 200
    assert handler.lines == []


def test_probes_answer_on_the_service_port(service: HttpService) -> None:
    assert httpx.get(f"{service.url}healthz", timeout=5).text == "ok\n"
    assert httpx.get(f"{service.url}readyz", timeout=5).text == "ready\n"
    assert "recaudo_test_total 3" in httpx.get(f"{service.url}metrics", timeout=5).text


def test_readyz_is_503_when_not_ready() -> None:
    app = Starlette(routes=probe_routes(lambda: False, dict))
    with HttpService("test-service", app, host="127.0.0.1", port=0, header_timeout_s=5) as s:
        reply = httpx.get(f"{s.url}readyz", timeout=5)
    assert (reply.status_code, reply.text) == (503, "not ready\n")


def test_a_body_over_the_limit_is_refused_and_the_connection_closed(
    service: HttpService,
) -> None:
    reply = httpx.post(f"{service.url}p/t", content=b"x" * (LIMIT + 1), timeout=5)
    assert reply.status_code == 413
    assert reply.headers["connection"] == "close"
    assert "server" not in reply.headers
