"""Commands run in another terminal find the services `recaudo up` started."""

from __future__ import annotations

from pydantic import SecretStr

from recaudo.embedded.state import live_record
from recaudo.settings import Settings


def attach(settings: Settings) -> Settings:
    """``settings`` pointed at the running embedded runtime, if there is one."""
    record = live_record(settings.state_dir)
    if record is None or record.phase != "ready":
        return settings
    update: dict[str, object] = {
        "kafka_bootstrap_servers": record.bootstrap_servers,
        "embedded_broker": record.embedded_broker,
    }
    if settings.database_url is None and record.database_url:
        update["database_url"] = SecretStr(record.database_url)
    return settings.model_copy(update=update)
