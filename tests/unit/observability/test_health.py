from __future__ import annotations

import urllib.error
import urllib.request

import click
import pytest

from recaudo.cli.main import _run_with_health
from recaudo.observability.health import HealthServer, PortInUseError


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_probes_and_metrics() -> None:
    state = {"ready": False}
    metrics = {'recaudo_connector_sent_total{channel="sms"}': 3.0}
    instruments = '# TYPE recaudo_consumer_lag gauge\nrecaudo_consumer_lag{partition="0"} 4.0\n'
    with HealthServer(
        0,
        lambda: state["ready"],
        lambda: metrics,
        host="127.0.0.1",
        instruments=lambda: instruments,
    ) as health:
        assert get(health.port, "/healthz") == (200, "ok\n")
        assert get(health.port, "/readyz")[0] == 503
        state["ready"] = True
        assert get(health.port, "/readyz") == (200, "ready\n")
        # The service's own figures, then its OpenTelemetry instruments.
        assert get(health.port, "/metrics") == (
            200,
            'recaudo_connector_sent_total{channel="sms"} 3.0\n' + instruments,
        )
        assert get(health.port, "/nope")[0] == 404


def test_extra_routes_share_the_port_and_fail_alone() -> None:
    def boom(_query: str) -> tuple[int, str, bytes]:
        raise RuntimeError("no database")

    routes = {"/": lambda q: (200, "text/html", f"<p>{q}</p>".encode()), "/boom": boom}
    with HealthServer(0, lambda: True, host="127.0.0.1", routes=routes) as health:
        assert get(health.port, "/?x=1") == (200, "<p>x=1</p>")
        assert get(health.port, "/boom") == (500, "error: no database\n")
        assert get(health.port, "/healthz") == (200, "ok\n")


def test_metrics_page_shows_the_process_instruments_by_default() -> None:
    from recaudo.observability import telemetry
    from recaudo.observability.instruments import EventCounts
    from recaudo.settings import Settings

    telemetry.setup(Settings())
    counts = EventCounts("recaudo.health-test")
    counts("recaudo.debt-events", 0, 0)
    with HealthServer(0, lambda: True, host="127.0.0.1") as health:
        status, body = get(health.port, "/metrics")
    assert status == 200
    assert (
        'recaudo_events_processed_total{group="recaudo.health-test",'
        'topic="recaudo.debt-events"} 1.0'
    ) in body.splitlines()


def test_a_port_in_use_is_named_with_what_to_do() -> None:
    with HealthServer(0, lambda: True, host="127.0.0.1") as first:
        with pytest.raises(PortInUseError, match=f"port {first.port} .* in use .* 0 for any"):
            HealthServer(first.port, lambda: True, host="127.0.0.1")
        with pytest.raises(click.ClickException, match="--health-port: port"):
            _run_with_health(lambda: None, first.port, lambda: True, dict)
