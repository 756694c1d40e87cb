"""Pydantic models of every contract in ``schemas/``.

The ``.avsc`` files are the source of truth; these models mirror them field for
field (``tests/unit/test_contracts.py`` proves it) and add the business rules
Avro cannot express: non-negative money, ISO-4217 currencies, valid time zones,
E.164 phones. A message that decodes but breaks one of these rules is a dead
letter, not an event.
"""

from __future__ import annotations

import difflib
import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Final, Literal, Self, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from recaudo.contracts.money import check_amount, check_currency

NAMESPACE = "recaudo.v1"

Channel = Literal["sms", "email", "whatsapp", "voice"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)
Bucket = Literal["CURRENT", "DPD_1_30", "DPD_31_60", "DPD_61_90", "DPD_90_PLUS"]
DebtEventType = Literal[
    "DEBT_OPENED",
    "INSTALMENT_DUE",
    "PAYMENT_MISSED",
    "DAYS_PAST_DUE_UPDATED",
    "PAYMENT_RECEIVED",
    "PROMISE_TO_PAY",
    "DEBT_SETTLED",
    "DEBT_WRITTEN_OFF",
    "DISPUTE_OPENED",
    "DISPUTE_RESOLVED",
    "BUCKET_CHANGED",
    "PROMISE_BROKEN",
    "DEBT_CURED",
    "PAYMENT_PLAN_AGREED",
]
DisputeOutcome = Literal["UPHELD", "REJECTED", "WITHDRAWN"]
DecisionOutcome = Literal["DISPATCHED", "DEFERRED", "SUPPRESSED"]
ResponseStatus = Literal[
    "ACCEPTED",
    "SENT",
    "DELIVERED",
    "FAILED",
    "BOUNCED",
    "EXPIRED",
    "READ",
    "CLICKED",
    "REPLIED",
    "CALL_ANSWERED",
    "CALL_NO_ANSWER",
    "CALL_VOICEMAIL",
    "CALL_RIGHT_PARTY",
    "OPTED_OUT",
    # The provider may or may not have the message: a connector crashed before
    # its answer and could not ask; the dispatch is not sent again.
    "OUTCOME_UNKNOWN",
]
AccountStatus = Literal["OPEN", "CURED", "SETTLED", "WRITTEN_OFF", "PAID"]
PromiseStatus = Literal["PENDING", "KEPT", "BROKEN"]
PlanFrequency = Literal["WEEKLY", "FORTNIGHTLY", "MONTHLY"]
DisputeStatus = Literal["OPEN", "UPHELD", "REJECTED", "WITHDRAWN"]


def _utc_millis(value: datetime) -> datetime:
    # Avro timestamp-millis keeps milliseconds: truncating here makes a model
    # equal to itself after a round trip through the wire.
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


Timestamp = Annotated[AwareDatetime, AfterValidator(_utc_millis)]
Money = Annotated[int, AfterValidator(check_amount)]
Currency = Annotated[str, AfterValidator(check_currency)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=256)]

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_JURISDICTION = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


def _check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r} (e.g. America/Bogota)") from exc
    return name


def _check_country(code: str) -> str:
    if not _COUNTRY.match(code):
        raise ValueError(f"country {code!r} is not an ISO-3166 alpha-2 code (e.g. CO, US, BR)")
    return code


def _check_jurisdiction(rule_set: str) -> str:
    if not _JURISDICTION.match(rule_set):
        raise ValueError(f"jurisdiction {rule_set!r} is not a rule-set id (e.g. co_ley_2300)")
    return rule_set


TimeZoneName = Annotated[str, AfterValidator(_check_time_zone)]
CountryCode = Annotated[str, AfterValidator(_check_country)]
RuleSetId = Annotated[str, AfterValidator(_check_jurisdiction)]


def check_address(channel: Channel, address: str) -> str:
    """E.164 for phone channels, a plausible e-mail address for email."""
    if channel == "email":
        if not _EMAIL.match(address):
            raise ValueError("email address is not valid")
    elif not _E164.match(address):
        raise ValueError(f"{channel} address is not an E.164 phone number (+<country><number>)")
    return address


def _relocate(err: ErrorDetails, *prefix: str) -> InitErrorDetails:
    detail: InitErrorDetails = {
        "type": err["type"],
        "loc": (*prefix, *err["loc"]),
        "input": err["input"],
    }
    if "ctx" in err:
        detail["ctx"] = err["ctx"]
    return detail


class AvroRecord(BaseModel):
    """A model that mirrors one Avro record of ``schemas/``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    avro_name: ClassVar[str]

    def to_avro(self) -> dict[str, Any]:
        """The dict fastavro writes (logical types left to fastavro): for the
        reference paths (``Serde.serialize_with_confluent``,
        ``serde.fastavro_body``); recaudo's own outputs are written by
        :mod:`recaudo.kafka.avro_writer` from the attributes."""
        return self.model_dump()

    @classmethod
    def from_avro(cls, record: dict[str, Any]) -> Self:
        return cls.model_validate(record)


class Envelope(AvroRecord):
    """Fields every top-level record carries (CloudEvents id, time, source)."""

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    occurred_at: Timestamp
    source: NonEmpty

    @property
    def ce_type(self) -> str:
        """CloudEvents ``type`` (the ``ce_type`` header)."""
        return f"{NAMESPACE}.{self.avro_name}"


class Event(Envelope):
    """An event about one debtor, keyed by ``debtor_id``."""

    debtor_id: NonEmpty


# --- debt events ---------------------------------------------------------------


class DebtOpened(AvroRecord):
    avro_name = "DebtOpened"
    principal_minor: Money
    currency: Currency
    balance_minor: Money
    product: NonEmpty
    days_past_due: int = Field(default=0, ge=0)
    instalment_minor: Money | None = None
    next_due_date: date | None = None


class InstalmentDue(AvroRecord):
    avro_name = "InstalmentDue"
    instalment_number: int = Field(ge=1)
    amount_minor: Money
    currency: Currency
    due_date: date


class PaymentMissed(AvroRecord):
    avro_name = "PaymentMissed"
    instalment_number: int = Field(ge=1)
    amount_minor: Money
    currency: Currency
    due_date: date


class DaysPastDueUpdated(AvroRecord):
    avro_name = "DaysPastDueUpdated"
    days_past_due: int = Field(ge=0)
    balance_minor: Money
    currency: Currency


class PaymentReceived(AvroRecord):
    avro_name = "PaymentReceived"
    payment_id: NonEmpty
    amount_minor: Money
    currency: Currency
    method: str | None = None

    @field_validator("amount_minor")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value == 0:
            raise ValueError("a payment of 0 is not a payment")
        return value


class PromiseToPay(AvroRecord):
    avro_name = "PromiseToPay"
    promise_id: NonEmpty
    amount_minor: Money
    currency: Currency
    promised_date: date
    channel: str | None = None


class DebtSettled(AvroRecord):
    avro_name = "DebtSettled"
    settled_minor: Money
    currency: Currency


class DebtWrittenOff(AvroRecord):
    avro_name = "DebtWrittenOff"
    balance_minor: Money
    currency: Currency
    reason: NonEmpty


class DisputeOpened(AvroRecord):
    avro_name = "DisputeOpened"
    dispute_id: NonEmpty
    reason: NonEmpty


class DisputeResolved(AvroRecord):
    avro_name = "DisputeResolved"
    dispute_id: NonEmpty
    outcome: DisputeOutcome


class BucketChanged(AvroRecord):
    avro_name = "BucketChanged"
    from_bucket: Bucket
    to_bucket: Bucket
    days_past_due: int = Field(ge=0)


class PromiseBroken(AvroRecord):
    avro_name = "PromiseBroken"
    promise_id: NonEmpty
    amount_minor: Money
    currency: Currency
    promised_date: date


class DebtCured(AvroRecord):
    avro_name = "DebtCured"
    previous_bucket: Bucket


class PaymentPlanAgreed(AvroRecord):
    """Instalment k is kept when the account's payments from the plan's event
    time to the end of its due date reach ``min(k * instalment_minor,
    total_minor)``: the last instalment is what remains."""

    avro_name = "PaymentPlanAgreed"
    plan_id: NonEmpty
    instalment_count: int = Field(ge=1, le=120)
    instalment_minor: Money
    currency: Currency
    first_due_date: date
    frequency: PlanFrequency
    total_minor: Money
    channel: str | None = None
    conversation_id: str | None = None
    dispatch_id: str | None = None

    @model_validator(mode="after")
    def _instalments_cover_total(self) -> Self:
        if self.instalment_minor == 0 or self.total_minor == 0:
            raise ValueError("a plan pays something: instalment_minor and total_minor above 0")
        if self.total_minor > self.instalment_count * self.instalment_minor:
            raise ValueError(
                f"instalment_count x instalment_minor "
                f"({self.instalment_count} x {self.instalment_minor}) must cover total_minor "
                f"({self.total_minor})"
            )
        return self


DebtPayload = (
    DebtOpened
    | InstalmentDue
    | PaymentMissed
    | DaysPastDueUpdated
    | PaymentReceived
    | PromiseToPay
    | DebtSettled
    | DebtWrittenOff
    | DisputeOpened
    | DisputeResolved
    | BucketChanged
    | PromiseBroken
    | DebtCured
    | PaymentPlanAgreed
)

PAYLOAD_BY_TYPE: dict[str, type[AvroRecord]] = {
    "DEBT_OPENED": DebtOpened,
    "INSTALMENT_DUE": InstalmentDue,
    "PAYMENT_MISSED": PaymentMissed,
    "DAYS_PAST_DUE_UPDATED": DaysPastDueUpdated,
    "PAYMENT_RECEIVED": PaymentReceived,
    "PROMISE_TO_PAY": PromiseToPay,
    "DEBT_SETTLED": DebtSettled,
    "DEBT_WRITTEN_OFF": DebtWrittenOff,
    "DISPUTE_OPENED": DisputeOpened,
    "DISPUTE_RESOLVED": DisputeResolved,
    "BUCKET_CHANGED": BucketChanged,
    "PROMISE_BROKEN": PromiseBroken,
    "DEBT_CURED": DebtCured,
    "PAYMENT_PLAN_AGREED": PaymentPlanAgreed,
}
TYPE_BY_PAYLOAD: dict[type[AvroRecord], str] = {v: k for k, v in PAYLOAD_BY_TYPE.items()}
DERIVED_TYPES: frozenset[str] = frozenset({"BUCKET_CHANGED", "PROMISE_BROKEN", "DEBT_CURED"})
#: The debt event types a bank sends; recaudo derives the others itself.
BANK_TYPES: tuple[str, ...] = tuple(t for t in PAYLOAD_BY_TYPE if t not in DERIVED_TYPES)


def unknown_type_message(value: object) -> str:
    """Why ``value`` is not a debt event type, naming only the types a bank sends."""
    close = difflib.get_close_matches(str(value).upper(), BANK_TYPES, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown debt event type {value!r}{hint}: a bank sends one of {', '.join(BANK_TYPES)}"


def derived_type_message(value: str) -> str:
    """Why a bank cannot send the derived type ``value``."""
    return (
        f"{value} is derived by recaudo from the events a bank sends, not sent by a bank: "
        f"send one of {', '.join(BANK_TYPES)}"
    )


class DebtEvent(Event):
    """One thing that happened to one debt. ``payload`` is the record named by ``type``."""

    avro_name = "DebtEvent"
    account_id: NonEmpty
    type: DebtEventType
    payload: DebtPayload

    @model_validator(mode="before")
    @classmethod
    def _payload_from_type(cls, data: Any) -> Any:
        # Avro unions of records decode to plain dicts with no branch name:
        # `type` says which record it is, so validate against that one only.
        if (
            isinstance(data, dict)
            and "type" in data
            and not (isinstance(data["type"], str) and data["type"] in PAYLOAD_BY_TYPE)
        ):
            # Pydantic's own message would offer the derived types to banks too.
            raise ValidationError.from_exception_data(
                cls.__name__,
                [
                    {
                        "type": PydanticCustomError(
                            "debt_event_type", unknown_type_message(data["type"])
                        ),
                        "loc": ("type",),
                        "input": data["type"],
                    }
                ],
            )
        if isinstance(data, dict) and isinstance(data.get("payload"), dict):
            model = PAYLOAD_BY_TYPE.get(str(data.get("type")))
            if model is not None:
                try:
                    payload = model.model_validate(data["payload"])
                except ValidationError as exc:
                    # Re-raise located under "payload", as a nested field would be.
                    raise ValidationError.from_exception_data(
                        cls.__name__,
                        [_relocate(err, "payload") for err in exc.errors()],
                    ) from None
                data = {**data, "payload": payload}
        return data

    @model_validator(mode="after")
    def _payload_matches_type(self) -> Self:
        expected = PAYLOAD_BY_TYPE[self.type]
        if not isinstance(self.payload, expected):
            raise ValueError(
                f"type {self.type} needs a {expected.avro_name} payload, "
                f"got {type(self.payload).__name__}"
            )
        return self

    def to_avro(self) -> dict[str, Any]:
        record = self.model_dump()
        # fastavro takes (branch name, record) for a union: without the name two
        # records with the same fields (PaymentMissed, InstalmentDue) are ambiguous.
        record["payload"] = (f"{NAMESPACE}.{self.payload.avro_name}", record["payload"])
        return record

    @property
    def currency(self) -> str | None:
        return getattr(self.payload, "currency", None)


# --- debtor profile ------------------------------------------------------------


class ContactPoint(AvroRecord):
    avro_name = "ContactPoint"
    channel: Channel
    address: NonEmpty
    consent: bool
    consent_at: Timestamp | None = None
    valid: bool = True

    @model_validator(mode="after")
    def _address_fits_channel(self) -> Self:
        check_address(self.channel, self.address)
        return self


class DebtorFlags(AvroRecord):
    avro_name = "DebtorFlags"
    deceased: bool = False
    bankruptcy: bool = False
    cease_and_desist: bool = False
    vulnerable: bool = False


class DebtorProfile(Event):
    avro_name = "DebtorProfile"
    full_name: str | None = None
    preferred_language: Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]
    time_zone: TimeZoneName
    country: CountryCode
    subdivision: str | None = None
    jurisdiction: RuleSetId
    preferred_channel: Channel | None = None
    risk_segment: str | None = None
    contact_points: list[ContactPoint]
    flags: DebtorFlags = Field(default_factory=DebtorFlags)


# --- orchestration ---------------------------------------------------------------


class RuleHit(AvroRecord):
    avro_name = "RuleHit"
    rule_id: NonEmpty
    reason_code: NonEmpty


LearningArm = Literal["static", "learner", "holdout"]
#: probabilities are logged in billionths: contracts carry no floating point
PPB: Final = 1_000_000_000


class LearningFeature(AvroRecord):
    avro_name = "LearningFeature"
    name: NonEmpty
    #: a category, or a number written exactly (``repr`` of the float)
    value: str
    numeric: bool = False


class LearningChoice(AvroRecord):
    """The learned contact choice's part in one decision: enough to explain
    it, replay it from the model version and learn from its reward."""

    avro_name = "LearningChoice"
    arm: LearningArm
    model_version: str | None = None
    probability_ppb: int | None = Field(default=None, ge=1, le=PPB)
    window: str | None = None
    variant: str | None = None
    actions: list[str] = Field(default_factory=list)
    chosen: int | None = Field(default=None, ge=0)
    tried: list[Channel] = Field(default_factory=list)
    features: list[LearningFeature] = Field(default_factory=list)

    @property
    def probability(self) -> float | None:
        return None if self.probability_ppb is None else self.probability_ppb / PPB

    @model_validator(mode="after")
    def _chosen_is_an_action(self) -> Self:
        if self.chosen is not None and self.chosen >= len(self.actions):
            raise ValueError(
                f"chosen index {self.chosen} is not one of the {len(self.actions)} actions"
            )
        return self


class ContactDecision(Event):
    avro_name = "ContactDecision"
    account_id: str | None = None
    trigger: NonEmpty
    trigger_event_id: uuid.UUID | None = None
    step: int = Field(ge=0)
    channel: Channel | None = None
    outcome: DecisionOutcome
    dispatch_id: str | None = None
    not_before: Timestamp | None = None
    rules_fired: list[RuleHit] = Field(default_factory=list)
    strategy: str | None = None
    arm: str | None = None
    learning: LearningChoice | None = None


class LearnerModel(Envelope):
    """A version of the learner's model (keyed ``model`` on its compacted topic)."""

    avro_name = "LearnerModel"
    model_version: NonEmpty
    model: bytes
    vw_args: NonEmpty
    previous_version: str | None = None
    decisions_learned: int = Field(ge=0)


class LearnerSwitch(Envelope):
    """The learner's runtime switch (keyed ``switch`` on its compacted topic)."""

    avro_name = "LearnerSwitch"
    enabled: bool
    reason: str | None = None


class DispatchCommand(Event):
    avro_name = "DispatchCommand"
    dispatch_id: NonEmpty
    account_id: str | None = None
    channel: Channel
    address: NonEmpty
    template: NonEmpty
    locale: NonEmpty
    subject: str | None = None
    body: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)
    not_before: Timestamp
    expires_at: Timestamp
    trigger: NonEmpty
    step: int = Field(ge=0)
    strategy: str | None = None
    arm: str | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        check_address(self.channel, self.address)
        if self.expires_at <= self.not_before:
            raise ValueError("expires_at must be after not_before")
        return self


class ChannelResponse(Event):
    avro_name = "ChannelResponse"
    dispatch_id: str | None = None
    channel: Channel
    status: ResponseStatus
    provider: NonEmpty
    provider_message_id: str | None = None
    text: str | None = None
    error_code: str | None = None
    error_message: str | None = None


# --- debtor view -------------------------------------------------------------------


class Total(AvroRecord):
    avro_name = "Total"
    currency: Currency
    balance_minor: Money
    overdue_minor: Money


class AccountView(AvroRecord):
    avro_name = "AccountView"
    account_id: str
    product: str | None = None
    status: AccountStatus
    currency: Currency
    balance_minor: Money
    overdue_minor: Money
    days_past_due: int = Field(ge=0)
    bucket: Bucket
    next_due_date: date | None = None
    next_due_minor: Money | None = None
    last_payment_at: Timestamp | None = None
    last_payment_minor: Money | None = None


class PromiseView(AvroRecord):
    avro_name = "PromiseView"
    promise_id: str
    account_id: str
    amount_minor: Money
    currency: Currency
    promised_date: date
    status: PromiseStatus


class DisputeView(AvroRecord):
    avro_name = "DisputeView"
    dispute_id: str
    account_id: str
    status: DisputeStatus
    opened_at: Timestamp


class ChannelView(AvroRecord):
    avro_name = "ChannelView"
    channel: Channel
    address: str | None = None
    consent: bool
    opted_out: bool
    valid: bool
    sent: int = Field(ge=0)
    delivered: int = Field(ge=0)
    read: int = Field(ge=0)
    replied: int = Field(ge=0)
    failed: int = Field(ge=0)
    last_contact_at: Timestamp | None = None
    last_response_at: Timestamp | None = None


class DebtorView(Event):
    avro_name = "DebtorView"
    version: int = Field(ge=0)
    language: str | None = None
    time_zone: str | None = None
    country: str | None = None
    jurisdiction: str | None = None
    risk_segment: str | None = None
    preferred_channel: Channel | None = None
    flags: DebtorFlags = Field(default_factory=DebtorFlags)
    bucket: Bucket
    max_days_past_due: int = Field(ge=0)
    totals: list[Total] = Field(default_factory=list)
    accounts: list[AccountView] = Field(default_factory=list)
    promises: list[PromiseView] = Field(default_factory=list)
    disputes: list[DisputeView] = Field(default_factory=list)
    channels: list[ChannelView] = Field(default_factory=list)
    last_payment_at: Timestamp | None = None
    last_payment_minor: Money | None = None
    last_payment_currency: Currency | None = None


# --- dead letters ------------------------------------------------------------------

DeadLetterErrorType = Literal[
    "DECODE_ERROR", "UNKNOWN_SCHEMA", "VALIDATION_ERROR", "PROCESSING_ERROR"
]


class Header(AvroRecord):
    avro_name = "Header"
    key: str
    value: bytes | None = None


class DeadLetter(Envelope):
    """A message some consumer gave up on; its Kafka key is the original key."""

    avro_name = "DeadLetter"
    consumer_group: str | None = None
    source_topic: str
    source_partition: int
    source_offset: int
    source_timestamp: Timestamp | None = None
    key: bytes | None = None
    value: bytes | None = None
    headers: list[Header] = Field(default_factory=list)
    error_type: DeadLetterErrorType
    error_message: str


# --- KPIs ---------------------------------------------------------------------------

KpiDimension = Literal["ALL", "CHANNEL", "BUCKET", "ARM"]
KpiPeriod = Literal["HOUR", "TOTAL"]
Count = Annotated[int, Field(ge=0)]


class KpiWindow(Envelope):
    """KPI counters of one dimension member over an hour (or the running total);
    keyed ``<dimension>:<member>`` (see ``recaudo.kpis`` for what each counts)."""

    avro_name = "KpiWindow"
    dimension: KpiDimension
    member: NonEmpty
    period: KpiPeriod
    window_start: Timestamp
    window_end: Timestamp | None = None
    revision: Count
    contacts: Count
    calls: Count
    delivered: Count
    failed: Count
    replied: Count
    right_party: Count
    deferred: Count
    suppressed: Count
    promises: Count
    promises_kept: Count
    promises_broken: Count
    payments: Count
    cures: Count
    episodes: Count
    contacted_cures: Count
    contacts_to_cure: Count
    recovered_minor: dict[str, Money] = Field(default_factory=dict)
    suppressions: dict[str, Count] = Field(default_factory=dict)
    messages_read: Count = 0
    messages_understood: Count = 0
    conversations: Count = 0
    conversations_resolved: Count = 0
    conversation_promises: Count = 0
    conversation_plans: Count = 0
    handoffs: Count = 0
    handoff_reasons: dict[str, Count] = Field(default_factory=dict)
    answer_latency_ms: dict[str, Count] = Field(default_factory=dict)


# --- timers ------------------------------------------------------------------------


class Timer(Event):
    """When a debtor next needs the processor without an event (None: never)."""

    avro_name = "Timer"
    due_at: Timestamp | None = None


# --- agent tasks ----------------------------------------------------------------------

AgentTaskReason = Literal[
    "ask_human",
    "hardship",
    "dispute",
    "abusive",
    "unknown",
    "low_confidence",
    "wrong_person",
    "already_paid",
    "other",
]
AgentTaskStatus = Literal["OPEN", "CLOSED"]
AgentTaskPriority = Literal["LOW", "NORMAL", "HIGH", "URGENT"]
TurnDirection = Literal["INBOUND", "OUTBOUND"]


class ConversationTurn(AvroRecord):
    avro_name = "ConversationTurn"
    direction: TurnDirection
    channel: Channel
    text: str | None = None
    intent: str | None = None
    confidence_permille: int | None = Field(default=None, ge=0, le=1000)
    at: Timestamp


class AgentReply(AvroRecord):
    """A person's answer to the debtor, sent by the view worker like an automatic one."""

    avro_name = "AgentReply"
    reply_id: uuid.UUID
    channel: Channel
    text: Annotated[str, Field(min_length=1, max_length=1600)]
    agent: NonEmpty
    at: Timestamp


class AgentTask(Event):
    """A conversation handed to a person; the latest record of a ``task_id`` is its state."""

    avro_name = "AgentTask"
    task_id: NonEmpty
    account_id: str | None = None
    reason: AgentTaskReason
    status: AgentTaskStatus
    priority: AgentTaskPriority
    transcript: list[ConversationTurn] = Field(default_factory=list)
    view_json: str | None = None
    suggested_action: str | None = None
    created_at: Timestamp
    closed_at: Timestamp | None = None
    closed_by: str | None = None
    outcome: str | None = None
    agent_reply: AgentReply | None = None

    @model_validator(mode="after")
    def _closed(self) -> Self:
        if self.status == "CLOSED" and self.closed_at is None:
            raise ValueError("a CLOSED task needs closed_at")
        if self.status == "OPEN" and self.closed_at is not None:
            raise ValueError("an OPEN task has no closed_at")
        return self


#: Top-level model of each record name in ``schemas/``.
RECORD_MODELS: dict[str, type[Envelope]] = {
    m.avro_name: m
    for m in (
        DebtEvent,
        DebtorProfile,
        ContactDecision,
        DispatchCommand,
        ChannelResponse,
        DebtorView,
        DeadLetter,
        KpiWindow,
        Timer,
        AgentTask,
        LearnerModel,
        LearnerSwitch,
    )
}
