"""Creating the catalogue's topics on a cluster (idempotent, explicit configs)."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from recaudo.kafka.topics import Topics
from recaudo.settings import Settings


class TopicAdminError(RuntimeError):
    pass


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Create every catalogue topic that does not exist yet; returns those created.

    Configs are always passed explicitly: some brokers (Tansu) do not describe
    defaults back, and quixstreams refuses a topic whose retention it cannot read.
    """
    topics = Topics.from_settings(settings)
    admin = AdminClient(settings.kafka_config())
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [t for t in topics if t.name not in existing]
    if not wanted:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                t.name,
                num_partitions=t.partitions,
                replication_factor=t.replication_factor,
                config=t.config,
            )
            for t in wanted
        ],
        operation_timeout=timeout_s,
        request_timeout=timeout_s,
    )
    created: list[str] = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            err = exc.args[0]
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue  # another process won the race: same outcome
            raise TopicAdminError(f"could not create topic {name}: {err}") from exc
    return sorted(created)
