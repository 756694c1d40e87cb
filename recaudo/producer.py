"""Deprecated: moved to :mod:`recaudo.kafka.producer`; import from ``recaudo`` or there."""

import warnings

from recaudo.kafka.producer import *  # noqa: F403

warnings.warn(
    "recaudo.producer is deprecated and will be removed in the next release: "
    "import from recaudo or recaudo.kafka.producer",
    DeprecationWarning,
    stacklevel=2,
)
