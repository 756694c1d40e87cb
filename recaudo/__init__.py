"""recaudo: Kafka-native contact pipeline for debt collection."""

import importlib
import warnings
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recaudo.contracts.records import ChannelResponse, DebtEvent, DebtorProfile
    from recaudo.kafka.producer import RecaudoProducer
    from recaudo.settings import Settings

try:
    __version__ = version("recaudo")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"


def _ignore_authlib_httpx_warning() -> None:
    """confluent-kafka's schema-registry client imports authlib (for OAuth to a
    registry), whose httpx integration warns at import that httpx is deprecated
    and forces that warning on: nothing anyone running recaudo can act on.

    Ignored here, before any recaudo module imports the registry client; its
    own import of ``authlib.deprecate`` comes first because that module puts
    an "always" filter in front of the ones before it.
    """
    try:
        from authlib.deprecate import AuthlibDeprecationWarning
    except ImportError:
        return
    warnings.filterwarnings(
        "ignore", category=AuthlibDeprecationWarning, module=r"authlib\.integrations\.httpx_client"
    )


_ignore_authlib_httpx_warning()

#: What a bank's or CRM's code imports, by the module that defines it: the
#: stable home of these names is ``recaudo`` itself (``from recaudo import
#: DebtEvent``), whatever module they move to.
_PUBLIC = {
    "ChannelResponse": "recaudo.contracts.records",
    "DebtEvent": "recaudo.contracts.records",
    "DebtorProfile": "recaudo.contracts.records",
    "RecaudoProducer": "recaudo.kafka.producer",
    "Settings": "recaudo.settings",
}


def __getattr__(name: str) -> Any:
    # Loaded on first use, so ``import recaudo`` (every command's first
    # import) stays light.
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'recaudo' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "ChannelResponse",
    "DebtEvent",
    "DebtorProfile",
    "RecaudoProducer",
    "Settings",
    "__version__",
]
