from __future__ import annotations

import pytest

from recaudo.contracts.records import CHANNELS
from recaudo.contracts.schemas import SCHEMA_FILES
from recaudo.kafka.topics import CATALOGUE, Topics


def test_names_are_prefixed_and_unique() -> None:
    topics = Topics("bank1", partitions=12)
    names = [t.name for t in topics]
    assert len(names) == len(set(names))
    assert all(n.startswith("bank1.") for n in names)
    assert topics.debt_events == "bank1.debt-events"
    assert {topics.dispatch(c) for c in CHANNELS} == {f"bank1.dispatch.{c}" for c in CHANNELS}


def test_debtor_view_is_compacted_and_others_delete() -> None:
    topics = Topics()
    assert topics.get("debtor-view").config["cleanup.policy"] == "compact"
    assert topics.get("debt-events").config["cleanup.policy"] == "delete"


def test_every_topic_has_explicit_retention_and_a_known_record() -> None:
    for topic in Topics():
        assert set(topic.config) >= {"cleanup.policy", "retention.ms"}
        assert topic.spec.record is None or topic.spec.record in SCHEMA_FILES


def test_only_the_debtor_states_topic_is_internal() -> None:
    # Every other topic is a contract in schemas/; the states are recaudo's own bytes.
    topics = Topics()
    assert [t.name for t in topics if t not in topics.avro()] == ["recaudo.debtor-states"]
    assert topics.get("debtor-states").config["cleanup.policy"] == "compact"


def test_keyed_topics_share_partition_count() -> None:
    # One debtor, one partition: co-partitioned topics must agree.
    assert {t.partitions for t in Topics(partitions=9)} == {9}
    assert all(spec.partitions is None for spec in CATALOGUE)


def test_unknown_topic_error_lists_known_ones() -> None:
    with pytest.raises(KeyError, match="debt-events"):
        Topics().get("debts")
