"""Provider callbacks, read into what recaudo records: pure functions, no I/O.

A callback is either a *status* of a message recaudo sent (named by the
provider's message id, and often by the dispatch id recaudo attached to it) or
an *inbound* message from a debtor (named by the sender's address, sometimes by
the message it replies to). Statuses that add nothing to what the connector
already reported (queued, ringing...) are dropped here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from connectors.providers.meta_whatsapp import parse_callback_data
from recaudo.contracts.records import Channel, ResponseStatus

#: A whole message that is one of these (any case, punctuation around it
#: ignored) is an opt-out. Whole-message only: "quiero cancelar la deuda" is a
#: wish to pay, not to stop.
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "BAJA", "PARAR", "SAIR", "END", "QUIT", "CANCEL"}
)

_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def is_opt_out(text: str | None) -> bool:
    return bool(text) and _EDGES.sub("", text or "").upper() in OPT_OUT_KEYWORDS


@dataclass(frozen=True, slots=True)
class Observation:
    provider: Literal["twilio", "meta", "mailgun"]
    kind: Literal["status", "inbound"]
    channel: Channel
    status: ResponseStatus
    #: Status: the id of the message recaudo sent. Inbound: the inbound message's id.
    message_id: str
    occurred_at: datetime
    #: Set when the callback itself names the dispatch (and debtor).
    dispatch_id: str | None = None
    debtor_id: str | None = None
    #: Inbound: the sent message it replies to, if the provider says.
    context_id: str | None = None
    #: Inbound: who wrote (used to find the debtor; never logged).
    sender: str | None = None
    text: str | None = None
    error_code: str | None = None


def delivery_key(obs: Observation) -> str:
    """What makes a callback the same callback when it comes again: the
    provider's message id with the status it reports (Twilio's MessageSid and
    MessageStatus, Meta's message id and status)."""
    return f"{obs.provider}:{obs.kind}:{obs.message_id}:{obs.status}"


# --- Twilio ------------------------------------------------------------------------------

Form = Mapping[str, Sequence[str]]

_TWILIO_MESSAGE: dict[str, ResponseStatus] = {
    "sent": "SENT",
    "delivered": "DELIVERED",
    "read": "READ",
    "undelivered": "FAILED",
    "failed": "FAILED",
    "canceled": "FAILED",
}
#: Delivery error codes that mean the number cannot receive messages.
_TWILIO_BOUNCES = frozenset({"30003", "30005", "30006", "21211", "21614"})
_TWILIO_OPTED_OUT = frozenset({"21610", "30004"})
_TWILIO_CALL: dict[str, ResponseStatus] = {
    "busy": "CALL_NO_ANSWER",
    "no-answer": "CALL_NO_ANSWER",
    "failed": "FAILED",
    "canceled": "FAILED",
}


def _one(form: Form, name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def twilio_status(form: Form, query: Form, now: datetime) -> Observation | None:
    """A message or call status callback; None if it adds nothing."""
    dispatch_id, debtor_id = _one(query, "dispatch_id"), _one(query, "debtor_id")
    error = _one(form, "ErrorCode") or None
    call_sid = _one(form, "CallSid")
    if call_sid and not _one(form, "MessageSid"):
        state = _one(form, "CallStatus") or ""
        status: ResponseStatus | None
        if state == "completed":
            answered_by = _one(form, "AnsweredBy") or "human"
            status = (
                "CALL_VOICEMAIL" if answered_by.startswith(("machine", "fax")) else "CALL_ANSWERED"
            )
        else:
            status = _TWILIO_CALL.get(state)
        if status is None:
            return None
        return Observation(
            "twilio",
            "status",
            "voice",
            status,
            call_sid,
            now,
            dispatch_id,
            debtor_id,
            error_code=error,
        )
    sid = _one(form, "MessageSid") or _one(form, "SmsSid")
    state = _one(form, "MessageStatus") or _one(form, "SmsStatus") or ""
    status = _TWILIO_MESSAGE.get(state)
    if sid is None or status is None:
        return None
    if status == "FAILED" and error in _TWILIO_BOUNCES:
        status = "BOUNCED"
    elif status == "FAILED" and error in _TWILIO_OPTED_OUT:
        status = "OPTED_OUT"
    return Observation(
        "twilio", "status", "sms", status, sid, now, dispatch_id, debtor_id, error_code=error
    )


def twilio_inbound(form: Form, now: datetime) -> Observation | None:
    """An inbound SMS: a reply, or an opt-out (a keyword, or Twilio's own
    Advanced Opt-Out flag)."""
    sid = _one(form, "MessageSid") or _one(form, "SmsSid")
    sender = _one(form, "From")
    if not sid or not sender:
        return None
    text = _one(form, "Body")
    opt_out = (_one(form, "OptOutType") or "").upper() == "STOP" or is_opt_out(text)
    return Observation(
        "twilio",
        "inbound",
        "sms",
        "OPTED_OUT" if opt_out else "REPLIED",
        sid,
        now,
        sender=sender,
        text=text,
    )


# --- Meta WhatsApp -------------------------------------------------------------------------

_META_STATUS: dict[str, ResponseStatus] = {
    "sent": "SENT",
    "delivered": "DELIVERED",
    "read": "READ",
    "failed": "FAILED",
}
_META_BOUNCES = frozenset({"131026"})
#: The user stopped marketing messages from this business.
_META_OPTED_OUT = frozenset({"131050"})


def _when(timestamp: Any, now: datetime) -> datetime:
    try:
        return datetime.fromtimestamp(int(timestamp), UTC)
    except (TypeError, ValueError, OverflowError):
        return now


def _meta_text(message: Mapping[str, Any]) -> str | None:
    kind = message.get("type")
    if kind == "text":
        return str(message.get("text", {}).get("body", "")) or None
    if kind == "button":
        return str(message.get("button", {}).get("text", "")) or None
    if kind == "interactive":
        interactive = message.get("interactive", {})
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        return str(reply.get("title", "")) or None
    return None


def meta_events(payload: Mapping[str, Any], now: datetime) -> Iterator[Observation]:
    """Every status and inbound message in one WhatsApp webhook delivery (Meta
    batches several, across entries and changes)."""
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            for item in value.get("statuses") or []:
                status = _META_STATUS.get(item.get("status", ""))
                if status is None or not item.get("id"):
                    continue
                errors = item.get("errors") or [{}]
                code = str(errors[0].get("code", "")) or None
                if status == "FAILED" and code in _META_BOUNCES:
                    status = "BOUNCED"
                elif status == "FAILED" and code in _META_OPTED_OUT:
                    status = "OPTED_OUT"
                dispatch_id, debtor_id = parse_callback_data(item.get("biz_opaque_callback_data"))
                yield Observation(
                    "meta",
                    "status",
                    "whatsapp",
                    status,
                    str(item["id"]),
                    _when(item.get("timestamp"), now),
                    dispatch_id=dispatch_id,
                    debtor_id=debtor_id,
                    error_code=code,
                )
            for message in value.get("messages") or []:
                if not message.get("id") or not message.get("from"):
                    continue
                text = _meta_text(message)
                yield Observation(
                    "meta",
                    "inbound",
                    "whatsapp",
                    "OPTED_OUT" if is_opt_out(text) else "REPLIED",
                    str(message["id"]),
                    _when(message.get("timestamp"), now),
                    context_id=(message.get("context") or {}).get("id"),
                    sender="+" + str(message["from"]).lstrip("+"),
                    text=text,
                )
