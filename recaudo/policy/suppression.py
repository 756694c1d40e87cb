"""Facts about the debtor, the debt or the channel that forbid a contact
however long one waits: a suppression never becomes a deferral.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from recaudo.policy.caps import Cap
from recaudo.policy.model import (
    OPEN_DEBT,
    Candidate,
    Channel,
    DebtStatus,
    PolicyContext,
    RuleHit,
)

VulnerableMode = Literal["suppress", "restrict"]

DEBT_PAID_HIT: Final = RuleHit("suppress.debt_paid", "DEBT_PAID")
DEBT_WRITTEN_OFF_HIT: Final = RuleHit("suppress.debt_written_off", "DEBT_WRITTEN_OFF")
DISPUTE_HIT: Final = RuleHit("suppress.dispute_open", "DISPUTE_OPEN")
OPT_OUT_HIT: Final = RuleHit("suppress.opt_out", "OPTED_OUT")
NO_CONSENT_HIT: Final = RuleHit("suppress.no_consent", "NO_CONSENT")
INVALID_ADDRESS_HIT: Final = RuleHit("suppress.invalid_address", "INVALID_ADDRESS")
DECEASED_HIT: Final = RuleHit("suppress.deceased", "DECEASED")
BANKRUPTCY_HIT: Final = RuleHit("suppress.bankruptcy", "BANKRUPTCY")
CEASE_HIT: Final = RuleHit("suppress.cease_and_desist", "CEASE_AND_DESIST")
VULNERABLE_HIT: Final = RuleHit("suppress.vulnerable", "VULNERABLE")

_STATUS_HIT: Final[dict[DebtStatus, RuleHit]] = {
    "paid": DEBT_PAID_HIT,
    "settled": DEBT_PAID_HIT,
    "written_off": DEBT_WRITTEN_OFF_HIT,
}


@dataclass(frozen=True, slots=True)
class VulnerablePolicy:
    """What a ``vulnerable`` flag does: suppress every contact, or restrict
    them to ``channels`` with the extra ``caps`` on top of the rule set's."""

    mode: VulnerableMode = "restrict"
    channels: frozenset[Channel] = frozenset({"email", "sms", "whatsapp"})
    caps: tuple[Cap, ...] = ()


@dataclass(frozen=True, slots=True)
class SuppressionRules:
    """``statuses``: debt statuses that end contact about that debt
    (paid and settled always; written-off only if listed, since a charged-off
    debt is usually still collected). ``consent_required``: channels that may
    only be used with the debtor's recorded consent."""

    statuses: frozenset[DebtStatus] = frozenset({"paid", "settled"})
    consent_required: frozenset[Channel] = frozenset({"whatsapp"})
    vulnerable: VulnerablePolicy = field(default_factory=VulnerablePolicy)

    def __post_init__(self) -> None:
        if "open" in self.statuses:
            raise ValueError("an open debt cannot be a suppressed status")
        if not {"paid", "settled"} <= self.statuses:
            raise ValueError("paid and settled debts must always be suppressed")


def suppressions(
    ctx: PolicyContext, candidate: Candidate, rules: SuppressionRules
) -> list[RuleHit]:
    """Every suppression that applies, in a fixed order."""
    hits: list[RuleHit] = []
    flags = ctx.flags
    if flags:
        if "deceased" in flags:
            hits.append(DECEASED_HIT)
        if "bankruptcy" in flags:
            hits.append(BANKRUPTCY_HIT)
        if "cease_and_desist" in flags:
            hits.append(CEASE_HIT)
        if "vulnerable" in flags and (
            rules.vulnerable.mode == "suppress"
            or candidate.channel not in rules.vulnerable.channels
        ):
            hits.append(VULNERABLE_HIT)
    debt = ctx.debts.get(candidate.debt_id, OPEN_DEBT)
    if debt.status in rules.statuses:
        hits.append(_STATUS_HIT[debt.status])
    if debt.dispute_open:
        hits.append(DISPUTE_HIT)
    channel = candidate.channel
    if channel in ctx.opted_out:
        hits.append(OPT_OUT_HIT)
    if channel in rules.consent_required and channel not in ctx.consent:
        hits.append(NO_CONSENT_HIT)
    if channel not in ctx.valid_addresses:
        hits.append(INVALID_ADDRESS_HIT)
    return hits
