"""SMS and voice through Twilio's REST API.

Messages: ``POST /2010-04-01/Accounts/{sid}/Messages.json``; calls:
``.../Calls.json``. Form-encoded, HTTP basic auth (account SID, auth token).
The dispatch id goes in ``I-Twilio-Idempotency-Token`` and, when the webhook
service's public URL is configured, in the per-message ``StatusCallback`` URL
so delivery receipts come back already naming their dispatch. Twilio
documents that header only on the webhooks it sends, not as a key its REST
API de-duplicates on, so ``deduplicates`` is False: what keeps a message from
going out twice is the connector's sent-ledger, and a call whose outcome is
unknown (a timeout or a dropped connection after the request was written, a
5xx) is reported, not repeated.

Errors arrive as ``{"code", "message", "more_info", "status"}``: 429 (and
Twilio's rate-limit codes 20429, 14107: the request was rejected) is retried,
Retry-After honoured; 5xx is transient with an unknown outcome; an invalid or
unreachable number is a bounce; any other 4xx is permanent.
"""

from __future__ import annotations

from urllib.parse import urlencode
from xml.sax.saxutils import escape

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

#: The recipient's number is invalid, not a mobile, or not reachable by voice:
#: the address itself is bad (the view marks it invalid).
BOUNCE_CODES = frozenset({21211, 21214, 21217, 21401, 21407, 21614})
#: Twilio's own "too many requests" code, sometimes sent with a 400.
RATE_LIMIT_CODES = frozenset({20429, 14107})

#: Twilio's voices by language, for the spoken message of a call.
VOICE_LANGUAGE = {"es": "es-MX", "en": "en-US", "pt": "pt-BR"}


class TwilioProvider(ClosesAsync):
    """``channel`` is ``sms`` or ``voice``."""

    def __init__(self, settings: Settings, channel: Channel) -> None:
        if channel not in ("sms", "voice"):
            raise ValueError(f"twilio sends sms and voice, not {channel}")
        if not settings.twilio_account_sid or settings.twilio_auth_token is None:
            raise ValueError(
                "twilio needs RECAUDO_TWILIO_ACCOUNT_SID and RECAUDO_TWILIO_AUTH_TOKEN"
            )
        if not settings.twilio_from_number and not (
            channel == "sms" and settings.twilio_messaging_service_sid
        ):
            raise ValueError(
                "twilio needs RECAUDO_TWILIO_FROM_NUMBER "
                "(or, for sms, RECAUDO_TWILIO_MESSAGING_SERVICE_SID)"
            )
        self.name = "twilio"
        self.channel: Channel = channel
        self._settings = settings
        self.max_calls = settings.provider_max_connections
        self.deduplicates = False
        sid = settings.twilio_account_sid
        self._path = (
            f"/2010-04-01/Accounts/{sid}/{'Calls' if channel == 'voice' else 'Messages'}.json"
        )
        self._client = http.client(
            settings,
            settings.twilio_base_url,
            auth=(sid, settings.twilio_auth_token.get_secret_value()),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def form(self, msg: OutboundMessage) -> dict[str, str]:
        """The request's form fields."""
        s = self._settings
        form = {"To": msg.address}
        if s.twilio_from_number:
            form["From"] = s.twilio_from_number
        if self.channel == "sms":
            if s.twilio_messaging_service_sid:
                form["MessagingServiceSid"] = s.twilio_messaging_service_sid
            form["Body"] = msg.body
        else:
            voice = VOICE_LANGUAGE.get(msg.locale[:2], "es-MX")
            form["Twiml"] = f'<Response><Say language="{voice}">{escape(msg.body)}</Say></Response>'
            # Reports human / machine in the status callback: answered,
            # voicemail or no answer.
            form["MachineDetection"] = "Enable"
        if s.webhooks_public_url:
            query = urlencode({"dispatch_id": msg.dispatch_id, "debtor_id": msg.debtor_id})
            form["StatusCallback"] = f"{s.webhooks_public_url.rstrip('/')}/twilio/status?{query}"
        return form

    async def send(self, msg: OutboundMessage) -> SendResult:
        response = await http.post(
            self._client,
            self._path,
            data=self.form(msg),
            headers={"I-Twilio-Idempotency-Token": msg.dispatch_id},
        )
        if response.status_code in (200, 201):
            body = response.json()
            return SendResult(status="ACCEPTED", provider_message_id=str(body["sid"]))
        raise _error(response, msg.address)


def _error(
    response: httpx.Response, address: str
) -> TransientProviderError | PermanentProviderError:
    try:
        body = response.json()
        code = int(body.get("code") or 0)
        text = redact(str(body.get("message") or response.reason_phrase), address)
    except (ValueError, TypeError, AttributeError):
        code, text = 0, response.reason_phrase
    label = str(code) if code else f"HTTP_{response.status_code}"
    message = f"twilio {response.status_code} {label}: {text}"
    if code in RATE_LIMIT_CODES:
        return TransientProviderError(message, label, http.retry_after(response), sent=False)
    if http.is_transient_status(response.status_code):
        return http.transient_answer(response, message, label)
    return PermanentProviderError(message, label, bounced=code in BOUNCE_CODES)
