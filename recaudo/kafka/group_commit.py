"""Committing a consumer group's offsets when the group may have moved on.

A member that stalls past ``max.poll.interval.ms`` (a slow database, a long
provider call) or misses its session is put out of its group, and its
assignment is lost: librdkafka then refuses its commit. Nothing it read is
lost by that (the partitions' next owner reads them again from the last
committed offset, and every recaudo consumer writes idempotently), so the
refusal is an outcome to log, not an error to die of."""

from __future__ import annotations

from typing import Final, Literal

from confluent_kafka import Consumer, KafkaError, KafkaException

from recaudo.kafka.librdkafka_codes import ASSIGNMENT_LOST, NO_OFFSET, STATE

CommitOutcome = Literal["committed", "nothing to commit", "not in the group"]

#: librdkafka's answers to a commit from a member whose assignment is gone.
NOT_A_MEMBER: Final = frozenset(
    {
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.FENCED_INSTANCE_ID,
        KafkaError.STALE_MEMBER_EPOCH,
        ASSIGNMENT_LOST,
        STATE,
    }
)


def commit_offsets(consumer: Consumer) -> CommitOutcome:
    """Synchronously commit what ``consumer`` has stored; any other failure
    (the broker unreachable past its timeouts, say) raises."""
    try:
        consumer.commit(asynchronous=False)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        code = error.code() if isinstance(error, KafkaError) else None
        if code == NO_OFFSET:
            return "nothing to commit"
        if code in NOT_A_MEMBER:
            return "not in the group"
        raise
    return "committed"
