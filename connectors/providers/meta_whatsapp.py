"""WhatsApp through Meta's Cloud API.

``POST /{version}/{phone_number_id}/messages`` with a JSON body and a Bearer
token; the answer names the message: ``{"messaging_product": "whatsapp",
"contacts": [...], "messages": [{"id": "wamid..."}]}``.

A command with a body is sent as a text message (inside the 24-hour customer
service window); one without is sent as the approved template it names, its
variables filling the template's body parameters in name order. The dispatch
and debtor ids ride in ``biz_opaque_callback_data``, which Meta returns in every status
webhook of that message.

Errors use the Graph format ``{"error": {"message", "type", "code",
"error_subcode", "fbtrace_id"}}``. The Cloud API takes no idempotency key
(``deduplicates`` is False) and cannot be asked whether it has a message: the
connector's sent-ledger keeps a redelivered command from a second send, and a
call whose outcome is unknown (a timeout or a dropped connection after the
request was written, a 5xx, a platform error) is reported, not repeated. Only
its throttling errors, which Meta documents as "message failed to send", are
retried.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from connectors.providers import http
from connectors.providers.base import (
    ClosesAsync,
    OutboundMessage,
    PermanentProviderError,
    SendResult,
    TransientProviderError,
)
from connectors.providers.redact import redact
from recaudo.contracts.records import Channel
from recaudo.settings import Settings

#: Throttling: the request was refused and nothing sent (Meta's error codes
#: reference: rate limits of the app, account, phone number and pair).
THROTTLING_CODES = frozenset({4, 17, 341, 613, 80007, 130429, 131048, 131056})
#: Throttling and temporary platform errors: worth retrying. The platform
#: errors (unknown error, service unavailable) do not say whether the message
#: went out.
TRANSIENT_CODES = THROTTLING_CODES | {1, 2, 131000, 133004}
#: The number is not on WhatsApp or cannot receive messages: a bounce.
BOUNCE_CODES = frozenset({131026})


def callback_data(dispatch_id: str, debtor_id: str) -> str:
    """What Meta hands back in each status webhook of the message (512 chars at most)."""
    return json.dumps({"dispatch_id": dispatch_id, "debtor_id": debtor_id}, separators=(",", ":"))


def parse_callback_data(data: str | None) -> tuple[str | None, str | None]:
    """(dispatch_id, debtor_id) from :func:`callback_data`'s text."""
    if not data:
        return None, None
    try:
        decoded = json.loads(data)
    except ValueError:
        return None, None
    if not isinstance(decoded, dict):
        return None, None
    dispatch_id, debtor_id = decoded.get("dispatch_id"), decoded.get("debtor_id")
    return (
        dispatch_id if isinstance(dispatch_id, str) else None,
        debtor_id if isinstance(debtor_id, str) and debtor_id else None,
    )


class MetaWhatsAppProvider(ClosesAsync):
    def __init__(self, settings: Settings) -> None:
        if not settings.meta_phone_number_id or settings.meta_access_token is None:
            raise ValueError(
                "meta needs RECAUDO_META_PHONE_NUMBER_ID and RECAUDO_META_ACCESS_TOKEN"
            )
        self.name = "meta"
        self.channel: Channel = "whatsapp"
        self.max_calls = settings.provider_max_connections
        self.deduplicates = False
        self._path = f"/{settings.meta_api_version}/{settings.meta_phone_number_id}/messages"
        self._client = http.client(
            settings,
            settings.meta_base_url,
            headers={"Authorization": f"Bearer {settings.meta_access_token.get_secret_value()}"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    @staticmethod
    def payload(msg: OutboundMessage) -> dict[str, Any]:
        """The request's JSON body."""
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": msg.address.lstrip("+"),
            "biz_opaque_callback_data": callback_data(msg.dispatch_id, msg.debtor_id),
        }
        if msg.body:
            payload["type"] = "text"
            payload["text"] = {"preview_url": False, "body": msg.body}
        else:
            template: dict[str, Any] = {"name": msg.template, "language": {"code": msg.locale}}
            if msg.variables:
                parameters = [
                    {"type": "text", "text": msg.variables[k]} for k in sorted(msg.variables)
                ]
                template["components"] = [{"type": "body", "parameters": parameters}]
            payload["type"] = "template"
            payload["template"] = template
        return payload

    async def send(self, msg: OutboundMessage) -> SendResult:
        response = await http.post(self._client, self._path, json=self.payload(msg))
        if response.status_code == 200:
            messages = response.json().get("messages") or []
            if messages and messages[0].get("id"):
                return SendResult(status="ACCEPTED", provider_message_id=str(messages[0]["id"]))
            raise TransientProviderError(
                "meta answered 200 without a message id", "NO_ID", sent=True
            )
        raise _error(response, msg.address)


def _error(
    response: httpx.Response, address: str
) -> TransientProviderError | PermanentProviderError:
    try:
        error = response.json()["error"]
        code = int(error.get("code") or 0)
        text = redact(str(error.get("message") or ""), address)
        subcode = error.get("error_subcode")
    except (ValueError, TypeError, KeyError, AttributeError):
        code, text, subcode = 0, response.reason_phrase, None
    label = str(code) if code else f"HTTP_{response.status_code}"
    detail = f" ({subcode})" if subcode else ""
    message = f"meta {response.status_code} {label}{detail}: {text}"
    if code in THROTTLING_CODES:
        return TransientProviderError(message, label, http.retry_after(response), sent=False)
    if code in TRANSIENT_CODES or http.is_transient_status(response.status_code):
        return http.transient_answer(response, message, label)
    return PermanentProviderError(message, label, bounced=code in BOUNCE_CODES)
