from __future__ import annotations

import urllib.error
import urllib.request

from recaudo.health import HealthServer


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_probes_and_metrics() -> None:
    state = {"ready": False}
    metrics = {'recaudo_connector_sent_total{channel="sms"}': 3.0}
    with HealthServer(0, lambda: state["ready"], lambda: metrics, host="127.0.0.1") as health:
        assert get(health.port, "/healthz") == (200, "ok\n")
        assert get(health.port, "/readyz")[0] == 503
        state["ready"] = True
        assert get(health.port, "/readyz") == (200, "ready\n")
        assert get(health.port, "/metrics") == (
            200,
            'recaudo_connector_sent_total{channel="sms"} 3.0\n',
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
