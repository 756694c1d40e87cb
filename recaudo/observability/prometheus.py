"""OpenTelemetry metrics in the Prometheus text exposition format (0.0.4).

Every service already answers ``/metrics``; this renders what the process's
OpenTelemetry instruments hold so the same figures reach Prometheus by a scrape
and an OTLP collector by export, without a second metrics library. Names
follow the OpenTelemetry-to-Prometheus convention: dots become underscores, a
unit of seconds or bytes becomes a suffix, monotonic sums end in ``_total``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    Sum,
)
from opentelemetry.util.types import AttributeValue

_INVALID = re.compile(r"[^a-zA-Z0-9_:]")
_UNIT_SUFFIX = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}


def metric_name(name: str, unit: str = "") -> str:
    base = _INVALID.sub("_", name)
    suffix = _UNIT_SUFFIX.get(unit)
    if suffix and not base.endswith(f"_{suffix}"):
        base = f"{base}_{suffix}"
    return base


def _label_value(value: AttributeValue) -> str:
    text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(attributes: Mapping[str, AttributeValue] | None, **extra: str) -> str:
    pairs = [(_INVALID.sub("_", k), _label_value(v)) for k, v in sorted((attributes or {}).items())]
    pairs += sorted(extra.items())
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


@dataclass
class _Family:
    name: str
    kind: str
    help: str
    lines: list[str] = field(default_factory=list)


def _family(metric: Metric) -> _Family | None:
    data = metric.data
    base = metric_name(metric.name, metric.unit or "")
    help_text = metric.description or ""
    if isinstance(data, Sum | Gauge):
        # A monotonic sum is a Prometheus counter; anything else that goes up
        # and down is a gauge.
        monotonic = isinstance(data, Sum) and data.is_monotonic
        name = f"{base}_total" if monotonic and not base.endswith("_total") else base
        family = _Family(name, "counter" if monotonic else "gauge", help_text)
        for point in data.data_points:
            assert isinstance(point, NumberDataPoint)
            family.lines.append(f"{name}{_labels(point.attributes)} {_number(point.value)}")
        return family
    if isinstance(data, Histogram):
        family = _Family(base, "histogram", help_text)
        for hist in data.data_points:
            assert isinstance(hist, HistogramDataPoint)
            cumulative = 0
            bounds = [*hist.explicit_bounds, math.inf]
            for bound, count in zip(bounds, hist.bucket_counts, strict=True):
                cumulative += count
                labels = _labels(hist.attributes, le=_number(bound))
                family.lines.append(f"{base}_bucket{labels} {cumulative}")
            labels = _labels(hist.attributes)
            family.lines.append(f"{base}_sum{labels} {_number(hist.sum)}")
            family.lines.append(f"{base}_count{labels} {hist.count}")
        return family
    return None  # exponential histograms: none of recaudo's instruments


def _metrics(data: MetricsData | None) -> Iterable[Metric]:
    if data is None:
        return
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            yield from scope.metrics


def render(data: MetricsData | None) -> str:
    """The text page for ``data``, families by name (empty when there is nothing to show)."""
    families = [f for f in map(_family, _metrics(data)) if f is not None and f.lines]
    out: list[str] = []
    for family in sorted(families, key=lambda f: f.name):
        if family.help:
            out.append(f"# HELP {family.name} {family.help.replace(chr(10), ' ')}")
        out.append(f"# TYPE {family.name} {family.kind}")
        out.extend(family.lines)
    return "\n".join(out) + "\n" if out else ""
