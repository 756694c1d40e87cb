"""OpenTelemetry instruments rendered for Prometheus, and the counts behind them."""

from __future__ import annotations

import json
from collections.abc import Callable

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from recaudo.contracts.records import ContactDecision, RuleHit
from recaudo.observability import prometheus
from recaudo.observability.instruments import ConsumerLag, DecisionCounts, EventCounts
from tests.fixtures import T0


def page(build: Callable[[Meter], None]) -> str:
    reader = InMemoryMetricReader()
    build(MeterProvider(metric_readers=[reader]).get_meter("test"))
    return prometheus.render(reader.get_metrics_data())


def test_counters_gauges_and_histograms_in_the_text_format() -> None:
    def build(meter: Meter) -> None:
        meter.create_counter("recaudo.things", unit="{thing}", description="Things.").add(
            3, {"channel": "sms", "note": 'say "hi"\\now'}
        )

        def lag(_options: CallbackOptions) -> list[Observation]:
            return [Observation(7, {"partition": "0"})]

        meter.create_observable_gauge("recaudo.lag", callbacks=[lag])
        hist = meter.create_histogram(
            "recaudo.send.duration", unit="s", explicit_bucket_boundaries_advisory=[0.1, 1.0]
        )
        for value in (0.05, 0.5, 2.0):
            hist.record(value, {"provider": "twilio"})

    lines = page(build).splitlines()
    assert lines == [
        "# TYPE recaudo_lag gauge",
        'recaudo_lag{partition="0"} 7.0',
        "# TYPE recaudo_send_duration_seconds histogram",
        'recaudo_send_duration_seconds_bucket{provider="twilio",le="0.1"} 1',
        'recaudo_send_duration_seconds_bucket{provider="twilio",le="1.0"} 2',
        'recaudo_send_duration_seconds_bucket{provider="twilio",le="+Inf"} 3',
        'recaudo_send_duration_seconds_sum{provider="twilio"} 2.55',
        'recaudo_send_duration_seconds_count{provider="twilio"} 3',
        "# HELP recaudo_things_total Things.",
        "# TYPE recaudo_things_total counter",
        'recaudo_things_total{channel="sms",note="say \\"hi\\"\\\\now"} 3.0',
    ]


def test_nothing_recorded_renders_nothing() -> None:
    assert prometheus.render(None) == ""
    assert page(lambda meter: None) == ""


def test_consumer_lag_from_librdkafka_statistics() -> None:
    lag = ConsumerLag("g")
    stats = {
        "topics": {
            "recaudo.dispatch.sms": {
                "partitions": {
                    "0": {"consumer_lag": 12, "fetch_state": "active"},
                    "1": {"consumer_lag": -1, "fetch_state": "active"},  # not known yet
                    "2": {"consumer_lag": 5, "fetch_state": "none"},  # not ours
                    "-1": {"consumer_lag": 3, "fetch_state": "active"},  # pseudo-partition
                }
            },
            "recaudo.channel-responses": {"partitions": {"3": {"consumer_lag": 0}}},
        }
    }
    lag.on_stats(json.dumps(stats))
    assert [(o.value, dict(o.attributes or {})) for o in lag.observations()] == [
        (12, {"group": "g", "topic": "recaudo.dispatch.sms", "partition": "0"}),
    ]
    lag.on_stats("not json")  # a bad report keeps the last good one
    assert len(list(lag.observations())) == 1
    assert lag.config()["stats_cb"] == lag.on_stats


def decision(outcome: str, *reasons: str) -> ContactDecision:
    return ContactDecision(
        occurred_at=T0,
        source="test",
        debtor_id="D-1",
        trigger="payment_missed",
        step=0,
        outcome=outcome,  # type: ignore[arg-type]
        rules_fired=[RuleHit(rule_id=f"rule.{r.lower()}", reason_code=r) for r in reasons],
    )


def test_decisions_count_by_outcome_and_each_reason() -> None:
    counts = DecisionCounts()
    counts.add(decision("DISPATCHED"))
    counts.add(decision("SUPPRESSED", "OPTED_OUT", "QUIET_HOURS", "OPTED_OUT"))
    counts.add(decision("SUPPRESSED", "OPTED_OUT"))
    assert counts.counts == {
        ("DISPATCHED", "NONE"): 1,
        ("SUPPRESSED", "OPTED_OUT"): 2,
        ("SUPPRESSED", "QUIET_HOURS"): 1,
    }
    assert {(o.attributes or {})["reason"]: o.value for o in counts.observations()} == {
        "NONE": 1,
        "OPTED_OUT": 2,
        "QUIET_HOURS": 1,
    }


def test_events_count_per_topic_as_quixstreams_reports_them() -> None:
    events = EventCounts("recaudo.view")
    for offset in range(3):
        events("recaudo.debt-events", 0, offset)
    events.add("recaudo.channel-responses", 2)
    assert {(o.attributes or {})["topic"]: o.value for o in events.observations()} == {
        "recaudo.debt-events": 3,
        "recaudo.channel-responses": 2,
    }
