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
