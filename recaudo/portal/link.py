"""The personal link a message carries: minted when the message is rendered,
the same for the same dispatch (so a redelivery renders the same message)."""

from __future__ import annotations

from dataclasses import dataclass

from recaudo.portal.token import Keys, PortalToken, mint, portal_key
from recaudo.settings import Settings


@dataclass(frozen=True, slots=True)
class PortalLinks:
    base_url: str
    keys: Keys
    ttl_ms: int

    def __call__(
        self, debtor_id: str, dispatch_id: str, channel: str, account_id: str | None, now_ms: int
    ) -> str:
        """The link of one dispatch, working until ``now_ms`` plus the link's lifetime."""
        token = PortalToken(
            debtor_id=debtor_id,
            dispatch_id=dispatch_id,
            channel=channel,
            purpose="open",
            expires_at=now_ms + self.ttl_ms,
            account_id=account_id or "",
        )
        return f"{self.base_url.rstrip('/')}/p/{mint(token, self.keys)}"


def portal_links(settings: Settings) -> PortalLinks | None:
    """The links the settings describe; None when no portal is configured."""
    if settings.portal_base_url is None:
        return None
    return PortalLinks(
        settings.portal_base_url,
        Keys.derive(portal_key(settings)),
        int(settings.portal_link_ttl_s * 1000),
    )
