"""Health probes, metrics and traces."""
