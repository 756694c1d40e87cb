"""Kafka plumbing: topic catalogue, serde, producer, dead letters, the shared consume loop."""
