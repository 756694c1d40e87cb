"""Deprecated: moved to :mod:`recaudo.contracts.records`; import from ``recaudo`` or there."""

import warnings

from recaudo.contracts.records import *  # noqa: F403

warnings.warn(
    "recaudo.events is deprecated and will be removed in the next release: "
    "import from recaudo or recaudo.contracts.records",
    DeprecationWarning,
    stacklevel=2,
)
