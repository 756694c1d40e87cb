"""What an agent does on a task, as records: a reply (the task's record
carrying it, for the view worker to send through the policy engine), an
outcome (the same debt events and channel responses a conversation makes),
a close (the task's CLOSED record). Pure: no Kafka, no clock.

Every id is derived from the task and the form the agent submitted (a random
``form_id`` the page carries): a form submitted twice makes the same records,
which the view and the sinks then apply once."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final, Literal, get_args

from recaudo.contracts.money import MINOR_UNITS
from recaudo.contracts.records import (
    AccountView,
    AgentReply,
    AgentTask,
    Channel,
    ChannelResponse,
    ConversationTurn,
    DebtEvent,
    DebtorView,
    PlanFrequency,
)
from recaudo.conversation.dialogue import WRONG_PARTY

SOURCE: Final = "recaudo.desk"
DESK_NAMESPACE: Final = uuid.UUID("0c6f4a3e-27d1-4b8e-9f5a-d3e1b7c20a94")
MAX_REPLY_CHARS: Final = 1600
MAX_NOTE_CHARS: Final = 500
_FORM_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

OutcomeKind = Literal["promise", "plan", "dispute", "wrong_party", "call_back"]
OUTCOME_KINDS: Final[tuple[OutcomeKind, ...]] = get_args(OutcomeKind)
PLAN_FREQUENCIES: Final[tuple[PlanFrequency, ...]] = get_args(PlanFrequency)


class DeskError(ValueError):
    """An action that cannot be taken as asked; the message says what to change."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the agent settled with the debtor (the fields its kind needs)."""

    kind: OutcomeKind
    amount_minor: int | None = None
    currency: str | None = None
    due: date | None = None
    instalments: int | None = None
    frequency: PlanFrequency | None = None
    reason: str | None = None
    call_back_at: datetime | None = None

    def describe(self) -> str:
        """In words, for the task's outcome and the audit."""
        if self.kind == "promise":
            return f"promise {self.amount_minor} {self.currency} by {self.due}"
        if self.kind == "plan":
            return (
                f"plan {self.instalments} x {self.frequency} {self.currency}, "
                f"total {self.amount_minor}, first {self.due}"
            )
        if self.kind == "dispute":
            return f"dispute: {self.reason}"
        if self.kind == "call_back":
            return f"call back at {self.call_back_at}"
        return "wrong party"


def desk_id(task_id: str, form_id: str, what: str) -> uuid.UUID:
    """The id of what one submitted form makes."""
    return uuid.uuid5(DESK_NAMESPACE, f"{task_id}/{form_id}/{what}")


def check_form_id(form_id: str | None) -> str:
    if form_id is None or not _FORM_ID.match(form_id):
        raise DeskError("the form has no valid form_id: reload the task page and submit again")
    return form_id


def _last_channel(task: AgentTask) -> Channel | None:
    return next((t.channel for t in reversed(task.transcript) if t.direction == "INBOUND"), None)


def reply_channel(task: AgentTask) -> Channel:
    """The channel the debtor last wrote from: a reply goes out on it."""
    channel = _last_channel(task)
    if channel is None:
        raise DeskError("the debtor has written nothing on this task to reply to")
    return channel


def reply(task: AgentTask, agent: str, text: str, form_id: str, now: datetime) -> AgentTask:
    """The task's record carrying the agent's reply, the reply added to its transcript."""
    if task.status != "OPEN":
        raise DeskError("the task is closed: a reply goes on an open task")
    text = text.strip()
    if not text:
        raise DeskError("the reply is empty: write what to send")
    if len(text) > MAX_REPLY_CHARS:
        raise DeskError(f"the reply has {len(text)} characters; at most {MAX_REPLY_CHARS}")
    channel = reply_channel(task)
    reply_id = desk_id(task.task_id, check_form_id(form_id), "reply")
    answer = AgentReply(reply_id=reply_id, channel=channel, text=text, agent=agent, at=now)
    turn = ConversationTurn(direction="OUTBOUND", channel=channel, text=text, at=now)
    return task.model_copy(
        update={
            "event_id": reply_id,
            "occurred_at": now,
            "source": SOURCE,
            "transcript": [*task.transcript, turn],
            "agent_reply": answer,
        }
    )


def close(task: AgentTask, agent: str, note: str, form_id: str, now: datetime) -> AgentTask:
    """The task's CLOSED record: automatic answers to the debtor resume."""
    if task.status != "OPEN":
        raise DeskError("the task is closed already")
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise DeskError(f"the note has {len(note)} characters; at most {MAX_NOTE_CHARS}")
    return task.model_copy(
        update={
            "event_id": desk_id(task.task_id, check_form_id(form_id), "close"),
            "occurred_at": now,
            "source": SOURCE,
            "status": "CLOSED",
            "closed_at": now,
            "closed_by": agent,
            "outcome": note or None,
            "agent_reply": None,
        }
    )


def account_of(task: AgentTask, view: DebtorView | None) -> AccountView:
    """The account an outcome is about: the task's, else the debtor's only
    open account with something overdue."""
    accounts = view.accounts if view is not None else []
    if task.account_id is not None:
        found = next((a for a in accounts if a.account_id == task.account_id), None)
        if found is not None:
            return found
        raise DeskError(f"account {task.account_id} is not in the debtor's view yet: retry soon")
    overdue = [a for a in accounts if a.status == "OPEN" and a.overdue_minor > 0]
    if len(overdue) != 1:
        raise DeskError(
            "the task names no account and the debtor has "
            f"{len(overdue)} overdue accounts: record this outcome in the bank's own system"
        )
    return overdue[0]


def parse_amount(text: str, currency: str) -> int:
    """``"150000.50"`` in ``currency`` as minor units."""
    exponent = MINOR_UNITS[currency]
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise DeskError(f"amount {text!r} is not a number (e.g. 150000.00)") from None
    minor = value.scaleb(exponent)
    if not value.is_finite() or minor != minor.to_integral_value() or minor <= 0:
        raise DeskError(
            f"amount {text!r} must be above 0 with at most {exponent} decimals in {currency}"
        )
    return int(minor)


def _date(text: str | None, what: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise DeskError(f"{what} {text!r} is not a date (YYYY-MM-DD)") from None


def parse_outcome(form: dict[str, str], currency: str, today: date) -> Outcome:
    """The outcome a submitted form describes; DeskError naming the field to fix."""
    kind = form.get("kind", "")
    if kind not in OUTCOME_KINDS:
        raise DeskError(f"outcome {kind!r} is not one of {', '.join(OUTCOME_KINDS)}")
    if kind == "promise":
        due = _date(form.get("due"), "promise date")
        if due < today:
            raise DeskError(f"promise date {due} is past: choose today or later")
        amount = parse_amount(form.get("amount", ""), currency)
        return Outcome("promise", amount_minor=amount, currency=currency, due=due)
    if kind == "plan":
        due = _date(form.get("due"), "first instalment date")
        if due < today:
            raise DeskError(f"first instalment date {due} is past: choose today or later")
        try:
            instalments = int(form.get("instalments", ""))
        except ValueError:
            raise DeskError("instalments must be a whole number from 1 to 120") from None
        if not 1 <= instalments <= 120:
            raise DeskError("instalments must be a whole number from 1 to 120")
        frequency = form.get("frequency", "")
        if frequency not in PLAN_FREQUENCIES:
            raise DeskError(f"frequency must be one of {', '.join(PLAN_FREQUENCIES)}")
        total = parse_amount(form.get("amount", ""), currency)
        return Outcome(
            "plan",
            amount_minor=total,
            currency=currency,
            due=due,
            instalments=instalments,
            frequency=frequency,
        )
    if kind == "dispute":
        reason = (form.get("reason") or "").strip()
        if not reason or len(reason) > 256:
            raise DeskError("a dispute needs a reason (up to 256 characters)")
        return Outcome("dispute", reason=reason)
    if kind == "call_back":
        try:
            at = datetime.fromisoformat((form.get("at") or "").strip())
        except ValueError:
            raise DeskError("call back at must be a date and time (YYYY-MM-DDTHH:MM)") from None
        return Outcome("call_back", call_back_at=at)
    return Outcome("wrong_party")


def outcome_records(
    task: AgentTask,
    view: DebtorView | None,
    outcome: Outcome,
    form_id: str,
    now: datetime,
) -> list[DebtEvent | ChannelResponse]:
    """The events an outcome makes (a call back makes none: it is audited and
    the task stays open)."""
    check_form_id(form_id)

    def event_id(n: int) -> uuid.UUID:
        return desk_id(task.task_id, form_id, f"outcome/{n}")

    if outcome.kind == "call_back":
        return []
    if outcome.kind == "wrong_party":
        channel = reply_channel(task)
        return [
            ChannelResponse(
                event_id=event_id(0),
                occurred_at=now,
                source=SOURCE,
                debtor_id=task.debtor_id,
                channel=channel,
                status="BOUNCED" if channel == "email" else "FAILED",
                provider=SOURCE,
                error_code=WRONG_PARTY,
                error_message="the person who answered is not the debtor",
            )
        ]
    account = account_of(task, view)
    ref = desk_id(task.task_id, form_id, "ref").hex[:20]
    payload: dict[str, object]
    if outcome.kind == "promise":
        kind = "PROMISE_TO_PAY"
        payload = {
            "promise_id": f"desk-{ref}",
            "amount_minor": outcome.amount_minor,
            "currency": account.currency,
            "promised_date": outcome.due,
            "channel": _last_channel(task),
        }
    elif outcome.kind == "plan":
        total, count = outcome.amount_minor or 0, outcome.instalments or 1
        instalment = -(-total // count)  # rounded up: the last instalment is what remains
        if (count - 1) * instalment >= total:
            raise DeskError(
                f"{total} minor units cannot be paid in {count} instalments of something each: "
                "choose fewer instalments"
            )
        kind = "PAYMENT_PLAN_AGREED"
        payload = {
            "plan_id": f"desk-{ref}",
            "instalment_count": count,
            "instalment_minor": instalment,
            "currency": account.currency,
            "first_due_date": outcome.due,
            "frequency": outcome.frequency,
            "total_minor": total,
            "channel": _last_channel(task),
        }
    else:
        kind = "DISPUTE_OPENED"
        payload = {"dispute_id": f"desk-{ref}", "reason": outcome.reason}
    return [
        DebtEvent(
            event_id=event_id(0),
            occurred_at=now,
            source=SOURCE,
            debtor_id=task.debtor_id,
            account_id=account.account_id,
            type=kind,
            payload=payload,
        )
    ]


def minutes_open(task: AgentTask, now: datetime) -> int:
    """How long the task has waited, in whole minutes."""
    return max(0, (now - task.created_at) // timedelta(minutes=1))
