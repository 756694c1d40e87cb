"""librdkafka's local error codes, named once.

confluent-kafka exposes librdkafka's client-side codes (those that never come
from a broker) as ``KafkaError`` attributes with a leading underscore; they
are documented API, and this module is the one place that spells them.
"""

from __future__ import annotations

from typing import Final

from confluent_kafka import KafkaError

#: the consumer reached the end of a partition (with ``enable.partition.eof``)
PARTITION_EOF: Final[int] = KafkaError._PARTITION_EOF
#: the consumer lost its assignment (a session timeout, a fenced member)
ASSIGNMENT_LOST: Final[int] = KafkaError._ASSIGNMENT_LOST
#: the operation is not valid in the client's current state
STATE: Final[int] = KafkaError._STATE
#: a commit found no stored offset to commit
NO_OFFSET: Final[int] = KafkaError._NO_OFFSET
