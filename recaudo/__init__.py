"""recaudo: Kafka-native contact pipeline for debt collection."""

import warnings
from importlib.metadata import PackageNotFoundError, version

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

__all__ = ["__version__"]
